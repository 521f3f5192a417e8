"""``witness export`` (issue 7 items 5 and 7; EVD-1, EVD-3, ING-4): an activity whose
originals are really stored is exported as a BagIt bag that bagit-python validates, whose
SM3 manifest agrees with ``openssl dgst -sm3``, whose copies are distinct files with the
same bytes, with a signed tag manifest, a written explanation naming producer, extractor,
time and every digest, and the custody report; a tampered original aborts the export and
raises a finding; state secrets, removed content, non-custodians and a non-empty target are
refused."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from witness.access.labels import Label
from witness.audit import keys
from witness.audit.models import AuditEntry
from witness.derivatives.models import Derivative, Kind, Status
from witness.evidence import export
from witness.findings.models import Finding
from witness.org.models import Role
from witness.profiles import services as profiles
from witness.recordings.models import Attribution
from witness.storage.backends.local import LocalBackend
from witness.storage.config import get_backend
from witness.storage.models import Blob
from witness.storage.pipeline import store_file
from witness.storage.tests.test_fixity import flip
from witness.testing import factories as f

pytestmark = pytest.mark.django_db

SIZES = (3 * 1024 * 1024 + 17, 70_001)  # one spans several copy chunks (CHUNK below)
CHUNK = 1024 * 1024


class World:
    def __init__(self, site, tmp: Path, profile: str, digests: tuple[str, ...]):
        ns = site(profile)
        self.ns, self.agency, self.p, self.tmp = ns, ns.agency, ns.people, tmp
        if "sm3" in digests:
            path = profiles.new(f"{profile}-sm3", profile)
            text = path.read_text(encoding="utf-8")
            assert 'digests = ["sha256"]' in text
            path.write_text(text.replace('digests = ["sha256"]', 'digests = ["sha256", "sm3"]'),
                            encoding="utf-8")
            profiles.apply(self.agency, path.stem, actor="test")
        assert profiles.active(self.agency)[1].digests == digests
        self.officer, self.custodian = self.p["officer"], self.p["custodian"]
        self.case = f.CaseFactory(agency=self.agency, leader_in_charge=self.p["leader"],
                                  number="鲁市监立〔2026〕9号", name="某超市销售过期食品案")
        self.act = f.ActivityFactory(unit=ns.field, case=self.case, place="人民路 9 号")
        f.ActivityOfficerFactory(activity=self.act, person=self.officer, is_recorder=True)
        self.device = f.DeviceFactory(unit=ns.field, serial="DSJ-EXP-01")
        self.recs = [self.recording(name, size, digests) for name, size in
                     zip(("执法记录 1.MP4", "FILE_0002.MP4"), SIZES, strict=True)]

    def recording(self, name: str, size: int, digests):
        source = self.tmp / "src" / name
        source.parent.mkdir(exist_ok=True)
        source.write_bytes(os.urandom(size))
        blob = store_file(source, get_backend(), digests, actor="test").blob
        return f.RecordingFactory(blob=blob, device=self.device, activity=self.act,
                                  holder=self.officer, source_path=f"DCIM/100MEDIA/{name}",
                                  attribution=Attribution.ATTRIBUTED)


@pytest.fixture
def stores(settings, tmp_path):
    settings.WITNESS_STORAGE = f"file://{tmp_path / 'store'}"
    settings.WITNESS_REPLICA = ""
    settings.WITNESS_PROFILE_DIR = str(tmp_path / "profiles")
    settings.WITNESS_AUDIT_KEY = tmp_path / "audit.key"
    return tmp_path


@pytest.fixture
def world(site, stores):
    return World(site, stores, "lushan-2019", ("sha256", "sm3"))


def run_export(*args) -> dict:
    out = io.StringIO()
    call_command("export", *map(str, args), "--json", stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue())


def refused(*args) -> CommandError:
    with pytest.raises(CommandError) as caught:
        call_command("export", *map(str, args), stdout=io.StringIO(), stderr=io.StringIO())
    assert caught.value.returncode == 1
    return caught.value


def manifest_lines(path: Path) -> dict[str, str]:
    return {line.split("  ", 1)[1]: line.split("  ", 1)[0]
            for line in path.read_text(encoding="utf-8").splitlines()}


def bagit_validates(bag: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bagit", "--validate", str(bag)],
                          capture_output=True, text=True, timeout=120)


def test_EVD1_EVD3_an_activitys_package_is_a_bag_bagit_validates_ING4(world, tmp_path):
    out = tmp_path / "package"
    data = run_export(f"activity:{world.act.pk}", "--out", out,
                      "--as", world.custodian.user.username)
    assert data["files"] == 2 and data["bytes"] == sum(SIZES) and data["path"] == str(out)
    assert not out.with_name("package.partial").exists()
    done = bagit_validates(out)
    assert done.returncode == 0, done.stderr
    assert "is valid" in done.stderr
    import bagit

    bag = bagit.Bag(str(out))
    bag.validate()
    assert sorted(bag.payload_files()) == sorted(
        f"data/originals/{r.pk}-{export.safe_name(r.source_path)}" for r in world.recs)
    info = bag.info
    assert info["Source-Organization"] == world.agency.name
    assert info["Payload-Oxum"] == f"{sum(SIZES)}.2"
    assert info["Contact-Name"] == world.custodian.name
    assert info["Witness-Object"] == f"activity:{world.act.pk}"
    assert world.case.number in info["External-Identifier"]
    assert (out / "bagit.txt").read_bytes() == (
        b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    assert data["tagmanifest_sha256"] == hashlib.sha256(
        (out / "tagmanifest-sha256.txt").read_bytes()).hexdigest()
    # and what a court runs accepts it: every manifest, SM3 included, and the signature
    from witness.audit import keys
    from witness.evidence import verify

    report = verify.verify(out, trusted_key=keys.signer().public.raw)
    assert report.ok, report.problem


def test_EVD1_the_sm3_manifest_equals_openssl_dgst_sm3_ING4(world, tmp_path):
    out = tmp_path / "package"
    run_export(f"activity:{world.act.pk}", "--out", out, "--as", world.custodian.user.username)
    sm3 = manifest_lines(out / "manifest-sm3.txt")
    sha256 = manifest_lines(out / "manifest-sha256.txt")
    assert sorted(sm3) == sorted(sha256) and len(sm3) == 2
    for path, digest in sm3.items():
        done = subprocess.run(["openssl", "dgst", "-sm3", str(out / path)],
                              capture_output=True, text=True, check=True)
        assert done.stdout.strip().endswith(f"= {digest}")
        assert sha256[path] == hashlib.sha256((out / path).read_bytes()).hexdigest()
    for r in world.recs:  # the digests recorded at ingest
        path = f"data/originals/{r.pk}-{export.safe_name(r.source_path)}"
        assert sm3[path] == r.blob.digests["sm3"] and sha256[path] == r.blob.sha256
    tags = manifest_lines(out / "tagmanifest-sm3.txt")
    assert sorted(tags) == sorted(manifest_lines(out / "tagmanifest-sha256.txt")) == sorted([
        "bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sm3.txt",
        "explanation.pdf", "custody-report.pdf"])
    for name, digest in tags.items():
        assert hashlib.new("sm3", (out / name).read_bytes()).hexdigest() == digest


def test_EVD1_a_sha256_only_profile_has_no_sm3_manifest(site, stores, tmp_path):
    world = World(site, stores, "full-process-b", ("sha256",))
    out = tmp_path / "package"
    run_export(f"recording:{world.recs[1].pk}", "--out", out,
               "--as", world.custodian.user.username)
    assert not (out / "manifest-sm3.txt").exists()
    assert not (out / "tagmanifest-sm3.txt").exists()
    assert list(manifest_lines(out / "manifest-sha256.txt").values()) == [
        world.recs[1].blob.sha256]
    assert bagit_validates(out).returncode == 0


def test_ING4_copies_are_distinct_files_with_the_same_bytes(world, tmp_path):
    out = tmp_path / "package"
    run_export(f"case:{world.case.number}", "--out", out, "--as", world.custodian.user.username)
    backend = get_backend()
    for r in world.recs:
        copy = out / "data" / "originals" / f"{r.pk}-{export.safe_name(r.source_path)}"
        stored = backend.path(r.blob.key)
        assert copy.read_bytes() == stored.read_bytes()
        a, b = os.stat(copy), os.stat(stored)
        assert (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino)
        assert a.st_nlink == 1 and b.st_nlink == 1  # no hard link either way
        assert not copy.is_symlink()


def test_EVD1_the_signature_verifies_over_the_tag_manifest(world, tmp_path):
    out = tmp_path / "package"
    data = run_export(f"activity:{world.act.pk}", "--out", out,
                      "--as", world.custodian.user.username)
    sig = json.loads((out / "witness-signature.json").read_text())
    signed = (out / "tagmanifest-sha256.txt").read_bytes()
    key = keys.load_public((out / "witness-public-key.pem").read_text())
    assert sig["signed"] == "tagmanifest-sha256.txt" and sig["algorithm"] == key.algorithm
    assert sig["key_id"] == key.key_id == keys.signer().public.key_id == data["key_id"]
    assert key.verify(base64.b64decode(sig["signature"]), signed)
    assert not key.verify(base64.b64decode(sig["signature"]), signed + b"\n")


def test_EVD1_the_explanation_names_producer_extractor_time_and_digests(world, tmp_path):
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext missing (Debian: poppler-utils)")
    out = tmp_path / "package"
    before = timezone.localtime()
    run_export(f"activity:{world.act.pk}", "--out", out, "--as", world.custodian.user.username)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(out / "explanation.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    flat = "".join(text.split())
    assert "文字说明材料" in flat
    assert world.officer.name in flat and world.officer.badge_number in flat  # producer
    assert world.custodian.name in flat  # extractor
    assert world.ns.field.name in flat  # producing unit
    assert "从Witness原始文件存储中按内容寻址逐字节复制并校验" in flat  # method
    entry = AuditEntry.objects.get(action="evidence.export", outcome="success")
    when = timezone.localtime(entry.created_at)
    assert before.strftime("%Y-%m-%d") in flat
    assert any(m.strftime("%Y-%m-%d%H:%M") in flat for m in (before, when))  # the time
    for r in world.recs:
        assert "".join(export.safe_name(r.source_path).split()) in flat
        assert str(r.blob.size) in flat
        assert r.blob.sha256 in flat and r.blob.digests["sm3"] in flat
    custody_pdf = (out / "custody-report.pdf").read_bytes()
    assert custody_pdf.startswith(b"%PDF") and b"custody.json" in custody_pdf


def test_EVD1_the_export_is_audited_with_count_bytes_and_key(world, tmp_path):
    out = tmp_path / "package"
    data = run_export(f"activity:{world.act.pk}", "--out", out,
                      "--as", world.custodian.user.username)
    entry = AuditEntry.objects.get(action="evidence.export")
    assert entry.outcome == "success" and entry.actor_id == str(world.custodian.user.pk)
    assert entry.object_type == "activities.activity" and entry.object_id == str(world.act.pk)
    d = entry.details
    assert d["files"] == 2 and d["bytes"] == sum(SIZES)
    assert d["tagmanifest_sha256"] == data["tagmanifest_sha256"]
    assert d["key_id"] == keys.signer().public.key_id
    per_recording = AuditEntry.objects.filter(action="recording.export")
    assert sorted(int(e.object_id) for e in per_recording) == sorted(r.pk for r in world.recs)


def test_ING4_EVD1_a_tampered_original_aborts_with_a_finding_and_no_package(world, tmp_path):
    damaged = world.recs[1].blob
    flip(get_backend(), damaged.key)
    out = tmp_path / "package"
    error = refused(f"activity:{world.act.pk}", "--out", out,
                    "--as", world.custodian.user.username)
    assert error.error.code == "export_mismatch"
    assert "sha256" in error.error.en and "不一致" in error.error.zh
    assert not out.exists() and not out.with_name("package.partial").exists()
    finding = Finding.objects.get(rule_id=export.RULE)
    assert (finding.content_type.model, finding.object_id) == ("blob", damaged.pk)
    assert finding.severity == "serious"
    assert finding.details["mismatched"] == ["sha256", "sm3"]
    failed = AuditEntry.objects.get(action="evidence.export")
    assert failed.outcome == "failure" and failed.details["recording"] == world.recs[1].pk
    assert not AuditEntry.objects.filter(action="recording.export").exists()
    # the other recording alone still exports
    run_export(f"recording:{world.recs[0].pk}", "--out", out,
               "--as", world.custodian.user.username)
    assert bagit_validates(out).returncode == 0


def test_EVD1_an_existing_non_empty_folder_is_refused_and_kept(world, tmp_path):
    out = tmp_path / "package"
    out.mkdir()
    (out / "keep.txt").write_text("do not touch")
    error = refused(f"activity:{world.act.pk}", "--out", out,
                    "--as", world.custodian.user.username)
    assert error.error.code == "target_exists"
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert (out / "keep.txt").read_text() == "do not touch"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert refused(f"activity:{world.act.pk}", "--out", a_file).error.code == "target_exists"
    empty = tmp_path / "empty"
    empty.mkdir()
    run_export(f"activity:{world.act.pk}", "--out", empty)  # an empty folder is used
    assert bagit_validates(empty).returncode == 0
    assert not AuditEntry.objects.filter(action="evidence.export", outcome="success").exclude(
        details__path=str(empty)).exists()


def test_EVD3_a_state_secret_is_refused(world, tmp_path):
    Blob.objects.filter(pk=world.recs[0].blob_id)  # untouched
    world.recs[0].label = Label.STATE_SECRET
    world.recs[0].save(update_fields=["label"])
    out = tmp_path / "package"
    error = refused(f"activity:{world.act.pk}", "--out", out,
                    "--as", world.custodian.user.username)
    assert error.error.code == "state_secret"
    assert "国家秘密" in error.error.zh and "state secret" in error.error.en
    assert not out.exists() and not out.with_name("package.partial").exists()
    entry = AuditEntry.objects.get(action="evidence.export")
    assert entry.outcome == "refused"
    # the other recording of the activity, alone, is not a state secret
    run_export(f"recording:{world.recs[1].pk}", "--out", out,
               "--as", world.custodian.user.username)


def test_EVD3_EVD4_a_recording_of_a_state_secret_case_is_refused_whatever_its_own_label(
        world, tmp_path):
    """A case marked 国家秘密 covers its activities' recordings, even one labelled 一般 of its
    own (assigned after the case was marked): it is not exported, alone or with others."""
    world.case.label = Label.STATE_SECRET
    world.case.save(update_fields=["label"])
    assert world.recs[1].label != Label.STATE_SECRET
    for obj in (f"recording:{world.recs[1].pk}", f"activity:{world.act.pk}"):
        out = tmp_path / obj.replace(":", "-")
        error = refused(obj, "--out", out, "--as", world.custodian.user.username)
        assert error.error.code == "state_secret" and not out.exists()


def test_EVD3_removed_content_is_refused(world, tmp_path):
    Blob.objects.filter(pk=world.recs[1].blob_id).update(removed_at=timezone.now(),
                                                         removed_because="移交保密部门")
    error = refused(f"activity:{world.act.pk}", "--out", tmp_path / "package",
                    "--as", world.custodian.user.username)
    assert error.error.code == "content_removed" and "移交保密部门" in error.error.zh


@pytest.mark.parametrize("role", [Role.OFFICER, Role.UNIT_HEAD, Role.LEADER, Role.SYSADMIN])
def test_EVD3_only_a_custodian_may_export(world, tmp_path, role):
    out = tmp_path / "package"
    error = refused(f"activity:{world.act.pk}", "--out", out,
                    "--as", world.p[role].user.username)
    assert error.error.code == "role"
    assert not out.exists()
    assert AuditEntry.objects.get(action="evidence.export").outcome == "denied"


def test_EVD3_a_custodian_of_another_agency_is_refused(world, site, tmp_path):
    other = site("full-process-b")
    error = refused(f"activity:{world.act.pk}", "--out", tmp_path / "package",
                    "--as", other.people["custodian"].user.username)
    assert error.error.code == "scope"


def test_EVD3_playback_copies_go_into_their_own_folder(world, tmp_path):
    source = tmp_path / "copy.mp4"
    source.write_bytes(os.urandom(5000))
    blob = store_file(source, get_backend(), ("sha256", "sm3"), actor="test").blob
    Derivative.objects.create(recording=world.recs[0], kind=Kind.PLAYBACK, blob=blob,
                              status=Status.DONE)
    out = tmp_path / "package"
    data = run_export(f"activity:{world.act.pk}", "--out", out, "--playback-copies",
                      "--as", world.custodian.user.username)
    assert data["files"] == 3 and data["playback_copies"] == 1
    copies = list((out / "data" / "playback-copies").iterdir())
    assert len(copies) == 1 and copies[0].name.endswith("-playback.mp4")
    assert copies[0].read_bytes() == source.read_bytes()
    assert len(list((out / "data" / "originals").iterdir())) == 2
    assert bagit_validates(out).returncode == 0
    without = tmp_path / "without"
    run_export(f"activity:{world.act.pk}", "--out", without)
    assert not (without / "data" / "playback-copies").exists()


def test_EVD1_names_are_safe_and_manifest_paths_encoded():
    assert export.safe_name("DCIM\\100\\a%b\r\n<c>.mp4") == "a_b___c_.mp4"
    assert export.safe_name("录音/../") == "original"
    assert export.encode_path("data/a%\r\nb") == "data/a%25%0D%0Ab"


def test_ING4_copy_memory_is_flat_in_file_size(stores, tmp_path):
    backend = LocalBackend(tmp_path / "flat-store")
    peaks = []
    for mib in (8, 48):
        source = tmp_path / f"src-{mib}.bin"
        with open(source, "wb") as fh:
            for _ in range(mib):
                fh.write(os.urandom(1024 * 1024))
        stored = store_file(source, backend, ("sha256", "sm3"), actor="test")
        tracemalloc.start()
        digests, size = export.copy_object(backend, stored.key, tmp_path / f"copy-{mib}",
                                           ("sha256", "sm3"), chunk_size=CHUNK)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert size == mib * 1024 * 1024 and digests == stored.digests
    assert peaks[1] < 8 * CHUNK and peaks[1] < peaks[0] * 1.5, peaks


def test_EVD1_a_missing_original_aborts_with_a_failed_entry_and_no_package(world, tmp_path):
    """An original gone from the store (not a digest mismatch) still leaves a record."""
    from witness.storage.config import get_backend
    path = get_backend().path(world.recs[1].blob.key)
    path.chmod(0o644)
    path.unlink()
    out = tmp_path / "package"
    error = refused(f"activity:{world.act.pk}", "--out", out,
                    "--as", world.custodian.user.username)
    assert error.error.code
    assert not out.exists() and not out.with_name("package.partial").exists()
    entry = AuditEntry.objects.get(action="evidence.export")
    assert entry.outcome == "failure" and entry.details["error"]["code"] == error.error.code
