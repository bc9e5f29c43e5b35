"""Shared endpoint outcomes (schema, step 1 of 3): new tables and nullable links.

0004 moves every existing endpoint's chains and findings into outcomes; 0005
drops the old per-endpoint columns. Three steps because Postgres refuses to
alter a table in the transaction that just updated its rows (deferred
foreign-key triggers are still pending).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scans", "0003_learned_issuers"),
    ]

    operations = [
        migrations.CreateModel(
            name="Outcome",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("digest", models.CharField(max_length=64, unique=True)),
                ("verdict", models.CharField(choices=[("ok", "Ok"), ("warning", "Warning"), ("broken", "Broken")], max_length=10)),
                ("error", models.CharField(blank=True, max_length=40)),
                ("valid_until", models.DateTimeField(null=True)),
                ("anchor_source", models.CharField(blank=True, max_length=200)),
                ("clients", models.JSONField(default=list)),
                (
                    "anchor",
                    models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="scans.certificate"),
                ),
            ],
        ),
        migrations.CreateModel(
            name="PrunedScan",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("token", models.CharField(max_length=64, unique=True)),
                ("requested_at", models.DateTimeField()),
                ("pruned_at", models.DateTimeField(auto_now_add=True)),
                ("host", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="scans.host")),
            ],
        ),
        migrations.AddField(
            model_name="scan",
            name="viewed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="endpoint",
            name="outcome",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.PROTECT, related_name="endpoints", to="scans.outcome"
            ),
        ),
        migrations.AddField(
            model_name="chainentry",
            name="outcome",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.CASCADE, related_name="chain", to="scans.outcome"
            ),
        ),
        migrations.AddField(
            model_name="chainentry",
            name="role",
            field=models.CharField(blank=True, default="", max_length=20),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="finding",
            name="outcome",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="findings", to="scans.outcome"
            ),
        ),
        migrations.AlterField(
            model_name="finding",
            name="scan",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="findings", to="scans.scan"
            ),
        ),
    ]
