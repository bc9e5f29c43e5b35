# chainscan — two commands: `make run` and `make test`. Both set themselves up.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run cli screenshots test lint format browser bench clean

# constraints.txt pins every transitive dependency (pip freeze of a good
# install); pyproject.toml pins the direct ones.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

# The dashboard with background scans. No environment: SQLite and a filesystem
# broker (no Redis). With DATABASE_URL / CELERY_BROKER_URL: Postgres and Redis.
# Alert mails go to files under var/mail, so a newcomer can read them.
run: export EMAIL_BACKEND ?= django.core.mail.backends.filebased.EmailBackend
# A `.env` file (KEY=value lines, see .env.example) is read first if present;
# variables already set in the environment win over it. DEBUG is on here
# (settings default to off) unless the environment or .env says otherwise.
# Celery warns when its worker runs as root (a container's default user). The
# worker here only speaks JSON (never pickle), so the warning is advice, not a
# refusal: `make run` silences that one warning class; the production image
# runs as a non-root user and never sees it.
ENV_FILE ?= .env
run: $(STAMP)
	@if [ -f "$(ENV_FILE)" ]; then \
	  while IFS= read -r line || [ -n "$$line" ]; do \
	    case "$$line" in ''|'#'*) continue;; esac; \
	    key="$${line%%=*}"; value="$${line#*=}"; value="$${value%[\"\']}"; value="$${value#[\"\']}"; \
	    [ -n "$${!key+x}" ] || export "$$key=$$value"; \
	  done < "$(ENV_FILE)"; echo "chainscan: read $(ENV_FILE)"; fi; \
	export DEBUG=$${DEBUG:-true}; mkdir -p "$${CHAINSCAN_VAR_DIR:-var}"; \
	$(BIN)/python manage.py migrate --noinput && \
	$(BIN)/python manage.py bootstrap && \
	echo "chainscan: dashboard at http://$(HOST):$(PORT)/ (worker runs alongside; Ctrl-C stops both)" && \
	trap 'kill 0' EXIT INT TERM; \
	  PYTHONWARNINGS="ignore:You're running the worker with superuser privileges" \
	  $(BIN)/celery -A chainscan worker -B --loglevel=INFO \
	    --schedule "$${CHAINSCAN_VAR_DIR:-var}/celerybeat-schedule" & \
	  PYTHONWARNINGS="ignore:You're running the worker with superuser privileges" \
	  $(BIN)/celery -A chainscan worker --loglevel=INFO -n notify@%h --concurrency 4 \
	    -Q "$${CHAINSCAN_NOTIFY_QUEUE:-chainscan-notify}" & \
	  $(BIN)/python manage.py runserver $(HOST):$(PORT)

# The pictures in docs/ (README), from crafted scans in headless Chromium.
screenshots: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider tests/screenshots.py

# Where the command-line tool is (the same engine, no database, no broker).
cli: $(STAMP)
	@echo "$(abspath $(BIN))/chainscan"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	# Type checking loads the settings: a development boot, not a production one.
	DEBUG=true $(BIN)/mypy scans chainscan

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Lint, then the whole suite against the real Postgres and Redis
# (DATABASE_URL / CELERY_BROKER_URL when set, else 127.0.0.1 defaults).
# Tests marked `disruptive` restart Postgres: they run last, on their own, so
# no other test has a connection open then. Exit status 5 is "none selected".
test: lint
	$(BIN)/pytest -m "not disruptive" $(PYTEST_ARGS)
	$(BIN)/pytest -m disruptive $(PYTEST_ARGS) || test $$? -eq 5

# Figures, never assertions. Each script says what it measures at its top.
bench: $(STAMP)
	$(BIN)/python bench/bench_analysis.py
	$(BIN)/python bench/bench_scan.py
	$(BIN)/python bench/bench_history.py
	$(BIN)/python bench/bench_load.py
	$(BIN)/python bench/bench_monitor.py
	$(BIN)/python bench/bench_alerts.py
	$(BIN)/python bench/bench_burst.py

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache .mypy_cache
