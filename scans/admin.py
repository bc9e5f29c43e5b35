from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from . import monitoring
from .engine.certs import BundleError, read_bundle
from .models import (
    ApiToken,
    Certificate,
    Channel,
    DigestField,
    Host,
    Incident,
    Notification,
    Scan,
    TrustAnchor,
    Watch,
)


class TrustAnchorForm(forms.ModelForm):
    class Meta:
        model = TrustAnchor
        fields = ["name", "pem", "enabled"]

    def clean_pem(self) -> str:
        pem = self.cleaned_data["pem"]
        try:
            ders = read_bundle(pem.encode("utf-8", "replace"))
        except BundleError as exc:
            raise forms.ValidationError(str(exc)) from None
        from .engine.certs import load_certificate

        if any(load_certificate(d) is None for d in ders):
            raise forms.ValidationError("one of the certificates in the bundle cannot be read")
        return pem


@admin.register(TrustAnchor)
class TrustAnchorAdmin(admin.ModelAdmin):
    form = TrustAnchorForm
    list_display = ["name", "enabled", "updated_at"]


@admin.register(Host)
class HostAdmin(admin.ModelAdmin):
    list_display = ["hostname", "port", "created_at"]
    search_fields = ["hostname"]


@admin.register(Scan)
class ScanAdmin(admin.ModelAdmin):
    list_display = ["host", "status", "verdict", "change", "requested_at", "finished_at"]
    list_filter = ["status", "verdict", "change"]
    search_fields = ["host__hostname", "token"]
    raw_id_fields = ["host", "previous", "requested_by"]
    # Digests are stored as bytes and shown as hex, as they were when stored as text.
    readonly_fields = [
        f"{f.name}_hex" if isinstance(f, DigestField) else f.name for f in Scan._meta.fields
    ]

    @admin.display(description="served digest")
    def served_digest_hex(self, obj: Scan) -> str:
        return bytes(obj.served_digest or b"").hex()

    @admin.display(description="expected digest")
    def expected_digest_hex(self, obj: Scan) -> str:
        return bytes(obj.expected_digest or b"").hex()

    @admin.display(description="findings digest")
    def findings_digest_hex(self, obj: Scan) -> str:
        return bytes(obj.findings_digest or b"").hex()


@admin.register(Certificate)
class CertificateAdmin(admin.ModelAdmin):
    list_display = ["common_name", "issuer", "not_after", "is_ca", "sha256"]
    search_fields = ["sha256", "common_name", "subject"]
    list_filter = ["is_ca"]
    exclude = ["der"]
    readonly_fields = [f.name for f in Certificate._meta.fields if f.name != "der"]


