"""Operators manage every team's watches in the Django admin, through the same
rules as the overview: interval floor, tags, pause/resume, scan now."""

from __future__ import annotations

import pytest
from django.urls import reverse

from scans.models import Scan, Watch
from tests.factories import watch_for

pytestmark = pytest.mark.django_db


def test_the_admin_lists_every_teams_watches(admin_client, alice, bob):
    watch_for(alice, host="a.example", tags=["prod"])
    watch_for(bob, host="b.example")
    page = admin_client.get(reverse("admin:scans_watch_changelist")).content.decode()
    assert ">a.example<" in page and ">b.example<" in page
    found = admin_client.get(reverse("admin:scans_watch_changelist") + "?q=prod").content.decode()
    assert ">a.example<" in found and ">b.example<" not in found


def test_an_interval_below_the_floor_is_refused_and_a_good_one_saved(admin_client, alice, settings):
    settings.CHAINSCAN_WATCH_MIN_INTERVAL = 300
    watch = watch_for(alice, interval=86400)
    url = reverse("admin:scans_watch_change", args=[watch.pk])
    form = {"interval": "60", "tags": "prod", "note": "", "paused": ""}

    refused = admin_client.post(url, form)
    assert refused.status_code == 200 and "errornote" in refused.content.decode()
    assert Watch.objects.get().interval == 86400

    saved = admin_client.post(url, {**form, "interval": "6h", "tags": "Prod; eu"})
    assert saved.status_code == 302
    watch.refresh_from_db()
    assert watch.interval == 6 * 3600 and watch.tags == ["prod", "eu"]


def test_pause_resume_and_scan_now_act_on_the_selected_watches(admin_client, alice):
    one = watch_for(alice, host="a.example")
    two = watch_for(alice, host="b.example")
    changelist = reverse("admin:scans_watch_changelist")

    admin_client.post(changelist, {"action": "pause", "_selected_action": [one.pk, two.pk]})
    assert set(Watch.objects.values_list("paused", flat=True)) == {True}
    admin_client.post(changelist, {"action": "resume", "_selected_action": [two.pk]})
    assert Watch.objects.get(pk=two.pk).paused is False

    admin_client.post(changelist, {"action": "scan_now", "_selected_action": [one.pk]})
    (scan,) = Scan.objects.all()
    assert scan.watch_id == one.pk and scan.host.hostname == "a.example"


def test_watches_are_not_added_in_the_admin(admin_client):
    assert admin_client.get(reverse("admin:scans_watch_add")).status_code == 403
