"""An unavailable database answers 503 with Retry-After on pages and the API, not 500
(issue 9, item 3; the burst through `make run` is tests/test_db_burst.py)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.contrib.sessions.middleware import SessionMiddleware
from django.db import OperationalError
from django.test import Client
from django.urls import reverse

from scans import api, views
from scans.models import ApiToken

pytestmark = pytest.mark.django_db

FULL = OperationalError("connection failed: FATAL:  sorry, too many clients already")


def test_a_page_gets_a_short_503_page_with_retry_after(alice_client, settings):
    settings.CHAINSCAN_OVERLOAD_RETRY_AFTER = 3
    with mock.patch.object(views, "_home_context", side_effect=FULL, autospec=True):
        response = alice_client.get(reverse("home"))
    assert response.status_code == 503
    assert response["Retry-After"] == "3"
    assert "Busy right now" in response.content.decode()
    assert "Try again in 3 seconds" in response.content.decode()


def test_the_api_gets_a_json_503_with_retry_after(client, alice, settings):
    settings.CHAINSCAN_OVERLOAD_RETRY_AFTER = 2
    key = ApiToken.issue(user=alice)[1]
    with mock.patch.object(api.services, "scan_request", side_effect=FULL, autospec=True):
        response = client.post(
            reverse("api-scans"),
            data='{"host": "example.com"}',
            content_type="application/json",
            headers={"Authorization": f"Bearer {key}"},
        )
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert response.json()["error"]["code"] == "overloaded"


def test_a_database_error_after_the_view_is_a_503_too(settings):
    """The session is saved on the way out, after the view returned: a full
    database there is the same 503, not a 500."""
    settings.CHAINSCAN_OVERLOAD_RETRY_AFTER = 4
    client = Client(raise_request_exception=False)
    with mock.patch.object(SessionMiddleware, "process_response", side_effect=FULL, autospec=True):
        response = client.get(reverse("login"))
    assert response.status_code == 503
    assert response["Retry-After"] == "4"
    assert "Try again in 4 seconds" in response.content.decode()


def test_any_other_error_after_the_view_is_still_a_500():
    client = Client(raise_request_exception=False)
    bug = ValueError("bug")
    with mock.patch.object(SessionMiddleware, "process_response", side_effect=bug, autospec=True):
        response = client.get(reverse("login"))
    assert response.status_code == 500
