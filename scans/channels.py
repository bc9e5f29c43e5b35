"""Notification channels: the form, the one write, and the pages under the dashboard.

A channel belongs to its creator's team (the creator and everyone sharing a
group with them) and receives the incidents of that team's watches. Its URL
and secret are write-only: pages and the API show them masked, and an edit that
leaves them empty keeps them.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import EmailValidator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from .access import dashboard_view
from .alerts import teammates
from .models import Channel, Incident, Notification
from .notify import channel_test, masked

MAX_URL = 2000
MAX_RECIPIENTS = 20


class ChannelForm(forms.Form):
    kind = forms.ChoiceField(choices=Channel.Kind.choices)
    name = forms.CharField(max_length=100)
    url = forms.CharField(
        max_length=MAX_URL,
        required=False,
        label="URL",
        help_text="Webhook, Slack/Mattermost, Teams Workflows or Discord webhook URL; for ntfy "
        "the topic URL (https://ntfy.sh/your-topic). Not shown again once saved.",
    )
    secret = forms.CharField(
        max_length=500,
        required=False,
        widget=forms.PasswordInput,
        help_text="Webhook: the HMAC key that signs each body (16 characters or more). "
        "ntfy: an access token, if the topic needs one.",
    )
    to = forms.CharField(
        max_length=2000,
        required=False,
        label="Email addresses",
        help_text="Email: one or more addresses, separated by commas.",
    )
    remind_hours = forms.IntegerField(
        min_value=0,
        max_value=24 * 30,
        required=False,
        label="Remind every N hours while open",
        help_text="0 or empty: no reminders.",
    )

    def clean_to(self) -> list[str]:
        raw = self.cleaned_data.get("to") or ""
        addresses = [a.strip() for a in raw.replace(";", ",").split(",") if a.strip()]
        if len(addresses) > MAX_RECIPIENTS:
            raise forms.ValidationError(f"at most {MAX_RECIPIENTS} addresses")
        for address in addresses:
            EmailValidator(message=f"{address!r} is not an email address")(address)
        return addresses

    def __init__(self, *args: Any, editing: Channel | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.editing = editing
        if editing is not None:
            # The kind is what the channel is; the write-only fields keep their
            # value when left empty (the page never shows them again).
            self.fields["kind"].required = False
            self.fields["kind"].disabled = True
            self.fields["url"].help_text = "Leave empty to keep the saved URL."
            self.fields["secret"].help_text = "Leave empty to keep the saved secret."

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = self.editing.kind if self.editing is not None else data.get("kind")
        data["kind"] = kind
        url = (data.get("url") or "").strip()
        if self.editing is not None and not url:
            url = self.editing.url
        if self.editing is not None and not data.get("secret"):
            data["secret"] = self.editing.secret
        if kind == Channel.Kind.EMAIL:
            if not data.get("to") and "to" not in self.errors:
                self.add_error("to", "an email channel needs at least one address")
            data["url"] = ""
        elif kind:
            if not url.lower().startswith(("https://", "http://")) or " " in url:
                self.add_error(
                    "url", "an http(s) URL is needed, such as https://hooks.example.com/…"
                )
            data["url"] = url
        if kind == Channel.Kind.WEBHOOK and len(data.get("secret") or "") < 16:
            self.add_error("secret", "a webhook needs a secret of 16 characters or more")
        return data


def channel_create(*, user: Any, data: dict[str, Any]) -> Channel:
    return Channel.objects.create(
        created_by=user,
        kind=data["kind"],
        name=data["name"],
        url=data.get("url") or "",
        secret=data.get("secret") or "",
        to=data.get("to") or [],
        remind_hours=data.get("remind_hours") or 0,
    )


def _switch(channel: Channel, enabled: bool) -> list[str]:
    """Turn a channel on or off with a clean slate (no failures counted, no reason);
    returns the fields to save."""
    channel.enabled, channel.failures, channel.disabled_reason = enabled, 0, ""
    return ["enabled", "failures", "disabled_reason"]


def channel_update(
    *, channel: Channel, data: dict[str, Any], enabled: bool | None = None
) -> Channel:
    """Save an edit (``data`` from a ChannelForm bound with ``editing=channel``), and
    turn the channel on or off when ``enabled`` says so.

    A new address or secret is a fix for whatever made deliveries fail, so a
    channel disabled after failing is turned on again with its count reset."""
    readdressed = (data.get("url") or "", data.get("secret") or "", data.get("to") or []) != (
        channel.url,
        channel.secret,
        channel.to,
    )
    channel.name = data["name"]
    channel.url = data.get("url") or ""
    channel.secret = data.get("secret") or ""
    channel.to = data.get("to") or []
    channel.remind_hours = data.get("remind_hours") or 0
    fields = ["name", "url", "secret", "to", "remind_hours"]
    if readdressed:
        fields += _switch(channel, True)
    if enabled is not None and enabled != channel.enabled:
        fields += [f for f in _switch(channel, enabled) if f not in fields]
    channel.save(update_fields=fields)
    return channel


def channels_for(user: Any) -> QuerySet[Channel]:
    """The channels of the user's team (one helper, so permission bugs live here)."""
    if not user.is_authenticated:
        return Channel.objects.none()
    return Channel.objects.filter(created_by__in=teammates(user.pk))


