"""Chain-of-custody reports (issue 4 item 5; ING-4, EVD-1, SUP-2): a body camera issued with
a pre-use check, a real ingest of two segments into a local store, a device event, the
return, a finding and a play — and the report of one recording, its activity and its case,
each entry proved against a signed checkpoint and checked with the public key alone."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import json
import re
import shutil
import subprocess
import sys
import zlib
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command, load_command_class
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from witness.activities import services as activities
from witness.audit import canonical, custody, keys, log, merkle
from witness.audit import services as audit
from witness.audit.custody_pdf import ACTION_LABELS, LABELS, page_count, render_pdf
from witness.audit.models import AuditEntry, Checkpoint
from witness.audit.sequencer import Sequencer
from witness.core.commands import BilingualCommandError
from witness.devices import services as devices
from witness.findings.services import raise_finding
from witness.ingest.services import ingest_volume
from witness.recordings.models import Recording
from witness.storage.backends.local import LocalBackend
from witness.testing import factories as f
from witness.testing.media import ffmpeg_available
from witness.testing.volumes import docked_camera

pytestmark = pytest.mark.django_db

VERIFIER = Path(__file__).resolve().parents[3] / "docs" / "audit_verify.py"
PARTS = Path(__file__).resolve().parents[2] / "locale" / "parts" / "custody.json"
DOC = VERIFIER.parent / "custody.md"


@pytest.fixture
def world(make_agency, tmp_path, settings):
    if not ffmpeg_available():
        pytest.fail("ffmpeg/ffprobe missing; `make install` installs them")
    settings.WITNESS_AUDIT_KEY = tmp_path / "audit.key"
    ns = make_agency("lushan-2019")
    officer, other = ns.people["officer"], ns.people["unit_head"]
    user = f.UserFactory(username="custodian1")
    device = f.DeviceFactory(unit=ns.field, serial="DSJ-A9-0042")
    start = (timezone.localtime() - timedelta(days=2)).replace(hour=9, minute=30, second=5,
                                                                microsecond=0)
    ns.issue = devices.issue_device(
        device, officer, at=start - timedelta(hours=1), actor=user,
        check={"checked_by": officer, "battery_percent": 90, "free_storage_mb": 30000,
               "device_time": start - timedelta(hours=1)})
    ns.case = activities.create_case(ns.agency, number="鲁市监立〔2026〕7号",
                                     name="某商行销售过期食品案",
                                     leader_in_charge=ns.people["leader"], actor=user)
    ns.activity = activities.create_activity(
        ns.agency, unit=ns.field, activity_type="on_site_enforcement", place="人民路 1 号",
        arrived_at=start - timedelta(minutes=5), departed_at=start + timedelta(minutes=10),
        officers=[officer, other], recorder=officer, case=ns.case, actor=user)
    volume = docked_camera(tmp_path / "cam", device.serial, officer.badge_number,
                           start.replace(tzinfo=None), count=2)
    ns.run = ingest_volume(volume.root, backend=LocalBackend(tmp_path / "store"),
                           actor="system:ingest")
    ns.first, ns.second = Recording.objects.filter(ingest_run=ns.run).order_by("started_at")
    devices.record_event(device, "maintenance", "更换电池 <b>*粗体*</b> #set", actor=user,
                         occurred_at=start + timedelta(minutes=20))
    devices.return_device(device, at=start + timedelta(hours=2), actor=user)
    # after the return: the device's next holder is outside the first recording's ledger line
    devices.issue_device(device, other, at=start + timedelta(hours=3), actor=user,
                         no_check_reason="test")
    raise_finding("test.custody", ns.first, {"note": "测试"}, actor=user)
    with transaction.atomic():
        audit.append(user, "recording.play", ns.first, details={"derivative": "playback"})
        audit.append(user, "recording.play", ns.second, details={})
    ns.user, ns.device, ns.start = user, device, start
    return ns


def actions(report) -> list[str]:
    return [item["entry"]["action"] for item in report["entries"]]


def check_with_witness(report) -> None:
    """Every entry re-encodes to its leaf, every proof reaches the signed root, and the
    checkpoint verifies with the public key in the report."""
    cp = report["checkpoint"]
    root = bytes.fromhex(cp["root"])
    key = keys.load_public(report["public_key"]["pem"])
    assert key.key_id == cp["key_id"] == report["public_key"]["key_id"]
    body = canonical.checkpoint_body(cp["tree_size"], cp["root"], cp["time"])
    assert key.verify(base64.b64decode(cp["signature"]), body)
    for item in report["entries"]:
        leaf = bytes.fromhex(item["leaf_hash"])
        assert merkle.leaf_hash(canonical.encode_entry(item["entry"])) == leaf
        proof = [bytes.fromhex(p) for p in item["proof"]]
        assert item["tree_size"] == cp["tree_size"]
        assert merkle.verify_inclusion(leaf, item["index"], cp["tree_size"], proof, root)


def check_with_outside_verifier(report, tmp_path) -> None:
    """The same checks with docs/audit_verify.py's own functions (no witness code)."""
    spec = importlib.util.spec_from_file_location("audit_verify", VERIFIER)
    verifier = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(verifier)
    pem = tmp_path / "key.pem"
    pem.write_text(report["public_key"]["pem"])
    der = verifier.read_public_key(str(pem))
    cp = report["checkpoint"]
    assert hashlib.sha256(der).hexdigest() == cp["key_id"]
    body = verifier.checkpoint_body(cp["tree_size"], cp["root"], cp["time"])
    assert verifier.signature_ok(cp["algorithm"], der, body, base64.b64decode(cp["signature"]))
    for item in report["entries"]:
        leaf = verifier.leaf_hash(verifier.encode_entry(item["entry"]))
        assert leaf.hex() == item["leaf_hash"]
        assert verifier.verify_inclusion(leaf, item["index"], cp["tree_size"],
                                         [bytes.fromhex(p) for p in item["proof"]],
                                         bytes.fromhex(cp["root"]))


