"""`witness activity work-record` and `work-record-review` (ACT-4: A12, B7)."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from witness.activities.models import WorkRecord
from witness.core.commands import BilingualCommandError
from witness.testing import factories as f


def run(*args):
    out = StringIO()
    call_command(*args, "--json", stdout=out)
    return json.loads(out.getvalue())


def fails(*args) -> BilingualCommandError:
    with pytest.raises(BilingualCommandError) as err:
        call_command(*args, stdout=StringIO())
    return err.value


def _users(site, profile):
    ns = site(profile)
    officer = ns.people["officer"]
    act = f.ActivityFactory(unit=ns.field, arrived_at=timezone.now() - timedelta(days=2),
                            activity_type="investigation" if profile == "lushan-2019"
                            else "routine_inspection")
    f.ActivityOfficerFactory(activity=act, person=officer, is_recorder=True)
    return ns, act, {role: p.user.username for role, p in ns.people.items()}


def test_ACT4_officer_files_and_the_principal_leader_reviews(site):
    ns, act, user = _users(site, "lushan-2019")
    filed = run("activity", "work-record", act.pk, "--as", user["officer"], "--kind",
                "exemption", "--reason", "commercial_secret", "--basis", "涉及商业秘密")
    assert (filed["activity"], filed["kind"], filed["reviewed_at"]) == (act.pk, "exemption",
                                                                        None)
    refused = fails("activity", "work-record-review", filed["id"], "--as", user["unit_head"])
    assert refused.error.code == "not_reviewer" and "主要领导" in refused.error.zh
    done = run("activity", "work-record-review", filed["id"], "--as", user["leader"],
               "--note", "同意")
    assert done["reviewed_by"] == str(ns.people["leader"]) and done["review_note"] == "同意"
    assert WorkRecord.objects.get(pk=filed["id"]).reviewed_at is not None


def test_ACT4_only_an_officer_of_the_activity_files(site):
    _ns, act, user = _users(site, "full-process-b")
    assert fails("activity", "work-record", act.pk, "--as", user["custodian"], "--kind", "stop",
                 "--reason", "weather", "--basis", "暴雨").error.code == "role"
    assert fails("activity", "work-record", act.pk, "--as", user["unit_head"], "--kind", "stop",
                 "--reason", "weather", "--basis", "暴雨").error.code == "not_officer"
    filed = run("activity", "work-record", act.pk, "--as", user["officer"], "--kind", "stop",
                "--reason", "weather", "--basis", "暴雨")
    # B7 asks for no review
    assert fails("activity", "work-record-review", filed["id"], "--as",
                 user["leader"]).error.code == "no_review"
    assert not WorkRecord.objects.filter(reviewed_at__isnull=False).exists()
