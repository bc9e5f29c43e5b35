"""One team cannot fill the queue (issue 9, item 4, per-team part): a cap on
the scans a team has queued or running, answered with a clear 429."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from scans import services
from scans.engine.targets import Target
from scans.models import ApiToken, Scan

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(alice, bob):  # type: ignore[no-untyped-def]
    ops = Group.objects.create(name="ops")
    alice.groups.add(ops)
    bob.groups.add(ops)
    return ops


def post_scan(client, user, host: str):  # type: ignore[no-untyped-def]
    return client.post(
        reverse("api-scans"),
        data={"host": host},
        content_type="application/json",
        headers={"Authorization": f"Bearer {ApiToken.issue(user=user)[1]}"},
    )


def test_a_team_at_its_cap_is_refused_by_the_api_until_a_scan_finishes(
    client, alice, bob, charlie, team, settings
):
    settings.CHAINSCAN_TEAM_MAX_UNFINISHED = 2
    assert post_scan(client, alice, "a.team.test").status_code == 202
    assert post_scan(client, bob, "b.team.test").status_code == 202

    refused = post_scan(client, bob, "c.team.test")

    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "team-busy"
    assert "2 scans queued or running" in refused.json()["error"]["message"]
    assert Scan.objects.count() == 2
    # Another team is not affected.
    assert post_scan(client, charlie, "c.team.test").status_code == 202
    # Once one finishes, the team may submit again.
    services.scan_fail(scan_id=Scan.objects.filter(requested_by=alice).get().pk, error="down")
    assert post_scan(client, bob, "c.team.test").status_code == 202


def test_the_form_says_so_when_a_submission_would_pass_the_cap(alice_client, alice, settings):
    settings.CHAINSCAN_TEAM_MAX_UNFINISHED = 3
    services.scan_request(targets=[Target("a.team.test"), Target("b.team.test")], user=alice)

    response = alice_client.post(reverse("home"), {"targets": "c.team.test\nd.team.test"})

    assert response.status_code == 429
    text = response.content.decode()
    assert "Your team has 2 scans queued or running" in text
    assert "the limit is 3" in text
    assert Scan.objects.count() == 2