def test_a_recordings_report_lists_its_custody_in_time_order_with_proofs_EVD1(world, tmp_path):
    report = custody.collect(world.first, actor="test")
    assert report["subject"] == {"kind": "recording", "id": world.first.pk,
                                 "ref": f"recording:{world.first.pk}",
                                 "label": world.first.source_path}
    assert actions(report) == [
        "device.issue", "device.check", "ingest.start", "blob.store", "recording.ingest",
        "ingest.finish", "device.event", "device.return", "finding.raise", "recording.play"]
    times = [item["entry"]["created_at"] for item in report["entries"]]
    assert times == sorted(times)
    played = report["entries"][-1]["entry"]
    assert played["object_id"] == str(world.first.pk)  # not the other recording's play
    assert report["entries"][0]["entry"]["details"]["issue_id"] == world.issue.pk
    about = {item["entry"]["action"]: item["about"] for item in report["entries"]}
    assert about["blob.store"] == [f"blob:{world.first.blob_id}"]
    assert about["device.event"] == [f"device:{world.device.pk}"]
    check_with_witness(report)
    check_with_outside_verifier(report, tmp_path)

    [recording] = report["recordings"]
    original = recording["original"]
    assert original["sha256"] == world.first.blob.sha256
    assert {"algorithm": "sha256", "hex": world.first.blob.sha256} in original["digests"]
    assert original["size"] == world.first.blob.size
    ledger = recording["ledger"]
    assert ledger["id"] == world.issue.pk and ledger["returned_at"]
    assert [c["battery_percent"] for c in ledger["checks"]] == [90]
    assert [e["kind"] for e in ledger["events"]] == ["maintenance"]
    assert recording["ingest_run"]["id"] == world.run.pk
    assert [x["rule_id"] for x in report["findings"]] == ["test.custody"]
    assert report["agency"]["name"] == world.agency.name


def test_an_sm2_signed_report_verifies_with_the_sm2_public_key_EVD1(world, settings, tmp_path):
    settings.WITNESS_AUDIT_ALGORITHM = "sm2"
    settings.WITNESS_AUDIT_KEY = tmp_path / "sm2.key"
    report = custody.collect(world.first)
    assert report["checkpoint"]["algorithm"] == report["public_key"]["algorithm"] == "sm2"
    check_with_witness(report)
    check_with_outside_verifier(report, tmp_path)


