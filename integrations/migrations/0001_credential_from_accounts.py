"""Take over the credentials table from `accounts` (state only: no row or column changes)."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('accounts', '0006_credential_moves_to_integrations'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='Credential',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('service', models.CharField(choices=[('pulsetracker', 'Pulsetracker'), ('pulsoid', 'Pulsoid')], max_length=20)),
                        ('label', models.CharField(max_length=80)),
                        ('ciphertext', models.TextField(editable=False)),
                        ('last4', models.CharField(editable=False, max_length=4)),
                        ('linked_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('last_used_at', models.DateTimeField(blank=True, null=True)),
                        ('health', models.CharField(choices=[('ok', 'OK'), ('rejected', 'Rejected'), ('expired', 'Expired'), ('missing_scope', 'Missing scope'), ('unreachable', 'Unreachable'), ('needs_relinking', 'Needs re-linking')], default='ok', max_length=20)),
                        ('health_detail', models.CharField(blank=True, max_length=300)),
                        ('checked_at', models.DateTimeField(blank=True, null=True)),
                        ('scopes', models.JSONField(blank=True, default=list)),
                        ('expires_at', models.DateTimeField(blank=True, null=True)),
                        ('channel', models.CharField(blank=True, max_length=200)),
                        ('via_oauth', models.BooleanField(default=False, editable=False)),
                        ('refresh_ciphertext', models.TextField(blank=True, editable=False)),
                        ('last_used_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('linked_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('team', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='credentials', to='accounts.team')),
                    ],
                    options={
                        'ordering': ['service', 'label'],
                        'db_table': 'accounts_credential',
                        'constraints': [models.UniqueConstraint(fields=('team', 'service', 'label'), name='unique_label_per_team_and_service')],
                    },
                ),
            ],
        ),
    ]
