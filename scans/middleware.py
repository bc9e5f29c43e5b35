"""A strict Content-Security-Policy: a page that shows server-sent text must not run
anything but our own scripts, even if an escaping bug ever slipped through."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .access import ScanPruned

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'; object-src 'none'"
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", POLICY)
        return response


class PrunedScanMiddleware:
    """A pruned permalink answers 410 Gone with a page that links the host's
    history, instead of a 404 that says the link never existed."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, ScanPruned):
            return None
        pruned = exception.pruned
        return render(
            request,
            "scans/pruned.html",
            {"pruned": pruned, "host": pruned.host, "slug": str(pruned.host)},
            status=410,
        )
