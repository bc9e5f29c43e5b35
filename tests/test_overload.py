"""An unavailable database answers 503 with Retry-After on pages and the API, not 500
(issue 9, item 3; the burst through `make run` is tests/test_db_burst.py)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import OperationalError
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
