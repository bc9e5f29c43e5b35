"""Errors shared by the engine's seams (kept apart so that an implementation of
a seam, such as the HTTP issuer fetcher, need not import the analysis)."""

from __future__ import annotations


class FetchError(Exception):
    """An issuer URL (AIA caIssuers) could not be fetched.

    Attributes:
        reason: why, in words for a report ("HTTP 404", "timed out after 5 s",
            "the response is larger than 1 MiB"…).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


__all__ = ["FetchError"]
