"""API tokens (issue 9, item 9): who may mint one for whom, expiry, a read-only
scope, last use, and the secret shown once on a page (never in a cookie)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from scans.models import ApiToken, Scan

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(django_user_model):  # type: ignore[no-untyped-def]
    return django_user_model.objects.create_superuser("root", password="root-pw-123")


@pytest.fixture
def mallory(django_user_model):  # type: ignore[no-untyped-def]
    """Staff with nothing but the permissions to see and add API tokens."""
    user = django_user_model.objects.create_user("mallory", password="mallory-pw-123")
    user.is_staff = True
    user.save()
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["add_apitoken", "view_apitoken"])
    )
    return user


def admin_add(client, user, **fields):  # type: ignore[no-untyped-def]
    data = {"user": user.pk, "name": "ci", "expires_at_0": "", "expires_at_1": ""}
    data.update(fields)
    return client.post(reverse("admin:scans_apitoken_add"), data)


def api(client, method: str, url: str, key: str, body=None):  # type: ignore[no-untyped-def]
    return getattr(client, method)(
        url,
        data=json.dumps(body) if body is not None else None,
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )


# --- Who may mint a token for whom -------------------------------------------------


def test_staff_with_the_add_permission_cannot_mint_a_token_for_a_superuser(client, mallory, root):
    client.force_login(mallory)
    response = admin_add(client, root)

    assert response.status_code == 200  # the form again, with the error
    assert "Only superusers may create tokens for another user" in response.content.decode()
    assert not ApiToken.objects.filter(user=root).exists()


def test_staff_with_the_add_permission_may_mint_their_own_token(client, mallory):
    client.force_login(mallory)
    response = admin_add(client, mallory)

    assert response.status_code == 200
    assert ApiToken.objects.filter(user=mallory).count() == 1


def test_staff_sees_only_their_own_tokens_in_the_admin(client, mallory, root):
    ApiToken.issue(user=root, name="root-automation")
    client.force_login(mallory)
    listing = client.get(reverse("admin:scans_apitoken_changelist")).content.decode()
    assert "root-automation" not in listing


def test_a_superuser_mints_a_token_for_someone_else_and_sees_it_once_on_a_page(client, root, alice):
    client.force_login(root)
    response = admin_add(client, alice, read_only="on")

    row = ApiToken.objects.get(user=alice)
    page = response.content.decode()
    key = page.split('id="api-token-secret">', 1)[1].split("<", 1)[0]
    assert ApiToken.hash_key(key) == row.key_hash
    assert row.read_only
    # Not carried in the messages cookie, not cached by the browser.
    assert "messages" not in response.cookies
    assert "no-store" in response["Cache-Control"]
    # Never shown again: the change page has the prefix only.
    again = client.get(reverse("admin:scans_apitoken_change", args=[row.pk])).content.decode()
    assert key not in again


# --- Expiry, scope, last use -------------------------------------------------------


def test_an_expired_token_is_rejected(client, alice):
    _, key = ApiToken.issue(user=alice, expires_at=timezone.now() + dt.timedelta(days=1))
    assert api(client, "get", reverse("api-openapi"), key).status_code == 200
    assert api(client, "post", reverse("api-scans"), key, {"host": "a.example"}).status_code == 202

    with time_machine.travel(timezone.now() + dt.timedelta(days=2)):
        response = api(client, "post", reverse("api-scans"), key, {"host": "b.example"})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token-expired"
    assert Scan.objects.count() == 1


def test_a_read_only_token_reads_but_cannot_write(client, alice):
    _, writer = ApiToken.issue(user=alice)
    _, reader = ApiToken.issue(user=alice, read_only=True)
    token = api(client, "post", reverse("api-scans"), writer, {"host": "a.example"}).json()["token"]

    assert api(client, "get", reverse("api-scan", args=[token]), reader).status_code == 200
    response = api(client, "post", reverse("api-scans"), reader, {"host": "b.example"})
    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "read-only-token",
        "message": "this API token is read-only: it may GET but not change anything",
    }
    assert Scan.objects.count() == 1


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_a_read_only_token_is_refused_every_method_that_changes_something(alice, rf, method):
    """Whatever endpoint accepts the method (watches, channels…), through api_view."""
    from django.http import JsonResponse

    from scans.api import api_view

    changed = []

    @api_view(methods=("GET", "POST", "PUT", "PATCH", "DELETE"), write=True)
    def endpoint(request):  # type: ignore[no-untyped-def]
        changed.append(request.method)
        return JsonResponse({})

    _, reader = ApiToken.issue(user=alice, read_only=True)
    headers = {"Authorization": f"Bearer {reader}"}
    assert endpoint(rf.get("/api/x", headers=headers)).status_code == 200
    response = endpoint(getattr(rf, method)("/api/x", headers=headers))
    assert response.status_code == 403
    assert json.loads(response.content)["error"]["code"] == "read-only-token"
    assert changed == ["GET"]


def test_last_use_is_recorded_at_most_once_a_minute(client, alice):
    row, key = ApiToken.issue(user=alice)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        api(client, "get", reverse("api-openapi"), key)
        api(client, "get", reverse("api-scan", args=["x" * 43]), key)
    row.refresh_from_db()
    assert row.last_used_at == start
    with time_machine.travel(start + dt.timedelta(seconds=30), tick=False):
        api(client, "get", reverse("api-scan", args=["x" * 43]), key)
    row.refresh_from_db()
    assert row.last_used_at == start
    with time_machine.travel(start + dt.timedelta(seconds=90), tick=False):
        api(client, "get", reverse("api-scan", args=["x" * 43]), key)
    row.refresh_from_db()
    assert row.last_used_at == start + dt.timedelta(seconds=90)


# --- The user's own token page -----------------------------------------------------


def test_a_user_creates_a_token_on_their_page_and_sees_it_once(alice_client, alice):
    response = alice_client.post(
        reverse("tokens"), {"action": "create", "name": "laptop", "expires_in_days": "30"}
    )

    assert response.status_code == 200
    row = ApiToken.objects.get(user=alice)
    key = response.content.decode().split('id="api-token-secret">', 1)[1].split("<", 1)[0]
    assert ApiToken.hash_key(key) == row.key_hash
    assert row.expires_at is not None
    assert dt.timedelta(days=29) < row.expires_at - timezone.now() <= dt.timedelta(days=30)
    assert "messages" not in response.cookies
    assert "no-store" in response["Cache-Control"]
    listing = alice_client.get(reverse("tokens")).content.decode()
    assert "laptop" in listing and key not in listing


def test_a_user_revokes_their_token_and_it_stops_working(alice_client, alice, client):
    row, key = ApiToken.issue(user=alice, name="old")
    response = alice_client.post(reverse("tokens"), {"action": "revoke", "token": row.pk})

    assert response.status_code == 302
    assert not ApiToken.objects.filter(pk=row.pk).exists()
    assert api(client, "get", reverse("api-openapi"), key).status_code == 200  # public
    assert api(client, "get", reverse("api-scan", args=["x" * 43]), key).status_code == 401


def test_a_user_cannot_revoke_someone_elses_token(alice_client, bob):
    row, _ = ApiToken.issue(user=bob)
    response = alice_client.post(reverse("tokens"), {"action": "revoke", "token": row.pk})
    assert response.status_code == 404
    assert ApiToken.objects.filter(pk=row.pk).exists()


def test_the_token_page_needs_a_signed_in_user(client):
    response = client.get(reverse("tokens"))
    assert response.status_code == 302
    assert "/login" in response["Location"]


def test_the_management_command_issues_a_read_only_expiring_token(alice):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("api_token", "alice", "--read-only", "--expires-days", "7", stdout=out)
    row = ApiToken.objects.get(key_hash=ApiToken.hash_key(out.getvalue().strip()))
    assert row.read_only and row.expires_at is not None


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_in_the_browser_a_user_makes_a_token_sees_it_once_and_revokes_it(page, live_server, alice):
    from tests.browser import sign_in

    sign_in(page, live_server, "alice", "alice-pw-123")
    page.click("text=API tokens")
    page.fill("#id_name", "ci-pipeline")
    page.select_option("#id_expires_in_days", "30")
    page.check("#id_read_only")
    page.click("text=Create token")

    key = page.inner_text("#api-token-secret")
    assert ApiToken.objects.get(name="ci-pipeline").key_hash == ApiToken.hash_key(key)
    page.goto(f"{live_server.url}{reverse('tokens')}")
    assert key not in page.content()
    assert "read-only" in page.inner_text("table.tokens")

    page.click("table.tokens >> text=Revoke")
    page.wait_for_selector("text=No tokens yet.")
    assert not ApiToken.objects.exists()
