"""``{% open_incidents %}``: the open incidents (and disabled channels) a viewer's team has.

For the overview and the host page: ``{% load alerts %}{% open_incidents %}`` or
``{% open_incidents host=host %}``.
"""

from __future__ import annotations

from typing import Any

from django import template

from scans.channels import channels_for, incidents_for

register = template.Library()


@register.inclusion_tag("scans/_incidents.html", takes_context=True)
def open_incidents(context: Any, host: Any = None) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"incidents": [], "disabled_channels": []}
    incidents = (
        incidents_for(user)
        .filter(resolved_at=None)
        .select_related("watch__host", "opened_by")
        .order_by("-opened_at")
    )
    if host is not None:
        incidents = incidents.filter(watch__host=host)
    disabled = channels_for(user).filter(enabled=False).order_by("name")
    return {"incidents": list(incidents[:50]), "disabled_channels": list(disabled[:20])}