class ApiTokenForm(forms.ModelForm):
    # Set per request by ApiTokenAdmin.get_form: who is creating the token.
    issuer: Any = None

    class Meta:
        model = ApiToken
        fields = ["user", "name", "expires_at", "read_only"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        user = cleaned.get("user")
        adding = self.instance.pk is None and user is not None and self.issuer is not None
        # A token acts with all its user's rights: minting one for a superuser
        # would hand a staff user everything.
        if adding and not ApiToken.may_issue(by=self.issuer, user=user):
            self.add_error(
                "user", "Only superusers may create tokens for another user; pick yourself."
            )
        return cleaned


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Create API tokens. The secret is shown once, on the page that answers the
    save (never in a message: those travel in a cookie); only its SHA-256 is
    stored, so a lost token is replaced, not recovered. Staff who are not
    superusers see, change and create only their own tokens."""

    form = ApiTokenForm
    list_display = ["user", "name", "prefix", "read_only", "expires_at", "last_used_at"]
    list_select_related = ["user"]
    search_fields = ["user__username", "name", "prefix"]
    raw_id_fields = ["user"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiToken]:
        tokens = super().get_queryset(request)
        return tokens if request.user.is_superuser else tokens.filter(user=request.user)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        # A fresh class per call (modelform_factory): safe to set on it.
        return type(form.__name__, (form,), {"issuer": request.user})

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"user": request.user.pk, **super().get_changeform_initial_data(request)}

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> list[str]:
        # A token belongs to one user for life: moving it would hand someone
        # else's automation to another account.
        return [*self.readonly_fields, "user"] if obj is not None else list(self.readonly_fields)

    def save_model(
        self, request: HttpRequest, obj: ApiToken, form: forms.ModelForm, change: bool
    ) -> None:
        if not change:
            obj.set_new_key()  # kept on obj (this request's), not on the shared admin
        super().save_model(request, obj, form, change)

    def response_add(
        self, request: HttpRequest, obj: ApiToken, post_url_continue: str | None = None
    ) -> HttpResponse:
        response = render(
            request,
            "admin/scans/apitoken/secret.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "token": obj,
                "key": obj.new_key,
                "title": "API token created",
            },
        )
        add_never_cache_headers(response)
        return response


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ("watch", "kind", "title", "opened_at", "resolved_at")
    list_filter = ("kind",)
    raw_id_fields = ("watch", "opened_by", "resolved_by", "certificate")


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "created_by", "enabled", "failures")
    list_filter = ("kind", "enabled")
    # URL and secret are write-only in the dashboard; the admin does not show them either.
    exclude = ("url", "secret")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "channel", "event", "status", "attempts", "latency_ms")
    list_filter = ("status", "event")
    raw_id_fields = ("channel", "incident", "merged_into")


class WatchForm(forms.ModelForm):
    """Interval and tags as the overview takes them: ``6h``/``1d`` or seconds (never
    below CHAINSCAN_WATCH_MIN_INTERVAL), tags separated by spaces or ``;``."""

    interval = forms.CharField(help_text="Seconds, or 90m, 6h, 1d, 1w.")
    tags = forms.CharField(required=False, help_text="Separated by spaces or ';'.")

    class Meta:
        model = Watch
        fields = ["interval", "tags", "note", "paused", "notify_renewals"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["tags"] = " ".join(self.instance.tags)

    def clean_interval(self) -> int:
        try:
            return monitoring.clean_interval(self.cleaned_data["interval"])
        except monitoring.WatchError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_tags(self) -> list[str]:
        try:
            return list(monitoring.clean_tags(self.cleaned_data["tags"]))
        except monitoring.WatchError as exc:
            raise forms.ValidationError(str(exc)) from None


@admin.register(Watch)
class WatchAdmin(admin.ModelAdmin):
    """Operators' view of every team's watches. Watches are made from the dashboard
    (report, host page, overview, API), which knows the team; here they are
    changed, paused, resumed or scanned now through the same services."""

    form = WatchForm
    list_display = ("host", "interval", "paused", "next_run_at", "created_by", "tags")
    list_filter = ("paused",)
    search_fields = ("host__hostname", "tags", "note")
    list_select_related = ("host", "created_by")
    readonly_fields = ("host", "pinned_addresses", "created_by", "last_scan", "last_change")
    actions = ("pause", "resume", "scan_now")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Watch, form: Any, change: bool) -> None:
        data = form.cleaned_data
        monitoring.watch_update(
            watch=obj,
            interval=data["interval"],
            tags=data["tags"],
            note=data["note"],
            paused=data["paused"],
            notify_renewals=data["notify_renewals"],
        )

    @admin.action(description="Pause the selected watches")
    def pause(self, request: HttpRequest, queryset: QuerySet[Watch]) -> None:
        count = monitoring.watches_update(watches=queryset, paused=True)
        self.message_user(request, f"{count} watch(es) paused.")

    @admin.action(description="Resume the selected watches")
    def resume(self, request: HttpRequest, queryset: QuerySet[Watch]) -> None:
        count = monitoring.watches_update(watches=queryset, paused=False)
        self.message_user(request, f"{count} watch(es) resumed.")

    @admin.action(description="Scan the selected watches now")
    def scan_now(self, request: HttpRequest, queryset: QuerySet[Watch]) -> None:
        scans = monitoring.watches_scan_now(watches=queryset)
        self.message_user(request, f"{len(scans)} scan(s) queued.")
