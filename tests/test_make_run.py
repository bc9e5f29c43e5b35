"""`make run` on the embedded default: SQLite and a filesystem broker, no Postgres, no Redis.

The README promises a newcomer a dashboard with working background scans from
one command. This runs that command as they would (no DATABASE_URL, no
CELERY_BROKER_URL), submits a scan over HTTP and waits for the worker that
`make run` started to finish it.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from scans.engine.certs import describe, pem_bundle
from tests.processes import make_run, manage, newcomer_env
from tests.tlsserver import TLSServer, mini_pki

ROOT = Path(__file__).resolve().parent.parent
HOST = "make-run.chainscan.test"


def call(url: str, *, token: str, body: dict[str, object] | None = None) -> dict[str, object]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.worker
def test_make_run_serves_the_dashboard_and_finishes_a_scan_without_postgres_or_redis(tmp_path):
    chain = mini_pki(HOST)
    var = tmp_path / "var"
    anchors = tmp_path / "root.pem"
    anchors.write_text(pem_bundle([describe(chain.root)]))
    env = newcomer_env(
        CHAINSCAN_VAR_DIR=str(var),
        CHAINSCAN_TRUST_ANCHORS=str(anchors),
        CHAINSCAN_RESOLVE_OVERRIDES=f"{HOST}=127.0.0.1",
    )
    # The newcomer's scan target here is a loopback server: allowed the way the
    # README says, in a .env file that `make run` reads.
    env_file = tmp_path / ".env"
    env_file.write_text("# local settings\nCHAINSCAN_ALLOW_PRIVATE_ADDRESSES=true\n")
    with (
        TLSServer([chain.leaf, chain.intermediate], chain.leaf_key) as server,
        make_run(
            env, tmp_path / "make-run.log", timeout=120, args=(f"ENV_FILE={env_file}",)
        ) as base,
    ):
        create_user = (
            "from django.contrib.auth.models import User; "
            "User.objects.create_user('newcomer', password='not-a-secret-0')"
        )
        # make run sets DEBUG=true for its own processes; the operator's shell does too.
        dev = {**env, "DEBUG": "true"}
        manage(dev, "shell", "-c", create_user)
        token = manage(dev, "api_token", "newcomer").strip().splitlines()[-1]

        queued = call(f"{base}/api/scans", token=token, body={"host": HOST, "port": server.port})
        deadline = time.monotonic() + 60
        while True:
            scan = call(f"{base}/api/scans/{queued['token']}", token=token)
            if scan["status"] in ("done", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.3)

        assert scan["status"] == "done", scan
        assert scan["verdict"] == "ok", scan
        assert {e["address"] for e in scan["endpoints"]} == {"127.0.0.1"}
        assert (var / "chainscan.sqlite3").exists()
        # Nothing of the broker lands outside the var folder.
        assert not (ROOT / "control").exists()

        # Alert mails land in var/mail, sent by make run's notification worker.
        channel = call(
            f"{base}/api/channels",
            token=token,
            body={"kind": "email", "name": "me", "to": ["newcomer@example.com"]},
        )
        call(f"{base}/api/channels/{channel['id']}/test", token=token, body={})
        deadline = time.monotonic() + 60
        while not list((var / "mail").glob("*.log")) and time.monotonic() < deadline:
            time.sleep(0.3)
        (mail,) = (var / "mail").glob("*.log")
        text = mail.read_text()
        assert "To: newcomer@example.com" in text and "TEST example.com:443" in text
        # A fresh machine's first run is quiet: no root or broker-hostname warnings.
        output = (tmp_path / "make-run.log").read_text()
        assert f"read {env_file}" in output
        assert "superuser privileges" not in output
        assert "No hostname was supplied" not in output
