"""First-run set-up for `make run`: create an admin account once and print its password."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create an 'admin' superuser with a random password if no user exists yet."

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        if User.objects.exists():
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser("admin", "", password)
        bar = "=" * 64
        self.stdout.write(
            f"\n{bar}\n  First run: created the account  admin / {password}\n"
            "  It is shown only this once. Sign in, then change it in the admin.\n"
            f"{bar}\n"
        )
