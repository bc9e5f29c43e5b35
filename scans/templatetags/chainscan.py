"""Template filters for words the engine owns."""

from __future__ import annotations

from collections.abc import Iterable

from django import template

from scans.engine.findings import affected_clients

register = template.Library()


@register.filter
def clients(families: Iterable[str]) -> str:
    """A finding's client families as words: "strict clients and AIA-fetching clients"."""
    return affected_clients(families)
