"""chainscan settings, read from the environment.

Defaults work on a laptop (SQLite, a filesystem broker so no Redis is needed),
except DEBUG: it is off unless asked for (`make run` and the tests set
DEBUG=true), so a forgotten variable never serves debug pages with the
published development key. Production sets SECRET_KEY, ALLOWED_HOSTS,
DATABASE_URL and CELERY_BROKER_URL; `.env.example` lists every variable. Parsing is strict:
`DEBUG=ture` raises ImproperlyConfigured instead of silently meaning False.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_str(name: str, default: str | None = None) -> str | None:
    """Read a variable; ``NAME_FILE`` (Docker/compose secrets) wins if set."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_path!r} cannot be read: {exc}") from None
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = env_str(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use true or false")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = env_str(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}")
    return value


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = env_str(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number") from None
    if value <= minimum:
        raise ImproperlyConfigured(f"{name}={value} must be greater than {minimum:g}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = env_str(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = (env_str(name) or default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of: {', '.join(choices)}")
    return value


def env_rate(name: str, default: str) -> tuple[int, int]:
    """Parse ``120/m`` into (count, seconds); ``0`` turns the limit off (0, 0)."""
    raw = (env_str(name) or default).strip().lower()
    if raw in ("0", "off", ""):
        return (0, 0)
    match = re.fullmatch(r"(\d+)\s*/\s*(s|m|h|d)", raw)
    if not match:
        raise ImproperlyConfigured(f"{name}={raw!r} must look like 120/m (per s, m, h or d) or 0")
    return int(match.group(1)), {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


def env_networks(name: str) -> list[str]:
    """A comma-separated list of CIDRs (a bare address is a /32 or /128)."""
    values = env_list(name, [])
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: {value!r} is not a network (e.g. 172.16.0.0/12)"
            ) from None
    return values


# --- Core --------------------------------------------------------------------

# Off by default: debug pages print settings (broker URLs) and the development
# key below is public. `make run` turns it on explicitly.
DEBUG = env_bool("DEBUG", False)
_DEV_SECRET = "django-insecure-chainscan-development-key-never-use-in-production"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY") or ""
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is false (set SECRET_KEY or SECRET_KEY_FILE; "
            "on a development laptop set DEBUG=true, as `make run` does)"
        )
    SECRET_KEY = _DEV_SECRET
elif SECRET_KEY == _DEV_SECRET and not DEBUG:
    raise ImproperlyConfigured("the development SECRET_KEY must not be used with DEBUG=false")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "scans",
]

MIDDLEWARE = [
    # First: forwarded headers from anyone but CHAINSCAN_TRUSTED_PROXIES are dropped.
    "scans.middleware.TrustedProxyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "scans.middleware.ContentSecurityPolicyMiddleware",
    # Postgres full or busy: 503 + Retry-After instead of a 500.
    "scans.middleware.DatabaseOverloadMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # A pruned permalink (CHAINSCAN_KEEP_UNCHANGED_DAYS) answers 410, not 404.
    "scans.middleware.PrunedScanMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into its page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "chainscan.urls"
WSGI_APPLICATION = "chainscan.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "scans.context.chainscan",
            ],
        },
    },
]

# --- Database ----------------------------------------------------------------

VAR_DIR = Path(env_str("CHAINSCAN_VAR_DIR") or BASE_DIR / "var")
_default_db = f"sqlite:///{VAR_DIR / 'chainscan.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or _default_db,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default: its folder must exist before SQLite can create the file.
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Web and worker write to one file: wait for the lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update({"timeout": 30, "transaction_mode": "IMMEDIATE"})
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool(
    "DATABASE_PREPARED_STATEMENTS", True
):
    # Parameters bound by the server, and statements run more than once per
    # connection prepared (the worker runs the same dozen for every scan):
    # Postgres skips parsing and planning them, about a third of its CPU per
    # scan (bench/bench_load.py). Turn off behind a pooler that cannot keep
    # prepared statements (PgBouncer in transaction mode before 1.21).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"server_side_binding": True, "prepare_threshold": 2}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth, i18n, static ------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sign-in throttling (django-axes): AxesStandaloneBackend refuses a locked-out
# account or address before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT") or BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Security (production) ---------------------------------------------------

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)
if BEHIND_TLS_PROXY:
    # The reverse proxy terminates TLS and says so in this header.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How many reverse proxies in front of the app append the address they saw to
