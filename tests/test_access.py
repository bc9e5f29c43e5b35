"""Who sees what: login, teams, permalinks, API tokens.

The cast: alice asks for scans, bob is her teammate (they share the auth
group "ops"), charlie is in no group of theirs and must see nothing of alice's
unless he holds one of her permalinks.
"""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from scans.models import ApiToken, Scan
from tests.factories import HOST, chains, queued_scan, record_scan, team

pytestmark = pytest.mark.django_db

NOT_FOUND = {"error": {"code": "not-found", "message": "no such resource"}}


def signed_in(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def ops(alice, bob):  # type: ignore[no-untyped-def]
    return team("ops", alice, bob)


@pytest.fixture
def alices_scans(alice, ops):  # type: ignore[no-untyped-def]
    """alice's two scans of the host: the broken one, then the fix."""
    return record_scan(chains().served_x1(), user=alice), record_scan(
        chains().served_x3(), user=alice
    )


def api_get(client: Client, url: str, key: str | None = None):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.get(url, headers=headers)


# --- login required (the default) -----------------------------------------------------


def test_signed_out_visitors_are_sent_to_sign_in_for_every_dashboard_page(client, alices_scans):
    broken, fixed = alices_scans
    for url in [
        reverse("home"),
        reverse("check"),
        reverse("host", args=[HOST]),
        reverse("host-latest", args=[HOST]),
        reverse("diff-previous", args=[fixed.token]),
        reverse("diff", args=[fixed.token, broken.token]),
    ]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login") + "?next="), url


def test_signed_out_api_calls_are_refused_with_401(client, alices_scans):
    broken, fixed = alices_scans
    for method, url in [
        ("get", reverse("api-scan", args=[fixed.token])),
        ("get", reverse("api-host-scans", args=[HOST])),
        ("get", reverse("api-diff", args=[fixed.token, broken.token])),
        ("post", reverse("api-scans")),
    ]:
        response = getattr(client, method)(url)
        assert response.status_code == 401, url
        assert response.json()["error"]["code"] == "token-required"
    assert Scan.objects.count() == 2


def test_the_api_description_is_public(client):
    response = client.get(reverse("api-openapi"))
    assert response.status_code == 200 and response.json()["openapi"] == "3.1.0"


# --- permalinks ---------------------------------------------------------------------------


def test_anyone_holding_a_permalink_reads_the_report_and_its_chains(client, alices_scans):
    _, fixed = alices_scans
    report = client.get(reverse("report", args=[fixed.token]))
    assert report.status_code == 200
    assert "Example Authority X3" in report.content.decode()
    assert client.get(reverse("report-live", args=[fixed.token])).status_code == 200
    pem = client.get(reverse("report-pem", args=[fixed.token]) + "?kind=expected")
    assert pem.status_code == 200 and pem.content.startswith(b"-----BEGIN CERTIFICATE-----")


def test_private_permalinks_open_only_for_signed_in_users(client, charlie, alices_scans, settings):
    settings.CHAINSCAN_PUBLIC_PERMALINKS = False
    _, fixed = alices_scans
    urls = [
        reverse("report", args=[fixed.token]),
        reverse("report-live", args=[fixed.token]),
        reverse("report-pem", args=[fixed.token]) + "?kind=served",
    ]
    for url in urls:
        assert client.get(url).status_code == 404, url
        assert signed_in(charlie).get(url).status_code == 200, url


def test_an_unknown_permalink_looks_like_a_hidden_one(client, alices_scans, settings):
    settings.CHAINSCAN_PUBLIC_PERMALINKS = False
    _, fixed = alices_scans
    hidden = client.get(reverse("report", args=[fixed.token]))
    unknown = client.get(reverse("report", args=["z" * 43]))
    assert hidden.status_code == unknown.status_code == 404
    assert fixed.token not in hidden.content.decode()


# --- teams: browsing history ------------------------------------------------------------


def test_bob_reads_alices_host_history_as_her_teammate(bob, alices_scans):
    broken, fixed = alices_scans
    bob_client = signed_in(bob)

    html = bob_client.get(reverse("host", args=[HOST])).content.decode()
    api = bob_client.get(reverse("api-host-scans", args=[HOST])).json()

    assert fixed.token in html and broken.token in html
    assert [s["token"] for s in api["scans"]] == [fixed.token, broken.token]
    latest = bob_client.get(reverse("host-latest", args=[HOST]))
    assert latest["Location"] == reverse("report", args=[fixed.token])
    assert bob_client.get(reverse("diff-previous", args=[fixed.token])).status_code == 200


def test_charlie_cannot_read_alices_host_history(charlie, alices_scans):
    charlie_client = signed_in(charlie)

    page = charlie_client.get(reverse("host", args=[HOST]))
    api = charlie_client.get(reverse("api-host-scans", args=[HOST]))
    unknown_api = charlie_client.get(reverse("api-host-scans", args=["unknown.example"]))

    assert page.status_code == 404
    assert all(s.token not in page.content.decode() for s in alices_scans)
    # Exactly what a host nobody ever scanned looks like.
    assert api.status_code == unknown_api.status_code == 404
    assert api.json() == unknown_api.json() == NOT_FOUND
    assert charlie_client.get(reverse("host-latest", args=[HOST])).status_code == 404


def test_charlie_sees_only_his_own_scans_of_a_host_alice_also_scans(alice, charlie, alices_scans):
    his = record_scan(chains().served_x3(), user=charlie)

    charlie_page = signed_in(charlie).get(reverse("host", args=[HOST])).content.decode()
    alice_page = signed_in(alice).get(reverse("host", args=[HOST])).content.decode()

    assert his.token in charlie_page and "1 scan" in charlie_page
    assert all(s.token not in charlie_page for s in alices_scans)
    assert his.token not in alice_page
    latest = signed_in(charlie).get(reverse("host-latest", args=[HOST]))
    assert latest["Location"] == reverse("report", args=[his.token])


def test_each_team_gets_its_own_change_history_of_a_shared_host(alice, charlie, alices_scans):
    _, fixed = alices_scans
    his = record_scan(chains().served_x1(), user=charlie)
    assert his.change == Scan.Change.FIRST and his.previous is None

    alice_again = record_scan(chains().served_x1(), user=alice)

    # Compared with alice's own last scan (the fix), not with charlie's X1 scan.
    assert alice_again.previous_id == fixed.pk
    assert alice_again.change == Scan.Change.MATERIAL


def test_charlie_holding_alices_permalink_is_not_led_to_her_other_scans(charlie, alices_scans):
    broken, fixed = alices_scans
    charlie_client = signed_in(charlie)

    report = charlie_client.get(reverse("report", args=[fixed.token]))

    assert report.status_code == 200
    assert broken.token not in report.content.decode()
    assert "What changed since the previous scan" not in report.content.decode()
    assert charlie_client.get(reverse("diff-previous", args=[fixed.token])).status_code == 404


def test_alice_is_led_from_her_report_to_the_diff_with_her_previous_scan(alice, alices_scans):
    broken, fixed = alices_scans
    html = signed_in(alice).get(reverse("report", args=[fixed.token])).content.decode()
    assert reverse("diff", args=[fixed.token, broken.token]) in html


def test_holding_both_permalinks_is_enough_to_diff_them(charlie, alices_scans):
    broken, fixed = alices_scans
    charlie_client = signed_in(charlie)
    assert charlie_client.get(reverse("diff", args=[fixed.token, broken.token])).status_code == 200
    api = charlie_client.get(reverse("api-diff", args=[fixed.token, broken.token]))
    assert api.status_code == 200 and api.json()["kind"] == "improvement"


def test_a_superuser_browses_every_teams_history(admin_user, alices_scans):
    html = signed_in(admin_user).get(reverse("host", args=[HOST])).content.decode()
    assert all(s.token in html for s in alices_scans)


def test_charlie_asking_for_a_host_alice_has_queued_gets_a_scan_of_his_own(alice, charlie):
    hers = queued_scan(user=alice)
    his = queued_scan(user=charlie)
    assert his.pk != hers.pk and his.requested_by == charlie
    assert queued_scan(user=charlie).pk == his.pk  # his own double-click is still harmless


# --- API tokens -----------------------------------------------------------------------------


def test_a_signed_in_session_may_read_the_api_but_not_write(alice, alices_scans):
    alice_client = signed_in(alice)
    assert alice_client.get(reverse("api-host-scans", args=[HOST])).status_code == 200

    response = alice_client.post(
        reverse("api-scans"), data={"host": "example.com"}, content_type="application/json"
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token-required"


def test_an_api_token_reads_and_writes_as_its_user(client, alice):
    row, key = ApiToken.issue(user=alice, name="ci")
    response = client.post(
        reverse("api-scans"),
        data={"host": "example.com"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 202
    assert Scan.objects.get(token=response.json()["token"]).requested_by == alice
    row.refresh_from_db()
    assert row.last_used_at is not None


def test_a_wrong_or_revoked_token_is_refused(client, alice, alices_scans):
    row, key = ApiToken.issue(user=alice)
    url = reverse("api-host-scans", args=[HOST])
    assert api_get(client, url, key).status_code == 200

    wrong = api_get(client, url, key + "x")
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    deactivated = api_get(client, url, key)

    assert wrong.status_code == deactivated.status_code == 401
    assert wrong.json()["error"]["code"] == "bad-token"
    row.delete()
    assert api_get(client, url, key).status_code == 401


def test_only_the_hash_of_a_token_is_stored(alice):
    row, key = ApiToken.issue(user=alice)
    stored = ApiToken.objects.filter(pk=row.pk).values().get()
    assert key not in [str(v) for v in stored.values()]
    assert stored["key_hash"] == ApiToken.hash_key(key)


def test_an_admin_creates_a_token_and_sees_it_once(admin_client, alice, alices_scans):
    response = admin_client.post(
        reverse("admin:scans_apitoken_add"), {"user": alice.pk, "name": "deploy bot"}, follow=True
    )

    html = response.content.decode()
    keys = re.findall(r"cs_[A-Za-z0-9_-]{43}", html)
    assert len(set(keys)) == 1, html
    (key,) = set(keys)
    row = ApiToken.objects.get()
    assert (row.user, row.name, row.key_hash) == (alice, "deploy bot", ApiToken.hash_key(key))
    # It works, as alice.
    assert api_get(Client(), reverse("api-host-scans", args=[HOST]), key).status_code == 200
    # And it is never shown again.
    change = admin_client.get(reverse("admin:scans_apitoken_change", args=[row.pk]))
    listing = admin_client.get(reverse("admin:scans_apitoken_changelist"))
    assert key not in change.content.decode() and key not in listing.content.decode()
    assert row.prefix in listing.content.decode()


def test_manage_py_api_token_prints_a_working_token(alice, alices_scans, capsys):
    call_command("api_token", "alice", "--name", "laptop")
    key = capsys.readouterr().out.strip()
    assert api_get(Client(), reverse("api-host-scans", args=[HOST]), key).status_code == 200


# --- login not required -----------------------------------------------------------------------


def test_without_required_login_the_dashboard_and_api_are_open(client, alices_scans, settings):
    settings.CHAINSCAN_REQUIRE_LOGIN = False
    _, fixed = alices_scans

    assert client.get(reverse("host", args=[HOST])).status_code == 200
    assert client.get(reverse("diff-previous", args=[fixed.token])).status_code == 200
    history = client.get(reverse("api-host-scans", args=[HOST])).json()
    assert history["count"] == 2
    created = client.post(
        reverse("api-scans"), data={"host": "example.com"}, content_type="application/json"
    )
    assert created.status_code == 202
    assert Scan.objects.get(token=created.json()["token"]).requested_by is None
