from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest

from .engine.certs import BundleError, read_bundle
from .models import ApiToken, Certificate, Channel, Host, Incident, Notification, Scan, TrustAnchor


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
    readonly_fields = [f.name for f in Scan._meta.fields]


@admin.register(Certificate)
class CertificateAdmin(admin.ModelAdmin):
    list_display = ["common_name", "issuer", "not_after", "is_ca", "sha256"]
    search_fields = ["sha256", "common_name", "subject"]
    list_filter = ["is_ca"]
    exclude = ["der"]
    readonly_fields = [f.name for f in Certificate._meta.fields if f.name != "der"]


class ApiTokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["user", "name"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Create API tokens for users. The secret is shown once, in a message after
    saving; only its SHA-256 is stored, so a lost token is replaced, not recovered."""

    form = ApiTokenForm
    list_display = ["user", "name", "prefix", "created_at", "last_used_at"]
    list_select_related = ["user"]
    search_fields = ["user__username", "name", "prefix"]
    raw_id_fields = ["user"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> list[str]:
        # A token belongs to one user for life: moving it would hand someone
        # else's automation to another account.
        return [*self.readonly_fields, "user"] if obj is not None else list(self.readonly_fields)

    def save_model(
        self, request: HttpRequest, obj: ApiToken, form: forms.ModelForm, change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        key = obj.set_new_key()
        super().save_model(request, obj, form, change)
        messages.warning(
            request,
            f"The API token for {obj.user} is {key} — copy it now: it is not stored and "
            "will not be shown again. Send it as 'Authorization: Bearer <token>'.",
        )


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
