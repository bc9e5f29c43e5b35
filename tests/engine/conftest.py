"""Engine test fixtures: the crafted PKI, shared by the whole session.

The engine tests need no database and no Django. The root conftest has an
autouse fixture that asks for pytest-django's ``settings``; ``settings`` below
hands that one through when pytest-django is active and a plain namespace when
the engine suite runs alone (``pytest tests/engine -p no:django``).
"""

from __future__ import annotations

import types

import pytest

from tests.pki import Cast, cast


@pytest.fixture
def settings(request: pytest.FixtureRequest) -> object:
    if request.config.pluginmanager.has_plugin("django"):
        return request.getfixturevalue("settings")
    return types.SimpleNamespace()


@pytest.fixture(scope="session")
def pki() -> Cast:
    """Every certificate of the scenario catalogue, built once."""
    return cast()
