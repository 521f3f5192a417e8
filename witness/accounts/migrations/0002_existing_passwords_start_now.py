"""Accounts that exist when password age is introduced count their password's age from
this migration, not from the day they joined: an upgrade does not expire every password
at once (issue 5 item 6)."""

from django.conf import settings
from django.db import migrations
from django.utils import timezone


def start_now(apps, schema_editor):
    user_model = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    state = apps.get_model("accounts", "PasswordState")
    now = timezone.now()
    state.objects.bulk_create(
        [state(user_id=pk, changed_at=now) for pk in
         user_model.objects.exclude(password__startswith="!").values_list("pk", flat=True)],
        ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(start_now, migrations.RunPython.noop)]
