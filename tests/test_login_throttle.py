"""Password guessing is throttled per account and per client address (issue 9, item 8).

Both sign-in pages, the dashboard's and the admin's, count failures in the
shared cache; after the limit even the right password is refused, with a
message saying when to try again, until the cool-off has passed.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.core.cache import cache

pytestmark = pytest.mark.django_db

LIMIT = 5
PAGES = ["/login", "/admin/login/"]
HOME = "198.51.100.10"
ELSEWHERE = "198.51.100.20"


@pytest.fixture(autouse=True)
def throttled(settings, alice, bob):  # type: ignore[no-untyped-def]
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=15)
    # The admin's page only signs in staff.
    for user in (alice, bob):
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    cache.clear()
    yield
    cache.clear()


def sign_in(client, page: str, username: str, password: str, address: str = HOME):  # type: ignore[no-untyped-def]
    client.logout()
    return client.post(
        page, {"username": username, "password": password, "next": "/"}, REMOTE_ADDR=address
    )


def signed_in(response) -> bool:  # type: ignore[no-untyped-def]
    return response.status_code == 302 and "login" not in response["Location"]


@pytest.mark.parametrize("page", PAGES)
def test_after_the_limit_the_right_password_is_refused_with_when_to_retry(client, page):
    for _ in range(LIMIT):
        assert not signed_in(sign_in(client, page, "alice", "wrong-password"))

    response = sign_in(client, page, "alice", "alice-pw-123")

    assert response.status_code == 429
    text = response.content.decode()
    assert "Too many failed sign-in attempts" in text
    assert "15 minutes" in text
    assert int(response["Retry-After"]) == 15 * 60
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("page", PAGES)
def test_the_right_password_still_works_below_the_limit(client, page):
    for _ in range(LIMIT - 1):
        sign_in(client, page, "alice", "wrong-password")
    assert signed_in(sign_in(client, page, "alice", "alice-pw-123"))


def test_a_locked_account_does_not_lock_another_account_from_another_address(client):
    for _ in range(LIMIT):
        sign_in(client, "/login", "alice", "wrong-password", address=HOME)

    assert signed_in(sign_in(client, "/login", "bob", "bob-pw-123", address=ELSEWHERE))
    # The account itself stays locked whatever address the guesses move to.
    assert sign_in(client, "/login", "alice", "alice-pw-123", address=ELSEWHERE).status_code == 429


def test_guessing_across_many_accounts_locks_the_address(client):
    for number in range(LIMIT):
        sign_in(client, "/admin/login/", f"user{number}", "wrong-password", address=HOME)

    assert sign_in(client, "/login", "bob", "bob-pw-123", address=HOME).status_code == 429
    assert signed_in(sign_in(client, "/login", "bob", "bob-pw-123", address=ELSEWHERE))


def test_the_lockout_ends_after_the_cool_off(client, settings):
    settings.AXES_COOLOFF_TIME = dt.timedelta(seconds=1)
    for _ in range(LIMIT):
        sign_in(client, "/login", "alice", "wrong-password")
    assert sign_in(client, "/login", "alice", "alice-pw-123").status_code == 429

    time.sleep(2.1)  # the cache entries expire with the cool-off

    assert signed_in(sign_in(client, "/login", "alice", "alice-pw-123"))
