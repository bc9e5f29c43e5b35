"""Learned issuers are certificates proven on a verified path, looked up by name and key id.

Before, every CA certificate a server sent or an issuer URL returned was a
learned issuer. The expected chains already recorded are paths the verifier
built to a trusted root, so their intermediates (positions 1 and up) are the
certificates that stay learned; everything else is forgotten as an issuer
(and kept as a certificate of its reports).
"""

from __future__ import annotations

from django.db import migrations, models
from django.db.models import F, Q


def learn_expected_intermediates(apps, schema_editor):  # type: ignore[no-untyped-def]
    Certificate = apps.get_model("scans", "Certificate")
    ChainEntry = apps.get_model("scans", "ChainEntry")
    proven = ChainEntry.objects.filter(kind="expected", position__gte=1).values("certificate_id")
    Certificate.objects.filter(pk__in=proven, is_ca=True).update(learned_at=F("first_seen"))


class Migration(migrations.Migration):
    dependencies = [("scans", "0002_watch")]

    operations = [
        migrations.AddField(
            model_name="certificate",
            name="learned_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RemoveIndex(model_name="certificate", name="cert_ca_subject"),
        migrations.AddIndex(
            model_name="certificate",
            index=models.Index(
                condition=Q(learned_at__isnull=False),
                fields=["subject_hash", "ski"],
                name="cert_learned_issuer",
            ),
        ),
        migrations.RunPython(learn_expected_intermediates, migrations.RunPython.noop),
    ]
