"""The scheduler enqueues each periodic job once per interval (issue 4: the daily fixity
batch, ING-4), remembering the last run through the task queue itself."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from witness.cli import schedule

pytestmark = pytest.mark.django_db

FIXITY = "witness.storage.tasks.fixity_batch"
FULL_CHECK = "witness.compliance.tasks.full_check"  # issue 6: the nightly compliance check
RECOMPUTE = "witness.retention.tasks.recompute_all"  # issue 7: keep-until, never shortened
CLEAN = "witness.preservation.tasks.clean_packages"  # export packages past their approval


def test_a_job_is_enqueued_when_due_and_not_again_within_its_interval_ING4(capsys):
    assert FIXITY in [job.task for job in schedule.due()]
    call_command("scheduler")
    assert "fixity_batch" in capsys.readouterr().out
    assert DBTaskResult.objects.filter(task_path=FIXITY).count() == 1
    assert schedule.run_due() == []
    assert schedule.run_due(timezone.now() + timedelta(hours=23)) == []
    assert schedule.run_due(timezone.now() + timedelta(days=1, minutes=1)) == [FIXITY,
                                                                               FULL_CHECK,
                                                                               RECOMPUTE,
                                                                               CLEAN]
    assert DBTaskResult.objects.filter(task_path=FIXITY).count() == 2
