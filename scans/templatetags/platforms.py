"""Template tags for "Who can connect" and the per-server fix (words the engine owns)."""

from __future__ import annotations

from django import template

from scans.engine.platforms import PlatformRow, rows
from scans.engine.report import EndpointReport
from scans.engine.serverfix import LABELS, ServerFix, detect, fix_for, needs_fix

register = template.Library()


@register.filter
def platform_rows(endpoint: EndpointReport) -> list[PlatformRow]:
    """The endpoint's platform verdicts grouped for the table, failures first."""
    return rows(endpoint.platforms)


@register.simple_tag
def server_fix(endpoint: EndpointReport, chosen: str | None = None) -> ServerFix | None:
    """The fix for the server the reader picked, else the one the endpoint says it runs.

    ``None`` when the served chain needs no change or no server is known.
    """
    if not needs_fix(endpoint):
        return None
    detected = detect(endpoint.server)
    kind = chosen if chosen in LABELS else detected
    if kind is None:
        return None
    return fix_for(kind, endpoint, detected=kind == detected)
