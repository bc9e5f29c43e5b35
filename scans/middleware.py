"""Request-wide protections: forwarded headers believed only from the operator's
proxies, and a strict Content-Security-Policy."""

from __future__ import annotations

import sys
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views import defaults

from .access import ScanPruned
from .clients import FORWARDED_HEADERS, from_trusted_proxy

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'; object-src 'none'"
)


class TrustedProxyMiddleware:
    """Drop X-Forwarded-* unless the peer is in CHAINSCAN_TRUSTED_PROXIES.

    First in MIDDLEWARE: Django's own SECURE_PROXY_SSL_HEADER (is_secure, the
    https redirect, secure cookies) and every later reader then see only what a
    trusted proxy wrote. Someone who reaches gunicorn directly cannot claim
    https or another client address.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not from_trusted_proxy(request):
            for name in FORWARDED_HEADERS:
                request.META.pop(name, None)
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """A page that shows server-sent text must not run anything but our own
    scripts, even if an escaping bug ever slipped through."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", POLICY)
        return response


class DatabaseOverloadMiddleware:
    """A database that is full or busy is a 503 with Retry-After, never a 500.

    Raised when no pooled connection frees up within DATABASE_POOL_TIMEOUT,
    when Postgres refuses a connection ("too many clients"), or when it is
    down: the request did nothing, and the same request a little later will
    work. JSON under /api/, a short page elsewhere.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        return overloaded(request)


def overloaded(request: HttpRequest) -> HttpResponse:
    wait = settings.CHAINSCAN_OVERLOAD_RETRY_AFTER
    message = f"chainscan is busy right now; nothing was saved. Try again in {wait} seconds."
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse({"error": {"code": "overloaded", "message": message}}, status=503)
    else:
        # No request context: the page must not read the session (the database).
        response = HttpResponse(render_to_string("503.html", {"message": message}), status=503)
    response["Retry-After"] = str(wait)
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500. The middleware above sees only what views raise; the session
    saved on the way out, or a user loaded by another middleware, can hit the
    same full database after the view returned. Django then calls this handler
    inside its ``except`` block, so the exception is still at hand."""
    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        return overloaded(request)
    return defaults.server_error(request)


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
