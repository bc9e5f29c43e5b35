"""Configuration: strict parsing, safe production boot, compose and .env.example in step."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "x" * 20 + "a-long-random-production-secret-key-9f8e7d6c5b4a",
    "ALLOWED_HOSTS": "chainscan.example.com",
    "DATABASE_URL": "sqlite:////tmp/chainscan-deploy-check.sqlite3",
    "CHAINSCAN_BASE_URL": "https://chainscan.example.com",
    # Sign-in throttles and rate limits are counted in a cache every process shares.
    "CACHE_URL": "redis://127.0.0.1:6379/15",
}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CHAINSCAN_", "SECURE_"))}
    base.pop("DEBUG", None)
    base.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by the browser tests' Playwright
    base.pop("SECRET_KEY", None)
    base.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings() -> None:
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_when_sign_in_failures_are_counted_per_process() -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "CACHE_URL"}
    result = run_manage("check", "--deploy", env=env)
    assert "axes.W001" in result.stderr + result.stdout


def test_a_misspelt_boolean_refuses_to_boot() -> None:
    result = run_manage("check", env={**PRODUCTION_ENV, "DEBUG": "ture"})
    assert result.returncode != 0
    assert "DEBUG='ture' is not a boolean" in result.stderr


def test_production_refuses_to_boot_without_a_secret_key() -> None:
    env = {**PRODUCTION_ENV, "SECRET_KEY": ""}
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is false" in result.stderr


def test_secrets_can_come_from_files(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("file-secret-" + "k" * 50 + "\n")
    env = {**PRODUCTION_ENV, "SECRET_KEY": "", "SECRET_KEY_FILE": str(secret)}
    result = run_manage(
        "shell", "-c", "from django.conf import settings; print(settings.SECRET_KEY)", env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "file-secret-" + "k" * 50


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CHAINSCAN_CONNECT_TIMEOUT", "soon", "is not a number"),
        ("CHAINSCAN_SUBMIT_RATE", "lots", "must look like 120/m"),
        ("CHAINSCAN_ALLOWED_NETWORKS", "10.0.0.0/8,intranet", "is not a network"),
        ("CHAINSCAN_TRUST_STORE", "windows", "must be one of"),
        ("CHAINSCAN_RESOLVE_OVERRIDES", "a.example=not-an-ip", "must look like"),
    ],
)
def test_a_bad_chainscan_setting_is_named_in_the_error(name: str, value: str, message: str) -> None:
    result = run_manage("check", env={**PRODUCTION_ENV, name: value})
    assert result.returncode != 0
    assert name in result.stderr and message in result.stderr


def test_a_missing_trust_anchor_file_is_a_system_check_error() -> None:
    env = {**PRODUCTION_ENV, "CHAINSCAN_TRUST_ANCHORS": "/nonexistent/roots.pem"}
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "chainscan.E001" in result.stderr


def _settings_variables() -> set[str]:
    text = (ROOT / "chainscan" / "settings.py").read_text()
    names = set(
        re.findall(r'env_(?:str|bool|int|float|list|choice|rate|networks)\(\s*"([A-Z_]+)"', text)
    )
    return names


def test_env_example_lists_every_variable_the_settings_read() -> None:
    listed = {
        line.split("=", 1)[0].strip()
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    }
    missing = _settings_variables() - listed
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_compose_runs_every_process_type_from_one_image_with_health_checks() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"db", "redis", "web", "worker", "beat"} <= set(services)
    for name in ("web", "worker", "beat"):
        service = services[name]
        assert service["image"] == "chainscan:latest"
        assert service["depends_on"]["db"]["condition"] == "service_healthy"
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        env = service["environment"]
        for required in (
            "DEBUG",
            "SECRET_KEY_FILE",
            "ALLOWED_HOSTS",
            "DATABASE_URL",
            "CELERY_BROKER_URL",
        ):
            assert required in env, f"{name} lacks {required}"
        assert "healthcheck" in service
    assert "migrate" in " ".join(services["web"]["command"])
    assert services["worker"]["command"][:4] == ["celery", "-A", "chainscan", "worker"]
    for name in ("db", "redis"):
        assert "healthcheck" in services[name]


def test_the_image_runs_as_a_non_root_user_with_static_files_baked_in() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER chainscan$", dockerfile, re.M)
    assert "collectstatic" in dockerfile
    assert "HEALTHCHECK" in dockerfile


def test_production_without_a_base_url_warns_that_alert_links_cannot_be_absolute() -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "CHAINSCAN_BASE_URL"}
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "chainscan.W003" in result.stderr and "CHAINSCAN_BASE_URL" in result.stderr


def test_a_base_url_that_is_not_http_is_an_error() -> None:
    result = run_manage("check", env={**PRODUCTION_ENV, "CHAINSCAN_BASE_URL": "chainscan.local"})
    assert result.returncode != 0
    assert "chainscan.E002" in result.stderr


# --- Debug off unless asked for (issue 9, item 12) ---------------------------


def _dockerfile_env() -> dict[str, str]:
    """The variables the image's ENV lines set (``ENV A=1 \\`` continuations included)."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            for name, value in re.findall(r'([A-Z_]+)=("[^"]*"|\S+)', line[4:]):
                env[name] = value.strip('"')
    return env


def test_the_image_runs_with_debug_off() -> None:
    env = _dockerfile_env()
    assert env.get("DEBUG") == "false", env


def test_compose_runs_with_debug_off_and_make_run_turns_it_on_explicitly() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name in ("web", "worker", "beat"):
        assert compose["services"][name]["environment"]["DEBUG"] == "false"
    makefile = (ROOT / "Makefile").read_text()
    run_recipe = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    # On unless the caller's environment says otherwise (tests/test_make_run.py
    # runs it with DEBUG unset and gets a working dashboard).
    assert re.search(r"DEBUG=(true|\$\$\{DEBUG:-true\})", run_recipe), run_recipe


def test_booting_with_debug_unset_and_no_secret_key_fails_loudly() -> None:
    # A plain `docker run` without the compose file, or a forgotten .env.
    result = run_manage("check", env={"DATABASE_URL": PRODUCTION_ENV["DATABASE_URL"]})
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is false" in result.stderr
    assert "DEBUG=true" in result.stderr  # the hint for a developer's laptop


def test_compose_publishes_gunicorn_on_loopback_only_and_names_its_trusted_proxy() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    web = compose["services"]["web"]
    assert all(str(p).startswith("127.0.0.1:") for p in web["ports"]), web["ports"]
    assert web["environment"]["BEHIND_TLS_PROXY"] == "true"
    assert web["environment"]["CHAINSCAN_TRUSTED_PROXIES"]
