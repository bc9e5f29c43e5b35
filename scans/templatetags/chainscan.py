"""Template filters for words the engine owns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django import template

from scans.engine.catalogue import affected_clients
from scans.engine.report import CertificateInfo

register = template.Library()


@register.filter
def clients(families: Iterable[str]) -> str:
    """A finding's client families as words: "strict clients and AIA-fetching clients"."""
    return affected_clients(families)


@register.filter
def expiry(cert: CertificateInfo, at: dt.datetime | None) -> str:
    """ "2027-02-24 (in 85 days)" / "2020-01-01 (expired 300 days ago)", seen from ``at``."""
    if cert.not_after is None:
        return "unknown"
    day = cert.not_after.strftime("%Y-%m-%d")
    if at is None:
        return day
    days = (cert.not_after - at).days
    if cert.not_after < at:
        return f"{day} (expired {-days} day{'s' if -days != 1 else ''} ago)"
    return f"{day} (in {days} day{'s' if days != 1 else ''})"
