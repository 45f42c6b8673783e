"""Sign-in moves to django-allauth: every existing person gets their address as allauth's primary
email (not yet verified). Passwords, teams, roles and sessions are untouched."""

from django.db import migrations


def addresses_for_everyone(apps, schema_editor):
    User = apps.get_model('accounts', 'User')
    EmailAddress = apps.get_model('account', 'EmailAddress')
    known = set(EmailAddress.objects.values_list('user_id', flat=True))
    EmailAddress.objects.bulk_create(
        EmailAddress(user_id=pk, email=email.lower(), primary=True, verified=False)
        for pk, email in User.objects.values_list('pk', 'email')
        if pk not in known and email
    )


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0006_credential_moves_to_integrations'),
        ('account', '0009_emailaddress_unique_primary_email'),
    ]

    operations = [
        migrations.RunPython(addresses_for_everyone, migrations.RunPython.noop),
    ]
