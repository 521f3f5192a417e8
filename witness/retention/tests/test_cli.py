"""`witness retention|hold|complaint` (RET-1, RET-2): --help, --json, --dry-run, the purge
refused without approval (exit 1, both languages), a complaint proposing a hold."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from witness.retention.models import BatchState, Hold, PurgeBatch
from witness.storage.config import get_backend

pytestmark = pytest.mark.django_db


def cli(*args) -> dict | list:
    out = io.StringIO()
    call_command(*[str(a) for a in args], "--json", stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue())




@pytest.mark.parametrize("command,subs", [
    ("retention", ["plan", "propose", "approve", "reject", "execute", "show", "recompute"]),
    ("hold", ["propose", "approve", "reject", "release", "list"]),
    ("complaint", ["register", "list"]),
])
def test_RET1_every_subcommand_has_help(command, subs, capsys):
    for sub in subs:
        with pytest.raises(SystemExit) as exc:
            call_command(command, sub, "--help")
        assert exc.value.code == 0
        assert "--json" in capsys.readouterr().out


def test_RET1_purge_through_the_cli(world, capsys):
    rec = world.recording()
    custodian, leader = world.custodian.user.username, world.leader.user.username
    assert cli("retention", "recompute")["extended"] >= 1
    plan = cli("retention", "plan", "--as", custodian)
    assert [p["recording"] for p in plan] == [rec.pk]
    dry = cli("retention", "propose", "--as", custodian, "--all-expired", "--dry-run")
    assert dry["dry_run"] and not PurgeBatch.objects.exists()
    batch = cli("retention", "propose", "--as", custodian, "--recording", rec.pk)["batch"]
    with pytest.raises(CommandError, match="only an approved batch is purged"):
        call_command("retention", "execute", "--as", custodian, batch["id"])
    assert get_backend().exists(rec.blob.key)
    with pytest.raises(CommandError, match=r"retention\.decide"):  # a custodian: no approver
        call_command("retention", "approve", "--as", custodian, batch["id"])
    cli("retention", "approve", "--as", leader, batch["id"], "--dry-run")
    assert PurgeBatch.objects.get().state == BatchState.PROPOSED
    cli("retention", "approve", "--as", leader, batch["id"])
    done = cli("retention", "execute", "--as", custodian, batch["id"])
    assert done["items"][0]["result"] == "purged"
    assert not get_backend().exists(rec.blob.key)
    shown = cli("retention", "show", "--as", leader, batch["id"])
    assert shown["item_list"][0]["tombstone"]["digests"]["sha256"] == rec.blob.sha256


def test_RET2_holds_and_complaints_through_the_cli(world):
    officer, leader = world.officer.user.username, world.leader.user.username
    legal = world.p["legal"].user.username
    dry = cli("hold", "propose", "--as", officer, "--activity", world.loose.pk,
              "--reason", "obstruction", "--note", "辱骂执法人员", "--dry-run")
    assert dry["dry_run"] and not Hold.objects.exists()
    hold = cli("hold", "propose", "--as", officer, "--activity", world.loose.pk,
               "--reason", "obstruction", "--note", "辱骂执法人员")
    assert cli("hold", "approve", "--as", leader, hold["id"])["state"] == "active"
    assert cli("hold", "release", "--as", legal, hold["id"], "--note", "结案")["state"] \
        == "released"
    got = cli("complaint", "register", "--as", legal, "--activity", world.act.pk, "--kind",
              "complaint", "--complainant", "赵某", "--received-at", "2026-11-20T09:30",
              "--summary", "对处罚不服")
    assert got["hold"]["state"] == "proposed" and got["hold"]["reason"] == "dispute"
    assert [c["id"] for c in cli("complaint", "list", "--as", legal)] == [got["id"]]
    assert len(cli("hold", "list", "--as", leader)) == 2
