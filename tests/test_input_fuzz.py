"""Arbitrary text from people: the API and the CLI answer with a scan or a clear error, never a crash.

(The form has the same property test in tests/test_home.py; target parsing in
tests/engine/test_targets.py.)
"""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scans.engine.cli import main
from scans.models import ApiToken

FUZZ = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=80),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)


@pytest.fixture
def api(client, alice):  # type: ignore[no-untyped-def]
    _, key = ApiToken.issue(user=alice)
    return lambda body: client.post(
        reverse("api-scans"),
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )


@pytest.mark.django_db
@FUZZ
@given(host=st.text(max_size=300), port=json_values, ip=json_values)
def test_any_api_body_gives_202_or_a_json_error(api, host, port, ip):
    response = api(json.dumps({"host": host, "port": port, "ip": ip}))
    assert response.status_code in (202, 400)
    body = response.json()
    if response.status_code == 400:
        assert set(body["error"]) == {"code", "message"} and body["error"]["message"]
    else:
        assert body["status"] in ("queued", "running", "done", "failed")


@pytest.mark.django_db
@FUZZ
@given(raw=st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_any_request_body_bytes_give_a_json_error_not_a_crash(api, raw):
    response = api(raw)
    assert response.status_code in (202, 400)
    assert "error" in response.json() or response.status_code == 202


@FUZZ
@given(target=st.text(max_size=200).filter(lambda t: not t.startswith("-")))
def test_any_cli_target_exits_with_a_status_and_never_raises(target, capsys):
    # The loopback/private policy is on (no --allow-private) and the resolver
    # may be asked: keep the network out by pinning a blocked address.
    code = main(["scan", target, "--ip", "127.0.0.1", "--no-aia"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out or err
