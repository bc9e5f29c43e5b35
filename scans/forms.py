"""Forms: every input goes through one, GET parameters included."""

from __future__ import annotations

from django import forms

from .engine.certs import BundleError, read_bundle
from .engine.policy import parse_ip
from .engine.targets import MAX_INPUT_LENGTH, Target, parse_targets

MAX_PINNED = 8
MAX_PEM_CHARS = 512 * 1024


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


class PemForm(forms.Form):
    kind = forms.ChoiceField(choices=[("expected", "expected"), ("served", "served")])
    endpoint = forms.IntegerField(min_value=0, max_value=1000, required=False)


class CheckForm(forms.Form):
    pem = forms.CharField(
        label="Certificate chain (PEM)",
        max_length=MAX_PEM_CHARS,
        widget=forms.Textarea(
            attrs={
                "rows": 12,
                "placeholder": "-----BEGIN CERTIFICATE-----\n(leaf first, then the "
                "intermediates, in the order your server sends them)\n-----END CERTIFICATE-----",
                "spellcheck": "false",
            }
        ),
    )
    host = forms.CharField(
        label="Host name to check it against (optional)", max_length=253, required=False
    )

    def clean_pem(self) -> list[bytes]:
        try:
            return read_bundle(self.cleaned_data["pem"].encode("utf-8", "replace"))
        except BundleError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_host(self) -> str | None:
        from .engine.targets import TargetError, normalise_hostname

        value = self.cleaned_data.get("host", "").strip()
        if not value:
            return None
        try:
            return normalise_hostname(value)
        except TargetError as exc:
            raise forms.ValidationError(str(exc)) from None


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