# X-Forwarded-For. The client is that many entries from the right; anything
# further left was written by the client and is not believed. With 0, the
# client is REMOTE_ADDR. Rate limits and "requested from" use this address.
CHAINSCAN_PROXY_HOPS = env_int("CHAINSCAN_PROXY_HOPS", 1 if BEHIND_TLS_PROXY else 0, minimum=0)
# The addresses (CIDRs) the reverse proxy connects from. X-Forwarded-For and
# X-Forwarded-Proto are believed only when the immediate peer (REMOTE_ADDR) is
# in one of them (scans.middleware.TrustedProxyMiddleware); anyone reaching the
# app's port directly is taken at its word for nothing. Empty: nobody is
# trusted (system check chainscan.W003 warns behind a TLS proxy).
CHAINSCAN_TRUSTED_PROXIES = env_networks("CHAINSCAN_TRUSTED_PROXIES")
# The health check comes over plain HTTP from inside the container.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Celery ------------------------------------------------------------------

_broker = env_str("CELERY_BROKER_URL") or ""
if _broker:
    CELERY_BROKER_URL = _broker
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        # A worker that dies (SIGKILL, OOM) leaves its messages unacknowledged;
        # kombu puts those older than the visibility timeout back in the queue
        # when a worker starts and on a periodic sweep, by default every
        # 10 s x 10 = ~100 s. Sweep every 10 s: a killed scan comes back at most
        # 10 s after its visibility timeout (three cheap Redis calls a sweep).
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1,
    }
else:
    # No Redis on a first run: kombu's filesystem transport passes messages
    # through a folder, and a real `celery worker` consumes them.
    _queue_dir = VAR_DIR / "broker"
    _queue_dir.mkdir(parents=True, exist_ok=True)
    (VAR_DIR / "broker-processed").mkdir(parents=True, exist_ok=True)
    # The folder transport has no host, but kombu warns "No hostname was
    # supplied" for every connection without one: name the one it defaults to.
    CELERY_BROKER_URL = "filesystem://localhost/"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(VAR_DIR / "broker-processed"),
        "store_processed": False,
        # Fan-out bindings (remote control, `celery inspect`); kombu's default
        # is ./control, wherever the process happens to start.
        "control_folder": str(VAR_DIR / "broker-control"),
    }

CHAINSCAN_SCAN_TIMEOUT = env_float("CHAINSCAN_SCAN_TIMEOUT", 30.0)
# The hard limit must leave the engine's own scan budget room to finish and
# persist; the soft limit marks the scan failed cleanly before the hard kill.
# Celery enforces neither in the threads pool (celery/celery#9203): there, the
# engine's budget and per-operation timeouts bound a scan, and the hard limit
# is the claim's lease (scans.services.scan_claim) and the stuck-scan
# sweeper's clock (scans_fail_stuck). The prefork pool enforces both.
CELERY_TASK_SOFT_TIME_LIMIT = env_int(
    "CHAINSCAN_TASK_SOFT_TIME_LIMIT", int(CHAINSCAN_SCAN_TIMEOUT) + 30, minimum=1
)
CELERY_TASK_TIME_LIMIT = env_int(
    "CHAINSCAN_TASK_TIME_LIMIT", CELERY_TASK_SOFT_TIME_LIMIT + 30, minimum=2
)
if CELERY_TASK_TIME_LIMIT <= CELERY_TASK_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured(
        "CHAINSCAN_TASK_TIME_LIMIT must exceed CHAINSCAN_TASK_SOFT_TIME_LIMIT"
    )
