"""The stock Celery recipe: settings come from Django's, under CELERY_."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chainscan.settings")

app = Celery("chainscan")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
