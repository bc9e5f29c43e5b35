"""Issue an API token for a user: `manage.py api_token alice`. Shown once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from scans.models import ApiToken


class Command(BaseCommand):
    help = "Create an API token for USER and print it (only its hash is stored)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="api", help="a label to recognise the token by")
        parser.add_argument("--expires-days", type=int, help="the token stops working after this")
        parser.add_argument(
            "--read-only", action="store_true", help="may GET but not request scans"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        try:
            user = User.objects.get(**{User.USERNAME_FIELD: options["username"]})
        except User.DoesNotExist:
            raise CommandError(f"no user named {options['username']!r}") from None
        days = options["expires_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-days must be at least 1")
        # Whoever runs manage.py has the database: they may issue for anyone.
        _, key = ApiToken.issue(
            user=user,
            name=options["name"],
            expires_at=timezone.now() + dt.timedelta(days=days) if days else None,
            read_only=options["read_only"],
        )
        self.stdout.write(key)
