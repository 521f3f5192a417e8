# Login failure handling (issue 5 item 6): one row per user name with failed log-ins.

from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name='LoginLock',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('username', models.CharField(max_length=150, unique=True, verbose_name='user name')),
                ('failures', models.PositiveIntegerField(default=0, verbose_name='consecutive failures')),
                ('last_failure_at', models.DateTimeField(db_index=True, verbose_name='last failure')),
                ('locked_until', models.DateTimeField(blank=True, null=True, verbose_name='locked until')),
            ],
            options={
                'verbose_name': 'login lock',
                'verbose_name_plural': 'login locks',
            },
        ),
    ]