def test_the_check_in_the_docs_accepts_a_report_and_rejects_a_forged_one_EVD1(world, tmp_path):
    """docs/custody.md's script, run as its own process with the published key."""
    [script] = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    (tmp_path / "check_custody.py").write_text(script)
    report = custody.collect(world.activity)
    (tmp_path / "key.pem").write_text(keys.signer().public.pem())

    def check(data) -> subprocess.CompletedProcess:
        (tmp_path / "report.json").write_text(json.dumps(data, ensure_ascii=False))
        return subprocess.run([sys.executable, "check_custody.py", "report.json", "key.pem",
                               str(VERIFIER)], cwd=tmp_path, capture_output=True, text=True)

    done = check(report)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"OK: {len(report['entries'])} entries")
    forged = json.loads(json.dumps(report))
    forged["entries"][2]["entry"]["actor_label"] = "someone else"
    assert "FAILED: entry" in check(forged).stderr


def test_a_broken_proof_or_changed_entry_does_not_verify_EVD1(world):
    report = custody.collect(world.first)
    cp = report["checkpoint"]
    item = report["entries"][3]
    leaf = bytes.fromhex(item["leaf_hash"])
    proof = [bytes.fromhex(p) for p in item["proof"]]
    root = bytes.fromhex(cp["root"])
    bent = [bytes(32), *proof[1:]] if proof else [bytes(32)]
    assert not merkle.verify_inclusion(leaf, item["index"], cp["tree_size"], bent, root)
    changed = dict(item["entry"], actor_label="someone else")
    assert merkle.leaf_hash(canonical.encode_entry(changed)) != leaf


def test_activity_and_case_reports_cover_every_recording_EVD1(world, tmp_path):
    report = custody.collect(world.activity)
    assert [r["id"] for r in report["recordings"]] == [world.first.pk, world.second.pk]
    assert actions(report).count("recording.ingest") == 2
    assert actions(report).count("recording.play") == 2
    assert "activity.create" in actions(report)
    assert "case.create" not in actions(report)
    check_with_witness(report)

    case = custody.collect(world.case)
    assert case["case"]["number"] == "鲁市监立〔2026〕7号"
    assert [a["id"] for a in case["activities"]] == [world.activity.pk]
    assert actions(case)[:2] == ["device.issue", "device.check"]
    assert {"case.create", "activity.create", "recording.ingest"} <= set(actions(case))
    assert len(case["entries"]) == len(report["entries"]) + 1
    check_with_witness(case)
    check_with_outside_verifier(case, tmp_path)


def test_a_checkpoint_is_signed_only_when_none_covers_the_entries_EVD1(world):
    before = Checkpoint.objects.count()
    first = custody.collect(world.first)
    assert Checkpoint.objects.count() == before + 1
    again = custody.collect(world.first)
    assert Checkpoint.objects.count() == before + 1
    assert again["checkpoint"] == first["checkpoint"]
    with transaction.atomic():
        audit.append(world.user, "recording.play", world.first)
    third = custody.collect(world.first)
    assert third["checkpoint"]["tree_size"] > first["checkpoint"]["tree_size"]
    assert actions(third)[-1] == "recording.play"


def test_queries_do_not_grow_with_the_number_of_entries_EVD1(world):
    """The report's own reads (the sequencer's and the signing's aside) are set-based."""

    def queries(plays):
        with transaction.atomic():
            for _ in range(plays):
                audit.append(world.user, "recording.play", world.first)
        log.checkpoint()  # sequences them and covers them
        Sequencer().drain()  # and the checkpoint's own entry: collect has nothing to sequence
        with CaptureQueriesContext(connection) as seen:
            report = custody.collect(world.activity)
        return len(seen), len(report["entries"])

    few, entries_few = queries(2)
    many, entries_many = queries(120)
    assert entries_many == entries_few + 120
    assert many == few


def pdf_attachment(pdf: bytes) -> dict:
    """The report attached to the PDF (its streams are Flate-compressed)."""
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            data = zlib.decompress(match.group(1))
        except zlib.error:
            data = match.group(1)
        if data.lstrip().startswith(b"{") and b"witness-custody/v1" in data:
            return json.loads(data)
    raise AssertionError("no custody.json attached")


