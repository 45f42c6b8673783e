"""Second-factor secrets are encrypted with the portal's keys (accounts.adapter.PortalMFAAdapter);
any stored before that, in the clear, are encrypted now."""

from django.db import migrations

#: The keys of allauth's Authenticator.data that hold secrets.
SECRET_KEYS = ("secret", "seed")


def encrypt_plain_secrets(apps, schema_editor):
    from accounts.crypto import Secret, decrypt, encrypt, DecryptionFailed

    Authenticator = apps.get_model('mfa', 'Authenticator')
    for authenticator in Authenticator.objects.all():
        data = dict(authenticator.data or {})
        changed = False
        for key in SECRET_KEYS:
            value = data.get(key)
            if not isinstance(value, str) or not value:
                continue
            try:
                decrypt(value)
            except DecryptionFailed:  # not ours yet: stored in the clear
                data[key] = encrypt(Secret(value))
                changed = True
        if changed:
            Authenticator.objects.filter(pk=authenticator.pk).update(data=data)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0008_team_requires_two_factor'),
        ('mfa', '0003_authenticator_type_uniq'),
    ]

    operations = [
        migrations.RunPython(encrypt_plain_secrets, migrations.RunPython.noop),
    ]
