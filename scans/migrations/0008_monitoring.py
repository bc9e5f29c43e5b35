# Monitoring: a watch's public id and last change, and what the overview and
# /metrics read from a scan (which certificate expires first, findings by severity).

import django.db.models.deletion
from django.db import migrations, models

import scans.models


def fill_uids(apps, schema_editor):
    # One fresh id per existing watch (a callable default is evaluated once for
    # all rows by AddField, which the unique constraint would refuse).
    Watch = apps.get_model("scans", "Watch")
    for watch in Watch.objects.filter(uid=""):
        watch.uid = scans.models.new_watch_id()
        watch.save(update_fields=["uid"])


class Migration(migrations.Migration):
    dependencies = [
        ("scans", "0007_change"),
    ]

    operations = [
        migrations.AddField(
            model_name="scan",
            name="expires_first",
            field=models.TextField(blank=True, default=""),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="scan",
            name="findings_counts",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="watch",
            name="uid",
            field=models.CharField(default="", editable=False, max_length=16),
            preserve_default=False,
        ),
        migrations.RunPython(fill_uids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="watch",
            name="uid",
            field=models.CharField(
                default=scans.models.new_watch_id, editable=False, max_length=16, unique=True
            ),
        ),
        migrations.AddField(
            model_name="watch",
            name="last_change",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="scans.scan",
            ),
        ),
    ]
