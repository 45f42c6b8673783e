"""Credentials move to the integrations app (its migration 0001 takes over the same table).

The activity log keeps a credential's id as a plain number instead of a foreign key, so that
`accounts` never depends on `integrations`: the column and its values stay as they are, only the
database constraint goes.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0005_activity_label_index'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AlterField(
                    model_name='activity',
                    name='credential',
                    field=models.ForeignKey(blank=True, null=True, db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='accounts.credential'),
                ),
            ],
            state_operations=[
                migrations.RemoveField(model_name='activity', name='credential'),
                migrations.AddField(
                    model_name='activity',
                    name='credential_id',
                    field=models.BigIntegerField(blank=True, db_index=True, null=True),
                ),
            ],
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name='Credential')],
        ),
    ]
