from __future__ import annotations

from django.urls import path

from . import accounts, api, views

urlpatterns = [
    path("", views.home, name="home"),
    path("recent", views.recent_fragment, name="recent"),
    path("check", views.check_chain, name="check"),
    path("r/<str:token>", views.report, name="report"),
    path("r/<str:token>/live", views.report_fragment, name="report-live"),
    path("r/<str:token>/chain.pem", views.report_pem, name="report-pem"),
    path("r/<str:token>/diff", views.scan_diff, name="diff-previous"),
    path("r/<str:token>/diff/<str:other>", views.scan_diff, name="diff"),
    path("hosts/<str:slug>", views.host_history, name="host"),
    path("hosts/<str:slug>/latest", views.host_latest, name="host-latest"),
    path("account/tokens", accounts.tokens, name="tokens"),
    path("healthz", views.healthz, name="healthz"),
    *api.urlpatterns,
]