def test_the_pdf_embeds_the_cjk_font_the_digests_and_the_report_EVD1(world, tmp_path):
    report = custody.collect(world.case)
    pdf = render_pdf(report)
    assert pdf.startswith(b"%PDF-")
    assert re.search(rb"/BaseFont\s*/[A-Z]{6}\+NotoSansCJKsc-Regular", pdf)
    assert b"/FontFile" in pdf
    assert page_count(pdf) >= 1
    assert pdf_attachment(pdf) == report
    sha = world.first.blob.sha256
    if shutil.which("pdffonts"):
        path = tmp_path / "r.pdf"
        path.write_bytes(pdf)
        fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True,
                               check=True).stdout
        cjk = [line for line in fonts.splitlines() if "NotoSansCJK" in line]
        assert cjk and all(" yes yes " in line for line in cjk)  # embedded, subset
        text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                              text=True, check=True).stdout
        assert sha in text
        compact = re.sub(r"\s+", "", text)
        assert world.agency.name in compact and "DSJ-A9-0042" in compact
        with translation.override("zh-hans"):
            assert re.sub(r"\s+", "", str(LABELS["title"])) in compact
        assert "recording.ingest" in text and world.first.source_path in text


def test_user_text_is_never_markup_EVD1(world):
    report = custody.collect(world.first)
    report["subject"]["label"] = '#panic("x") ] $ * _ ` <a> @b \\'
    report["recordings"][0]["source_path"] = "#import \"/etc/passwd\""
    pdf = render_pdf(report)
    assert pdf.startswith(b"%PDF-")


def test_the_cli_writes_both_formats_and_audits_each_EVD1(world, tmp_path):
    ref = f"recording:{world.first.pk}"
    out = io.StringIO()
    call_command("custody", ref, "--out", str(tmp_path / "r.pdf"), "--json", stdout=out)
    made = json.loads(out.getvalue())
    pdf = (tmp_path / "r.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and made["format"] == "pdf"
    assert made["sha256"] == hashlib.sha256(pdf).hexdigest()
    entry = AuditEntry.objects.filter(action="custody.report").latest("id")
    assert (entry.object_type, entry.object_id) == ("recordings.recording",
                                                    str(world.first.pk))
    assert entry.details["sha256"] == made["sha256"] and entry.actor_label.startswith("cli")

    call_command("custody", f"case:{world.case.number}", "--out",
                 str(tmp_path / "case.data"), "--format", "json", stdout=io.StringIO())
    data = json.loads((tmp_path / "case.data").read_text(encoding="utf-8"))
    assert data["subject"]["kind"] == "case"
    check_with_witness(data)
    call_command("custody", f"activity:{world.activity.pk}", "--out",
                 str(tmp_path / "a.json"), stdout=io.StringIO())
    again = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))
    # the report of the recording written above is itself in the chain now
    assert "custody.report" in actions(again)
    assert list(tmp_path.glob(".*.tmp")) == []


@pytest.mark.django_db(transaction=True)
def test_the_cli_refuses_unknown_objects_in_both_languages_EVD1(tmp_path, capsys):
    """As in a shell: exit 1, Chinese and English on stderr, the error as JSON on stdout
    (run_from_argv closes the connection: a transactional test)."""
    command = load_command_class("witness.audit", "custody")
    with pytest.raises(SystemExit) as exited:
        command.run_from_argv(["witness", "custody", "recording:999999", "--out",
                               str(tmp_path / "x.pdf")])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert "No recording with id 999999." in err
    assert "没有编号为 999999 的音像记录" in err
    assert not (tmp_path / "x.pdf").exists()
    for args, code in ((["thing:1", "--out", "x.pdf"], "bad_object"),
                       (["case:没有这个案件", "--out", "x.pdf"], "case_not_found"),
                       (["activity:abc", "--out", "x.json"], "activity_not_found")):
        with pytest.raises(SystemExit) as exited:
            load_command_class("witness.audit", "custody").run_from_argv(
                ["witness", "custody", *args, "--json"])
        assert exited.value.code == 1
        assert json.loads(capsys.readouterr().out)["error"]["code"] == code


def test_a_file_name_that_does_not_tell_the_format_is_refused_EVD1(world, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(BilingualCommandError) as refused:
        call_command("custody", f"recording:{world.first.pk}", "--out",
                     str(folder / "x.txt"), stdout=io.StringIO())
    assert refused.value.error.code == "bad_format"
    assert list(folder.iterdir()) == []


def test_every_new_message_has_a_chinese_translation_EVD1():
    parts = json.loads(PARTS.read_text(encoding="utf-8"))
    texts = [*ACTION_LABELS.values(), *LABELS.values()]
    with translation.override("en"):
        missing = [str(t) for t in texts if not parts.get(str(t))]
        title = parts[str(LABELS["title"])]
    assert missing == []
    assert title == "执法音像记录保管链报告"
