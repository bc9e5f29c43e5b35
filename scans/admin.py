from __future__ import annotations

from django import forms
from django.contrib import admin

from .engine.certs import BundleError, read_bundle
from .models import Certificate, Host, Scan, TrustAnchor


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
