"""Forms: every input goes through one, GET parameters included."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.conf import settings

from .engine.certs import CHAIN_FORMATS, BundleError, read_bundle
from .engine.policy import parse_ip
from .engine.serverfix import SERVERS
from .engine.targets import MAX_INPUT_LENGTH, Target, parse_targets

MAX_PINNED = 8


def parse_pins(text: str) -> list[str]:
    """Parse a list of IP addresses to pin a scan to. Raises ValidationError."""
    pins: list[str] = []
    for piece in text.replace(",", " ").split():
        ip = parse_ip(piece)
        if ip is None:
            raise forms.ValidationError(f"{piece!r} is not an IP address")
        if str(ip) not in pins:
            pins.append(str(ip))
    if len(pins) > MAX_PINNED:
        raise forms.ValidationError(f"at most {MAX_PINNED} addresses")
    return pins


class ScanForm(forms.Form):
    targets = forms.CharField(
        label="Hosts",
        max_length=MAX_INPUT_LENGTH,
        widget=forms.Textarea(
            attrs={
                "rows": 3,
                "placeholder": "example.com\nmail.example.com:8443\nhttps://bücher.example/login",
                "autofocus": True,
                "spellcheck": "false",
                "autocapitalize": "off",
            }
        ),
        help_text="One per line or separated by commas. Ports and pasted URLs are fine.",
    )
    addresses = forms.CharField(
        label="Only these addresses (optional)",
        required=False,
        max_length=1000,
        widget=forms.TextInput(attrs={"placeholder": "203.0.113.10, 2001:db8::10"}),
        help_text="Connect to these IPs instead of resolving the name, still sending it as SNI "
        "— to check one node behind a load balancer, or a server before the DNS switch.",
    )

    watch = forms.BooleanField(
        label="Keep watching: rescan every day and show on the overview",
        required=False,
    )

    def clean_targets(self) -> list[Target]:
        text = self.cleaned_data["targets"]
        targets, errors = parse_targets(text)
        if errors:
            raise forms.ValidationError([forms.ValidationError(e) for e in errors[:10]])
        return targets

    def clean_addresses(self) -> list[str]:
        return parse_pins(self.cleaned_data.get("addresses", ""))


class HistoryPageForm(forms.Form):
    page = forms.IntegerField(min_value=1, max_value=1_000_000, required=False)


class DiffForm(forms.Form):
    against = forms.CharField(max_length=64, required=False)


class CompareForm(forms.Form):
    """Two scans of a host picked on its history page (permalink tokens)."""

    older = forms.CharField(min_length=20, max_length=64)
    newer = forms.CharField(min_length=20, max_length=64)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("older") and data.get("older") == data.get("newer"):
            raise forms.ValidationError("Pick two different scans to compare.")
        return data


class PemForm(forms.Form):
    kind = forms.ChoiceField(choices=[("expected", "expected"), ("served", "served")])
    endpoint = forms.IntegerField(min_value=0, max_value=1000, required=False)


# "As of" dates a check may be judged at: wide enough to replay 2016's X1/X3
# switch or 2021's DST Root CA X3 expiry, narrow enough to stay meaningful.
AS_OF_RANGE = (dt.date(1995, 1, 1), dt.date(2100, 1, 1))


class DownloadForm(forms.Form):
    """Which chain file to download: ``fmt`` is a chain format or ``cer`` (with ``cert``)."""

    endpoint = forms.IntegerField(min_value=0, max_value=1000, required=False)
    fmt = forms.ChoiceField(choices=[(f, f) for f in (*CHAIN_FORMATS, "cer")])
    # The position of the certificate on the certification path (anchor last).
    cert = forms.IntegerField(min_value=0, max_value=100, required=False)


class CheckForm(forms.Form):
    pem = forms.CharField(
        label="Certificate chain (PEM)",
        required=False,
        widget=forms.Textarea(
            attrs={
                "rows": 10,
                "placeholder": "-----BEGIN CERTIFICATE-----\n(leaf first, then the "
                "intermediates, in the order your server sends them)\n-----END CERTIFICATE-----",
                "spellcheck": "false",
            }
        ),
    )
    upload = forms.FileField(
        label="…or upload a file",
        required=False,
        help_text="PEM, DER (.cer, .crt) or PKCS#7 (.p7b).",
    )
    host = forms.CharField(
        label="Host name to check it against (optional)", max_length=253, required=False
    )
    at = forms.DateField(
        label="As of (optional)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Judge the chain as it stood on that day (expiry, roots): empty means now.",
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["pem"].widget.attrs["maxlength"] = str(settings.CHAINSCAN_CHECK_MAX_BYTES)

    @staticmethod
    def _within_limit(data: bytes, what: str) -> bytes:
        limit = settings.CHAINSCAN_CHECK_MAX_BYTES
        if len(data) > limit:
            raise forms.ValidationError(
                f"The {what} is {len(data) // 1024} KiB; chainscan reads at most "
                f"{limit // 1024} KiB here. A chain of 10 certificates is about 20 KiB: give "
                "only the certificates your server sends (leaf first), without keys or logs."
            )
        return data

    def clean_pem(self) -> str:
        text: str = self.cleaned_data.get("pem") or ""
        self._within_limit(text.encode("utf-8", "replace"), "pasted text")
        return text

    def clean_upload(self) -> bytes | None:
        upload = self.cleaned_data.get("upload")
        if not upload:
            return None
        data: bytes = upload.read(settings.CHAINSCAN_CHECK_MAX_BYTES + 1)
        if upload.size > len(data):
            # Never read more than the limit: the declared size is what counts.
            raise forms.ValidationError(
                f"The file is {upload.size // 1024} KiB; chainscan reads at most "
                f"{settings.CHAINSCAN_CHECK_MAX_BYTES // 1024} KiB here. A chain of 10 "
                "certificates is about 20 KiB."
            )
        return self._within_limit(data, "file")

    def clean_host(self) -> str | None:
        from .engine.targets import TargetError, normalise_hostname

        value = self.cleaned_data.get("host", "").strip()
        if not value:
            return None
        try:
            return normalise_hostname(value)
        except TargetError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_at(self) -> dt.date | None:
        value: dt.date | None = self.cleaned_data.get("at")
        if value is not None and not AS_OF_RANGE[0] <= value <= AS_OF_RANGE[1]:
            raise forms.ValidationError(
                f"pick a day between {AS_OF_RANGE[0]:%Y} and {AS_OF_RANGE[1]:%Y}"
            )
        return value

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        text = data.get("pem") or ""
        upload = data.get("upload")
        if self.errors:
            return data
        if not text.strip() and not upload:
            self.add_error("pem", "paste a chain, or choose a file to upload")
            return data
        raw = upload if upload else text.encode("utf-8", "replace")
        try:
            data["chain"] = read_bundle(raw)
        except BundleError as exc:
            self.add_error("upload" if upload else "pem", str(exc))
        return data


class ServerFixForm(forms.Form):
    """``?server=nginx`` on a report: show the fix for another server than the one detected."""

    server = forms.ChoiceField(choices=[("", "(detected)"), *SERVERS], required=False)


class ApiTokenCreateForm(forms.Form):
    """A user's own API token: a label, an optional lifetime, an optional read-only scope."""

    EXPIRY_CHOICES = [
        ("", "never"),
        ("7", "7 days"),
        ("30", "30 days"),
        ("90", "90 days"),
        ("365", "1 year"),
    ]

    name = forms.CharField(max_length=100, initial="api", help_text="To recognise it by.")
    expires_in_days = forms.TypedChoiceField(
        choices=EXPIRY_CHOICES, coerce=int, empty_value=None, required=False, label="Expires in"
    )
    read_only = forms.BooleanField(
        required=False, help_text="May read reports but not request scans or change anything."
    )


class ApiTokenRevokeForm(forms.Form):
    token = forms.IntegerField(min_value=1)
