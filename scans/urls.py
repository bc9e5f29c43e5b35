from __future__ import annotations

from django.urls import path

from . import accounts, api, api_watches, channels, views, views_monitor

urlpatterns = [
    path("", views.home, name="home"),
    path("scan", views.home, {"form_only": True}, name="scan-form"),
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
    path("hosts/<str:slug>/compare", views.host_compare, name="host-compare"),
    path("channels", channels.channels_page, name="channels"),
    path("channels/<str:public_id>/edit", channels.channel_edit, name="channel-edit"),
    path("channels/<str:public_id>/test", channels.channel_send_test, name="channel-test"),
    path("channels/<str:public_id>/enable", channels.channel_enable, name="channel-enable"),
    path("channels/<str:public_id>/delete", channels.channel_delete, name="channel-delete"),
    path("account/tokens", accounts.tokens, name="tokens"),
    path("healthz", views.healthz, name="healthz"),
    *views_monitor.urlpatterns,
    # Before the API's catch-all JSON 404.
    *api_watches.urlpatterns,
    *api.urlpatterns,
]