# Redelivery after a lost worker waits for the visibility timeout; keep it
# above the hard limit so a live, slow task is never delivered twice.
CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] = env_int(
    "CHAINSCAN_VISIBILITY_TIMEOUT", CELERY_TASK_TIME_LIMIT * 2, minimum=1
)
if int(str(CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"])) <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured("CHAINSCAN_VISIBILITY_TIMEOUT must exceed the task time limit")
# A scan's task retries only database errors, with exponential backoff (2 s,
# 4 s, … capped at this many seconds); once the retries are spent the scan
# fails at once with the reason.
CHAINSCAN_TASK_MAX_RETRIES = env_int("CHAINSCAN_TASK_MAX_RETRIES", 5, minimum=0)
CHAINSCAN_TASK_RETRY_BACKOFF_MAX = env_int("CHAINSCAN_TASK_RETRY_BACKOFF_MAX", 60, minimum=1)
# A scan still queued after this many seconds is failed by the sweeper (no
# worker running, or its message lost with Redis' data).
CHAINSCAN_QUEUED_TIMEOUT = env_int("CHAINSCAN_QUEUED_TIMEOUT", 6 * 3600, minimum=60)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Scans wait on the network, not the CPU: a thread pool lets one worker
# process hold many handshakes in flight. Sixteen keep one core busy at up to
# ~300 ms per scan; more threads only fight over the GIL once the CPU is the
# limit (bench/bench_load.py: 32 threads cost ~15% more CPU per scan). Raise
# it when many scanned hosts time out (see README, "Throughput").
CELERY_WORKER_POOL = env_choice("CHAINSCAN_WORKER_POOL", "threads", ("threads", "prefork", "solo"))
CELERY_WORKER_CONCURRENCY = env_int("CHAINSCAN_WORKER_CONCURRENCY", 16, minimum=1)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Database connections: bounded in every process --------------------------
# With Postgres, each process (a gunicorn worker, `make run`'s runserver, a
# Celery worker) draws its connections from one psycopg pool of at most
# DATABASE_POOL_MAX_SIZE. Without it, runserver (a thread per request) kept a
# persistent connection per request thread: a burst of 1,000 API submissions
# from 16 clients left Postgres with "too many clients" and 455 answers were
# 500s (tests/test_db_burst.py, bench/bench_burst.py). A request that waits
# DATABASE_POOL_TIMEOUT seconds for a connection, or finds Postgres full, is
# answered 503 with Retry-After (scans.middleware.DatabaseOverloadMiddleware).
# The pool replaces persistent connections (Django requires CONN_MAX_AGE=0
# with it): a connection goes back to the pool at the end of each request or
# task, still open, so the ~10 ms of opening one is paid once, as before.
# Prepared statements (DATABASE_PREPARED_STATEMENTS) live on the server
# connection, which the pool keeps: they keep paying off. An external pooler
# in transaction mode is what breaks them; behind one, set DATABASE_POOL=false
# (persistent connections, DATABASE_CONN_MAX_AGE) and prepared statements off.
# Sizing (README, "Database connections"): web processes x threads + worker
# processes x concurrency + beat must stay below Postgres' max_connections.
DATABASE_POOL = env_bool("DATABASE_POOL", True)
DATABASE_POOL_MAX_SIZE = env_int(
    "DATABASE_POOL_MAX_SIZE", CELERY_WORKER_CONCURRENCY, minimum=1
)  # a worker needs one per thread; a web process opens only what it uses at once
DATABASE_POOL_TIMEOUT = env_float("DATABASE_POOL_TIMEOUT", 10.0)
CHAINSCAN_OVERLOAD_RETRY_AFTER = env_int("CHAINSCAN_OVERLOAD_RETRY_AFTER", 2, minimum=1)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and not DATABASE_POOL:
    if "runserver" in sys.argv:
        # runserver serves each request on a new thread: a persistent
        # connection would be left open by every thread (the burst above).
        DATABASES["default"]["CONN_MAX_AGE"] = 0
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DATABASE_POOL_MAX_SIZE,
        "timeout": DATABASE_POOL_TIMEOUT,
        # Django adds check=ConnectionPool.check_connection (CONN_HEALTH_CHECKS
        # is on): after a Postgres restart a dead connection is replaced on
        # checkout instead of failing the request.
    }
# Celery's Django fix-up closes the database connection before and after every
# task unless this is set; reconnecting to Postgres costs ~10 ms of CPU, more
# than a scan's queries. scans.tasks checks the connection before each task
# instead (CONN_MAX_AGE and CONN_HEALTH_CHECKS, as for a web request; with
# the pool below, closing hands the connection back, still open). Each
# worker thread holds at most one connection: Postgres' max_connections must
# cover workers x concurrency + web processes (README, "Database connections").
CELERY_DB_REUSE_MAX = 1000
# Tests give each run its own queue so stale messages never reach them.
CELERY_TASK_DEFAULT_QUEUE = env_str("CHAINSCAN_QUEUE") or "celery"
CELERY_BEAT_SCHEDULE = {
    "fail-stuck-scans": {
        "task": "scans.tasks.fail_stuck_scans",
        "schedule": 60.0,
        # A beat message older than its period is pointless; drop it.
        "options": {"expires": 55},
    },
    "flush-outbox": {
        "task": "scans.tasks.flush_outbox",
        "schedule": 30.0,
        "options": {"expires": 25},
    },
    # Routine rescans older than CHAINSCAN_KEEP_UNCHANGED_DAYS (does nothing at 0).
    "prune-unchanged-scans": {
        "task": "scans.tasks.prune_unchanged_scans",
        "schedule": 3600.0,
        "options": {"expires": 3500},
    },
}

# --- chainscan ---------------------------------------------------------------

CHAINSCAN_ALLOW_PRIVATE_ADDRESSES = env_bool("CHAINSCAN_ALLOW_PRIVATE_ADDRESSES", False)
CHAINSCAN_ALLOWED_NETWORKS = env_networks("CHAINSCAN_ALLOWED_NETWORKS")


def _resolve_overrides(raw: str) -> dict[str, list[str]]:
    """``name=ip[|ip…];name2=ip`` — pin names to addresses, like curl --resolve.

    ``*.example.test=ip`` answers for every name below example.test (the
    exact names listed win over it).
    """
    table: dict[str, list[str]] = {}
    for entry in filter(None, (e.strip() for e in raw.split(";"))):
        name, _, addresses = entry.partition("=")
        if "*" in name and not re.fullmatch(r"\*\.[^*]+", name.strip()):
            raise ImproperlyConfigured(
                f"CHAINSCAN_RESOLVE_OVERRIDES: {entry!r}: a wildcard is only allowed as the "
                "whole first label, as in *.example.test=192.0.2.1"
            )
        ips = [a.strip() for a in addresses.split("|") if a.strip()]
        try:
            for ip in ips:
                ipaddress.ip_address(ip)
        except ValueError:
            raise ImproperlyConfigured(
                f"CHAINSCAN_RESOLVE_OVERRIDES: {entry!r} must look like name=192.0.2.1|2001:db8::1"
            ) from None
        if not name.strip() or not ips:
            raise ImproperlyConfigured(f"CHAINSCAN_RESOLVE_OVERRIDES: {entry!r} is incomplete")
        table[name.strip().lower()] = ips
    return table


# Addresses to use for some names instead of DNS (split-horizon set-ups, and
# the test suite's multi-address hosts). The address policy still applies.
CHAINSCAN_RESOLVE_OVERRIDES = _resolve_overrides(env_str("CHAINSCAN_RESOLVE_OVERRIDES") or "")
CHAINSCAN_DNS_TIMEOUT = env_float("CHAINSCAN_DNS_TIMEOUT", 5.0, minimum=0.1)
CHAINSCAN_CONNECT_TIMEOUT = env_float("CHAINSCAN_CONNECT_TIMEOUT", 5.0)
CHAINSCAN_HANDSHAKE_TIMEOUT = env_float("CHAINSCAN_HANDSHAKE_TIMEOUT", 10.0)
# One HEAD / after the handshake to read the Server header (which fix to show).
CHAINSCAN_DETECT_SERVER = env_bool("CHAINSCAN_DETECT_SERVER", True)
CHAINSCAN_SERVER_TIMEOUT = env_float("CHAINSCAN_SERVER_TIMEOUT", 2.0)
CHAINSCAN_SERVER_MAX_BYTES = env_int("CHAINSCAN_SERVER_MAX_BYTES", 8192, minimum=256)
CHAINSCAN_SCAN_PARALLELISM = env_int("CHAINSCAN_SCAN_PARALLELISM", 8, minimum=1)
CHAINSCAN_MAX_ADDRESSES = env_int("CHAINSCAN_MAX_ADDRESSES", 16, minimum=1)
CHAINSCAN_MAX_CHAIN_CERTS = env_int("CHAINSCAN_MAX_CHAIN_CERTS", 10, minimum=1)
CHAINSCAN_MAX_CHAIN_BYTES = env_int("CHAINSCAN_MAX_CHAIN_BYTES", 256 * 1024, minimum=1024)
CHAINSCAN_EXPIRY_WARNING_DAYS = env_int("CHAINSCAN_EXPIRY_WARNING_DAYS", 21, minimum=0)
CHAINSCAN_AIA_FETCHES = env_int("CHAINSCAN_AIA_FETCHES", 4, minimum=0)
CHAINSCAN_AIA_TIMEOUT = env_float("CHAINSCAN_AIA_TIMEOUT", 5.0)
CHAINSCAN_AIA_MAX_BYTES = env_int("CHAINSCAN_AIA_MAX_BYTES", 64 * 1024, minimum=1024)
CHAINSCAN_TRUST_STORE = env_choice("CHAINSCAN_TRUST_STORE", "mozilla", ("mozilla", "system"))
CHAINSCAN_TRUST_ANCHORS = env_str("CHAINSCAN_TRUST_ANCHORS") or ""
CHAINSCAN_REQUIRE_LOGIN = env_bool("CHAINSCAN_REQUIRE_LOGIN", True)
CHAINSCAN_PUBLIC_PERMALINKS = env_bool("CHAINSCAN_PUBLIC_PERMALINKS", True)
CHAINSCAN_SUBMIT_RATE = env_rate("CHAINSCAN_SUBMIT_RATE", "120/m")
# Scans one team (a user and everyone sharing a group) may have queued or
# running at once; more are refused with 429 until some finish. 0: no cap.
CHAINSCAN_TEAM_MAX_UNFINISHED = env_int("CHAINSCAN_TEAM_MAX_UNFINISHED", 500, minimum=0)
CHAINSCAN_DEDUP_SECONDS = env_int("CHAINSCAN_DEDUP_SECONDS", 30, minimum=0)
CHAINSCAN_HISTORY_PAGE_SIZE = env_int("CHAINSCAN_HISTORY_PAGE_SIZE", 50, minimum=1)
# Prune routine rescans ("no change") older than this many days; 0 keeps everything.
# Never pruned: a scan that changed something, the first or last of a host's
# history, or one whose permalink was opened.
CHAINSCAN_KEEP_UNCHANGED_DAYS = env_int("CHAINSCAN_KEEP_UNCHANGED_DAYS", 0, minimum=0)

# --- chainscan: engine limits against hostile input (issue 9) ------------------
# What one /check paste may hold: a real chain of 10 certificates is ~20 KiB.
CHAINSCAN_CHECK_MAX_BYTES = env_int("CHAINSCAN_CHECK_MAX_BYTES", 64 * 1024, minimum=1024)
# Issuer (AIA) URLs come from certificates anyone can make: their own address
# policy, public addresses on ports 80 and 8080 only, whatever scans may reach.
CHAINSCAN_AIA_ALLOWED_NETWORKS = env_networks("CHAINSCAN_AIA_ALLOWED_NETWORKS")


def _ports(name: str, default: list[str]) -> list[int] | None:
    """A list of TCP ports, or ``any`` (``None``: every port but other protocols')."""
    values = env_list(name, default)
    if [v.lower() for v in values] == ["any"]:
        return None
    try:
        ports = [int(v) for v in values]
    except ValueError:
        ports = []
    if not ports or not all(1 <= p <= 65535 for p in ports):
        raise ImproperlyConfigured(f"{name} must be port numbers (e.g. 80,8080) or 'any'")
    return ports


CHAINSCAN_AIA_ALLOWED_PORTS = _ports("CHAINSCAN_AIA_ALLOWED_PORTS", ["80", "8080"])
# Issuer downloads for one whole scan (all addresses), within the scan's deadline.
CHAINSCAN_AIA_MAX_FETCHES_PER_SCAN = env_int("CHAINSCAN_AIA_MAX_FETCHES_PER_SCAN", 8, minimum=0)
# What one scan may persist (README, "Security": the worst case in bytes).
CHAINSCAN_MAX_SERVED_CERTS = env_int("CHAINSCAN_MAX_SERVED_CERTS", 32, minimum=1)
CHAINSCAN_MAX_FINDING_CHARS = env_int("CHAINSCAN_MAX_FINDING_CHARS", 4000, minimum=500)

# --- Monitoring (watches, the scheduler, the overview) -------------------------
CHAINSCAN_WATCH_MIN_INTERVAL = env_int("CHAINSCAN_WATCH_MIN_INTERVAL", 300, minimum=1)
CHAINSCAN_WATCH_DEFAULT_INTERVAL = env_int(
    "CHAINSCAN_WATCH_DEFAULT_INTERVAL", 86400, minimum=CHAINSCAN_WATCH_MIN_INTERVAL
)
# Watches one request (API, CSV, pasted list) may create at once.
CHAINSCAN_WATCH_IMPORT_MAX = env_int("CHAINSCAN_WATCH_IMPORT_MAX", 1000, minimum=1)
# How often beat looks for due watches, and how many one claim takes at a time.
CHAINSCAN_SCHEDULER_TICK = env_int("CHAINSCAN_SCHEDULER_TICK", 60, minimum=1)
CHAINSCAN_SCHEDULER_BATCH = env_int("CHAINSCAN_SCHEDULER_BATCH", 500, minimum=1)
# Upper bound of the random delay added to each next run (never more than a
# tenth of the interval), so watches created together drift apart.
CHAINSCAN_SCHEDULER_JITTER = env_int("CHAINSCAN_SCHEDULER_JITTER", 120, minimum=0)
CHAINSCAN_OVERVIEW_PAGE_SIZE = env_int("CHAINSCAN_OVERVIEW_PAGE_SIZE", 50, minimum=1)
CHAINSCAN_OVERVIEW_REFRESH = env_int("CHAINSCAN_OVERVIEW_REFRESH", 30, minimum=1)
# "Chain expiring soon" on the overview, in the API filter's default and the badge.
CHAINSCAN_OVERVIEW_EXPIRY_DAYS = env_int("CHAINSCAN_OVERVIEW_EXPIRY_DAYS", 14, minimum=1)
CHAINSCAN_BADGE_MAX_AGE = env_int("CHAINSCAN_BADGE_MAX_AGE", 300, minimum=0)
CELERY_BEAT_SCHEDULE["dispatch-due-watches"] = {
    "task": "scans.tasks.dispatch_due_watches",
    "schedule": float(CHAINSCAN_SCHEDULER_TICK),
    # Expire before the next tick: a late message would only pile onto that one.
    "options": {"expires": max(1.0, CHAINSCAN_SCHEDULER_TICK * 0.9)},
}

# --- Alerts (scans/alerts.py, scans/notify.py) ----------------------------------

# Absolute links in notifications (report, diff). Unset: links are relative,
# and `manage.py check --deploy` warns (chainscan.W003).
CHAINSCAN_BASE_URL = (env_str("CHAINSCAN_BASE_URL") or "").rstrip("/")
# A watched host must fail this many scans in a row before "unreachable" opens.
CHAINSCAN_ALERT_FAILURES = env_int("CHAINSCAN_ALERT_FAILURES", 2, minimum=1)
try:
    CHAINSCAN_EXPIRY_THRESHOLDS = sorted(
        {int(d) for d in env_list("CHAINSCAN_EXPIRY_THRESHOLDS", ["30", "14", "7", "3", "1"])},
        reverse=True,
    )
except ValueError:
    raise ImproperlyConfigured(
        "CHAINSCAN_EXPIRY_THRESHOLDS must be whole numbers of days, e.g. 30,14,7,3,1"
    ) from None
if any(d < 1 for d in CHAINSCAN_EXPIRY_THRESHOLDS):
    raise ImproperlyConfigured("CHAINSCAN_EXPIRY_THRESHOLDS: every threshold must be at least 1")
# Notifications go through their own queue, consumed by its own worker, so a
# slow receiver never holds a thread a scan could use.
CHAINSCAN_NOTIFY_QUEUE = env_str("CHAINSCAN_NOTIFY_QUEUE") or "chainscan-notify"
CHAINSCAN_NOTIFY_TIMEOUT = env_float("CHAINSCAN_NOTIFY_TIMEOUT", 10.0)
CHAINSCAN_NOTIFY_MAX_RESPONSE = env_int("CHAINSCAN_NOTIFY_MAX_RESPONSE", 64 * 1024, minimum=1024)
# Receivers on private networks (an internal Mattermost, a loopback relay):
# the scanner's address policy applies to notifications too.
CHAINSCAN_NOTIFY_ALLOWED_NETWORKS = env_networks("CHAINSCAN_NOTIFY_ALLOWED_NETWORKS")
# Grouping: a message waits until no row of its group (one certificate, kind
# and threshold on one channel) arrived for this long, at most GROUP_MAX.
CHAINSCAN_NOTIFY_GROUP_SECONDS = env_int("CHAINSCAN_NOTIFY_GROUP_SECONDS", 10, minimum=0)
CHAINSCAN_NOTIFY_GROUP_MAX_SECONDS = env_int("CHAINSCAN_NOTIFY_GROUP_MAX_SECONDS", 120, minimum=0)
# Retries on timeouts, 429 and 5xx: backoff from RETRY_BACKOFF seconds,
# doubling, with jitter; a row fails after MAX_ATTEMPTS, a channel is
# disabled after DISABLE_AFTER failed attempts in a row.
CHAINSCAN_NOTIFY_MAX_ATTEMPTS = env_int("CHAINSCAN_NOTIFY_MAX_ATTEMPTS", 6, minimum=1)
CHAINSCAN_NOTIFY_RETRY_BACKOFF = env_float("CHAINSCAN_NOTIFY_RETRY_BACKOFF", 30.0)
CHAINSCAN_NOTIFY_RETRY_BACKOFF_MAX = env_float("CHAINSCAN_NOTIFY_RETRY_BACKOFF_MAX", 3600.0)
CHAINSCAN_NOTIFY_DISABLE_AFTER = env_int("CHAINSCAN_NOTIFY_DISABLE_AFTER", 10, minimum=1)
# Channel logs (delivered, failed and grouped notifications) are kept this long.
CHAINSCAN_NOTIFY_KEEP_DAYS = env_int("CHAINSCAN_NOTIFY_KEEP_DAYS", 90, minimum=1)
CELERY_TASK_ROUTES = {"scans.tasks.send_notification": {"queue": CHAINSCAN_NOTIFY_QUEUE}}
# Unsent notifications (broker down at commit, lost messages) and reminders are
# looked for on the scheduler's tick.
CELERY_BEAT_SCHEDULE["flush-notifications"] = {
    "task": "scans.tasks.flush_notifications",
    "schedule": float(CHAINSCAN_SCHEDULER_TICK),
    "options": {"expires": max(1.0, CHAINSCAN_SCHEDULER_TICK * 0.9)},
}

# Email: SMTP configured from the environment (`make run` sets the file
# backend, which writes each mail under var/mail).
EMAIL_BACKEND = env_str("EMAIL_BACKEND") or "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = env_str("EMAIL_HOST") or "localhost"
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = int(CHAINSCAN_NOTIFY_TIMEOUT)
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH") or str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL") or "chainscan <chainscan@localhost>"
# "Check a chain" results are kept this many days at their permalink, then pruned.
CHAINSCAN_CHECK_RETENTION_DAYS = env_int("CHAINSCAN_CHECK_RETENTION_DAYS", 90, minimum=1)

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env_str("CACHE_URL")}
        if env_str("CACHE_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- Sign-in throttling (django-axes) ----------------------------------------
# Failures are counted in the cache above (Redis with CACHE_URL: shared by
# every web process; axes.W001 warns when it is per-process memory), per
# account and, separately, per client address: a guesser is stopped whether
# they try many passwords on one account or one password on many accounts.
# After CHAINSCAN_LOGIN_FAILURES failures even the right password is refused
# until CHAINSCAN_LOGIN_COOLOFF seconds pass without another failure.
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_FAILURE_LIMIT = env_int("CHAINSCAN_LOGIN_FAILURES", 10, minimum=1)
AXES_COOLOFF_TIME = dt.timedelta(seconds=env_int("CHAINSCAN_LOGIN_COOLOFF", 900, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_CLIENT_IP_CALLABLE = "scans.clients.client_ip"
AXES_LOCKOUT_CALLABLE = "scans.accounts.login_locked_out"
# Nothing to show in the admin with the cache handler (its tables stay empty).
AXES_ENABLE_ADMIN = False
AXES_VERBOSE = False
# `make run` (DEBUG) serves from one runserver process: its in-memory cache is
# the one every request shares, so the per-process warning is noise there.
# Production (DEBUG off) keeps it: several gunicorn workers need CACHE_URL.
SILENCED_SYSTEM_CHECKS = ["axes.W001"] if DEBUG and not env_str("CACHE_URL") else []

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL") or "INFO"},
}
