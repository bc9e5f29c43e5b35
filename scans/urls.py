from __future__ import annotations

from django.urls import path

from . import api, views

urlpatterns = [
    path("", views.home, name="home"),
    path("recent", views.recent_fragment, name="recent"),
    path("check", views.check_chain, name="check"),
    path("check/<str:token>", views.check_result, name="check-result"),
    path("check/<str:token>/download", views.check_download, name="check-download"),
    path("r/<str:token>", views.report, name="report"),
    path("r/<str:token>/live", views.report_fragment, name="report-live"),
    path("r/<str:token>/chain.pem", views.report_pem, name="report-pem"),
    path("r/<str:token>/download", views.report_download, name="report-download"),
    path("r/<str:token>/diff", views.scan_diff, name="diff-previous"),
    path("r/<str:token>/diff/<str:other>", views.scan_diff, name="diff"),
    path("hosts/<str:slug>", views.host_history, name="host"),
    path("hosts/<str:slug>/latest", views.host_latest, name="host-latest"),
    path("healthz", views.healthz, name="healthz"),
    *api.urlpatterns,
]
