"""Test environment, loaded as a pytest plugin before Django is set up.

Only DATABASE_URL and CELERY_BROKER_URL may come from the caller's environment
(CI or a developer pointing at other services); everything else is fixed here
so the suite never depends on a developer's local configuration.
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/chainscan")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")
_FIXED = {
    "DJANGO_SETTINGS_MODULE": "chainscan.settings",
    "DEBUG": "true",
    "SECRET_KEY": "test-secret-key-not-for-production-0123456789abcdefghijklmnop",
    "ALLOWED_HOSTS": "localhost,127.0.0.1,testserver",
    # The tests' TLS servers live on loopback.
    "CHAINSCAN_ALLOW_PRIVATE_ADDRESSES": "true",
    # …and so do their issuer URLs, on random ports.
    "CHAINSCAN_AIA_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128",
    "CHAINSCAN_AIA_ALLOWED_PORTS": "any",
    "CHAINSCAN_SUBMIT_RATE": "0",
    "CHAINSCAN_REQUIRE_LOGIN": "true",
    "CHAINSCAN_PUBLIC_PERMALINKS": "true",
    "CHAINSCAN_CONNECT_TIMEOUT": "3",
    "CHAINSCAN_HANDSHAKE_TIMEOUT": "3",
    "CHAINSCAN_SCAN_TIMEOUT": "15",
    "CHAINSCAN_AIA_TIMEOUT": "2",
    "CHAINSCAN_VAR_DIR": tempfile.mkdtemp(prefix="chainscan-test-"),
    # A queue of this run's own, so stale messages never reach its worker.
    "CHAINSCAN_QUEUE": f"chainscan-test-{os.getpid()}",
    # Alerts: the notify queue of this run, receivers on loopback, absolute links.
    "CHAINSCAN_NOTIFY_QUEUE": f"chainscan-test-notify-{os.getpid()}",
    "CHAINSCAN_NOTIFY_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128",
    "CHAINSCAN_BASE_URL": "http://chainscan.test",
    "CHAINSCAN_NOTIFY_GROUP_SECONDS": "1",
}
for _name in list(os.environ):
    if _name.startswith("CHAINSCAN_") and _name not in _FIXED:
        del os.environ[_name]
os.environ.update(_FIXED)
