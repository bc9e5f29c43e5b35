"""A burst of submissions never exhausts Postgres connections (issue 9, item 3).

`make run` on Postgres (runserver: a thread per request) took 1,000 API
submissions from 16 client threads; with a persistent connection per request
thread it answered 300 of them with a 500 "too many clients". Now every
process draws from a bounded pool, and an overloaded database is a 503 with
Retry-After, which the client honours. Figures: bench/bench_burst.py.
"""

from __future__ import annotations

import os

import pytest

from tests.burst import (
    api_token,
    burst,
    make_run,
    postgres_available,
    private_postgres,
    scans_in_database,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.worker,
    pytest.mark.skipif(not postgres_available(), reason="needs Postgres' initdb"),
]


def test_a_burst_of_1000_submissions_through_make_run_loses_none_and_never_answers_500(tmp_path):
    broker = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")
    # Room for make run's two pools (runserver and the worker, 16 each) and
    # Postgres' 3 reserved connections, nothing more.
    with (
        private_postgres(max_connections=40) as database,
        make_run(database, broker, tmp_path) as run,
    ):
        token = api_token(run)
        result = burst(run.base, token, submissions=1000, threads=16)

        assert result.other == {}, (result.other, run.log.read_text()[-3000:])
        assert result.retry_after_missing == 0
        assert len(result.accepted) == len(set(result.accepted)) == 1000
        assert scans_in_database(database) == 1000


def test_when_the_pool_cannot_keep_up_submissions_are_503_with_retry_after_and_none_is_lost(
    tmp_path,
):
    broker = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")
    # One connection per process and almost no wait for it: most of 16 clients
    # at once find it taken.
    tight = {"DATABASE_POOL_MAX_SIZE": "1", "DATABASE_POOL_TIMEOUT": "0.2"}
    with (
        private_postgres(max_connections=40) as database,
        make_run(database, broker, tmp_path, **tight) as run,
    ):
        token = api_token(run)
        result = burst(run.base, token, submissions=300, threads=16)

        assert result.other == {}, (result.other, run.log.read_text()[-3000:])
        assert result.overloaded > 0  # the client was told to come back…
        assert result.retry_after_missing == 0  # …and when
        assert len(set(result.accepted)) == 300
        assert scans_in_database(database) == 300
