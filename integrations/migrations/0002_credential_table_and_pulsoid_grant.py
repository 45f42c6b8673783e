"""The credentials table takes this app's name, and Pulsoid's OAuth refresh token moves to a
model of its own: every credential connected through OAuth gets a grant holding the same
ciphertext (nothing is decrypted or re-encrypted), then the two Pulsoid-only columns go."""

import django.db.models.deletion
from django.db import migrations, models


def grants_from_columns(apps, schema_editor):
    Credential = apps.get_model('integrations', 'Credential')
    PulsoidGrant = apps.get_model('integrations', 'PulsoidGrant')
    PulsoidGrant.objects.bulk_create(
        PulsoidGrant(credential_id=pk, refresh_ciphertext=refresh)
        for pk, refresh in Credential.objects.filter(via_oauth=True).values_list('pk', 'refresh_ciphertext')
    )


def columns_from_grants(apps, schema_editor):
    Credential = apps.get_model('integrations', 'Credential')
    PulsoidGrant = apps.get_model('integrations', 'PulsoidGrant')
    for grant in PulsoidGrant.objects.all():
        Credential.objects.filter(pk=grant.credential_id).update(
            via_oauth=True, refresh_ciphertext=grant.refresh_ciphertext
        )


class Migration(migrations.Migration):

    dependencies = [
        ('integrations', '0001_credential_from_accounts'),
    ]

    operations = [
        migrations.AlterModelTable(name='credential', table=None),
        migrations.CreateModel(
            name='PulsoidGrant',
            fields=[
                ('credential', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='pulsoid_grant', serialize=False, to='integrations.credential')),
                ('refresh_ciphertext', models.TextField(blank=True, editable=False)),
            ],
        ),
        migrations.RunPython(grants_from_columns, columns_from_grants),
        migrations.RemoveField(model_name='credential', name='via_oauth'),
        migrations.RemoveField(model_name='credential', name='refresh_ciphertext'),
    ]
