"""Shared endpoint outcomes (schema, step 3 of 3): the per-endpoint copies go."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('scans', '0005_outcomes_data'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='chainentry',
            name='chain_slot',
        ),
        migrations.RemoveField(
            model_name='chainentry',
            name='endpoint',
        ),
        migrations.RemoveField(
            model_name='endpoint',
            name='anchor',
        ),
        migrations.RemoveField(
            model_name='endpoint',
            name='anchor_source',
        ),
        migrations.RemoveField(
            model_name='endpoint',
            name='clients',
        ),
        migrations.RemoveField(
            model_name='endpoint',
            name='error',
        ),
        migrations.RemoveField(
            model_name='endpoint',
            name='valid_until',
        ),
        migrations.RemoveField(
            model_name='endpoint',
            name='verdict',
        ),
        migrations.RemoveField(
            model_name='finding',
            name='endpoint',
        ),
        migrations.AlterField(
            model_name='chainentry',
            name='outcome',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='chain', to='scans.outcome'),
        ),
        migrations.AlterField(
            model_name='endpoint',
            name='outcome',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='endpoints', to='scans.outcome'),
        ),
        migrations.AddConstraint(
            model_name='chainentry',
            constraint=models.UniqueConstraint(fields=('outcome', 'kind', 'position'), name='chain_slot'),
        ),
        migrations.AddConstraint(
            model_name='finding',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('outcome__isnull', False), ('scan__isnull', True)), models.Q(('outcome__isnull', True), ('scan__isnull', False)), _connector='OR'), name='finding_one_owner'),
        ),
        migrations.AddConstraint(
            model_name='finding',
            constraint=models.UniqueConstraint(condition=models.Q(('outcome__isnull', False)), fields=('outcome', 'position'), name='finding_outcome_slot'),
        ),
            # Indexes that others already cover (see models.py): bytes per rescan.
        migrations.AlterField(
            model_name='endpoint',
            name='scan',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='endpoints', to='scans.scan'),
        ),
        migrations.AlterField(
            model_name='scan',
            name='host',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='scans', to='scans.host'),
        ),
    ]
