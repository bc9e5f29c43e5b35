# chainscan — two commands: `make run` and `make test`. Both set themselves up.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format browser bench clean

# constraints.txt pins every transitive dependency (pip freeze of a good
# install); pyproject.toml pins the direct ones.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

# The dashboard with background scans. No environment: SQLite and a filesystem
# broker (no Redis). With DATABASE_URL / CELERY_BROKER_URL: Postgres and Redis.
# DEBUG is on here (settings default to off) unless the environment says otherwise.
run: $(STAMP)
	@export DEBUG=$${DEBUG:-true}; set -e; mkdir -p "$${CHAINSCAN_VAR_DIR:-var}"; \
	$(BIN)/python manage.py migrate --noinput; \
	$(BIN)/python manage.py bootstrap; \
	echo "chainscan: dashboard at http://$(HOST):$(PORT)/ (worker runs alongside; Ctrl-C stops both)"; \
	trap 'kill 0' EXIT INT TERM; \
	  $(BIN)/celery -A chainscan worker -B --loglevel=INFO \
	    --schedule "$${CHAINSCAN_VAR_DIR:-var}/celerybeat-schedule" & \
	  $(BIN)/python manage.py runserver $(HOST):$(PORT)

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
	$(BIN)/python bench/bench_burst.py

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache .mypy_cache