def incidents_for(user: Any) -> QuerySet[Incident]:
    """Incidents of the watches of the user's team."""
    if not user.is_authenticated:
        return Incident.objects.none()
    return Incident.objects.filter(watch__created_by__in=teammates(user.pk))


def channel_json(channel: Channel) -> dict[str, Any]:
    return {
        "id": channel.public_id,
        "kind": channel.kind,
        "name": channel.name,
        "url": masked(channel.url),
        "enabled": channel.enabled,
    }


def _channel(request: HttpRequest, public_id: str) -> Channel:
    channel = channels_for(request.user).filter(public_id=public_id[:16]).first()
    if channel is None:
        raise Http404("no such channel")
    return channel


@dashboard_view
@require_http_methods(["GET", "POST"])
def channels_page(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        raise Http404("sign in to manage channels")
    form = ChannelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        channel_create(user=request.user, data=form.cleaned_data)
        return redirect("channels")
    channels = list(channels_for(request.user).order_by("name"))
    for channel in channels:
        channel.masked_url = masked(channel.url) or ", ".join(channel.to)  # type: ignore[attr-defined]
        channel.log = list(  # type: ignore[attr-defined]
            Notification.objects.filter(channel=channel)
            .exclude(status=Notification.Status.MERGED)
            .order_by("-created_at")[:20]
        )
    return render(request, "scans/channels.html", {"form": form, "channels": channels})


@dashboard_view
@require_http_methods(["GET", "POST"])
def channel_edit(request: HttpRequest, public_id: str) -> HttpResponse:
    channel = _channel(request, public_id)
    initial = {
        "kind": channel.kind,
        "name": channel.name,
        "to": ", ".join(channel.to),
        "remind_hours": channel.remind_hours,
    }
    form = ChannelForm(request.POST or None, initial=initial, editing=channel)
    if request.method == "POST" and form.is_valid():
        channel_update(channel=channel, data=form.cleaned_data)
        return redirect("channels")
    return render(
        request,
        "scans/channel_edit.html",
        {"form": form, "channel": channel, "masked_url": masked(channel.url)},
    )


@dashboard_view
@require_POST
def channel_send_test(request: HttpRequest, public_id: str) -> HttpResponse:
    channel_test(channel=_channel(request, public_id))
    return redirect("channels")


@dashboard_view
@require_POST
def channel_enable(request: HttpRequest, public_id: str) -> HttpResponse:
    channel = _channel(request, public_id)
    channel.save(update_fields=_switch(channel, True))
    return redirect("channels")


@dashboard_view
@require_POST
def channel_delete(request: HttpRequest, public_id: str) -> HttpResponse:
    _channel(request, public_id).delete()
    return redirect("channels")
