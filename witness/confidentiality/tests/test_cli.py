"""`witness label …` and `witness secret …` (EVD-4, issue 5 item 4): the acting person
named by --as and authorised like the web; refusals in both languages with exit status 1."""

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import translation

from witness.access.labels import Label
from witness.audit.models import AuditEntry
from witness.confidentiality.models import ChangeState, HandoffState, LabelChange, SecretHandoff
from witness.core.commands import BilingualCommandError
from witness.storage.config import get_backend


def run(*args):
    out = StringIO()
    call_command(*[str(a) for a in args], "--json", stdout=out)
    return json.loads(out.getvalue())


def text(*args) -> str:
    out = StringIO()
    with translation.override("en"):
        call_command(*[str(a) for a in args], stdout=out)
    return out.getvalue()


def fails(*args) -> BilingualCommandError:
    with pytest.raises(BilingualCommandError) as err:
        call_command(*[str(a) for a in args], stdout=StringIO())
    return err.value


def test_EVD4_label_request_decide_list_from_the_command_line(world):
    w = world
    officer, leader = w.officer.user.username, w.principal.user.username
    asked = run("label", "request", "--as", officer, "--recording", w.rec.pk, "--label",
                "privacy", "--reason", "当事人面部")
    assert asked["state"] == "pending" and asked["target"] == f"recording:{w.rec.pk}"
    assert [c["id"] for c in run("label", "list", "--as", leader, "--pending")] == [asked["id"]]
    assert run("label", "list", "--as", officer, "--pending") == []
    own = fails("label", "decide", "--as", officer, asked["id"], "--approve")
    assert own.error.code == "role"  # officers do not decide
    no_reason = fails("label", "decide", "--as", leader, asked["id"], "--reject")
    assert no_reason.error.code == "reason_required"
    done = run("label", "decide", "--as", leader, asked["id"], "--approve", "--note", "同意")
    assert done["state"] == ChangeState.APPROVED and done["handoffs"] == []
    w.rec.refresh_from_db()
    assert w.rec.label == Label.PRIVACY
    entry = AuditEntry.objects.filter(action="label.approve").latest("id")
    assert entry.actor_label == leader
    assert "Label changes" in text("label", "list", "--as", officer)
    unknown = fails("label", "list", "--as", "nobody")
    assert unknown.error.code == "not_found"


def test_EVD4_secret_handoff_from_the_command_line(world):
    w = world
    unit_head, leader = w.p["unit_head"].user.username, w.principal.user.username
    custodian = w.custodian.user.username
    asked = run("label", "request", "--as", unit_head, "--activity", w.act.pk, "--label",
                "state_secret", "--reason", "经定密属国家秘密")
    done = run("label", "decide", "--as", leader, asked["id"], "--approve")
    handoff = SecretHandoff.objects.get(recording=w.rec)
    assert handoff.pk in done["handoffs"] and len(done["handoffs"]) == 2
    status = run("secret", "status", "--as", custodian, handoff.pk)
    assert status["state"] == HandoffState.MARKED and status["sha256"] == w.rec.blob.sha256

    early = fails("secret", "remove", "--as", custodian, handoff.pk)
    assert early.error.code == "out_of_order"
    by_leader = fails("secret", "export-recorded", "--as", leader, handoff.pk, "--medium",
                      "DVD-R", "--medium-id", "MM-1", "--held-at", "保密室", "--held-by", "张",
                      "--exported-at", "2026-11-30T09:00")
    assert by_leader.error.code == "role"
    run("secret", "export-recorded", "--as", custodian, handoff.pk, "--medium", "DVD-R",
        "--medium-id", "MM-1", "--held-at", "保密室", "--held-by", "张保密",
        "--exported-at", "2026-11-30T09:00", "--reference", "EXP-1")
    run("secret", "approve-removal", "--as", leader, handoff.pk, "--reason", "同意移除")
    dry = run("secret", "remove", "--as", custodian, handoff.pk, "--dry-run")
    assert dry["dry_run"] and get_backend().exists(w.rec.blob.key)
    removed = run("secret", "remove", "--as", custodian, handoff.pk)
    assert {o["copy"] for o in removed["objects"] if o["result"] == "removed"} >= {
        "primary", "replica"}
    assert not get_backend().exists(w.rec.blob.key)
    again = run("secret", "remove", "--as", custodian, handoff.pk)
    assert again["already_removed"]
    listed = run("secret", "status", "--as", leader)
    assert {h["id"] for h in listed} == set(done["handoffs"])
    assert fails("secret", "status", "--as", w.officer.user.username).error.code == "role"
    assert LabelChange.objects.get(pk=asked["id"]).state == ChangeState.APPROVED


def test_EVD4_a_refusal_in_a_child_process_exits_1_naming_the_user(world, tmp_path):
    from witness.testing.child import child_env

    env = child_env()
    if env is None:
        pytest.skip("the test database is not reachable from a child process")
    done = subprocess.run([sys.executable, "-m", "witness", "label", "list", "--as",
                           "nobody-here"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "nobody-here" in done.stderr
