"""``witness preserve`` and ``witness burn-disc`` (issue 7 item 4; RET-2, A16, EVD-1), and
``witness export --iso`` (item 5): disc images read back with isoinfo match their manifests,
content spans several discs (each with its own manifest and "disc k of n", every file on
exactly one disc), a file larger than a disc is refused, the label and explanation PDFs name
what A16 asks for, and an image written to xorriso's file-backed pseudo-drive reads back."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from witness.audit.models import AuditEntry
from witness.evidence.tests.test_export import (
    World,
    bagit_validates,
    manifest_lines,
    stores,  # noqa: F401 - fixture
)
from witness.preservation import discs, iso

pytestmark = pytest.mark.django_db

CAPACITY = 6 * 1024 * 1024  # room for the 3 MiB and the 70 kB original, not the 2 MiB one


@pytest.fixture
def world(site, stores):  # noqa: F811
    w = World(site, stores, "lushan-2019", ("sha256", "sm3"))
    w.recs.append(w.recording("FILE_0003.MP4", 2 * 1024 * 1024 + 5, ("sha256", "sm3")))
    return w


def run(name: str, *args) -> dict:
    out = io.StringIO()
    call_command(name, *map(str, args), "--json", stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue())


def isoinfo(image: Path, *args) -> bytes:
    return subprocess.run(["isoinfo", "-i", str(image), *args], check=True,
                          capture_output=True, timeout=60).stdout


def pdf_text(data: bytes) -> str:
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, check=True,
                          capture_output=True, timeout=60).stdout.decode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_RET2_A16_an_activity_spans_two_discs_each_read_back_by_isoinfo(world, tmp_path):
    out = tmp_path / "discs"
    data = run("preserve", f"activity:{world.act.pk}", "--out", out, "--capacity", CAPACITY,
               "--as", world.custodian.user.username)
    assert data["discs"] == 2 and data["files"] == 3
    images = sorted(out.glob("*.iso"))
    assert [p.name for p in images] == ["disc-1-of-2.iso", "disc-2-of-2.iso"]
    sums = dict(reversed(line.split("  ")) for line in
                (out / "SHA256SUMS").read_text().splitlines())
    seen: list[str] = []
    originals = {f"data/originals/{r.pk}-{Path(r.source_path).name}": r for r in world.recs}
    for k, image in enumerate(images, 1):
        assert image.stat().st_size <= CAPACITY
        with open(image, "rb") as fh:  # the image's SHA-256 as the sums and audit give it
            assert hashlib.file_digest(fh, "sha256").hexdigest() == sums[image.name]
        info = isoinfo(image, "-d").decode()
        assert "Joliet" in info and "Rock Ridge" in info
        listed = isoinfo(image, "-R", "-f").decode().splitlines()
        manifest = {line.split("  ", 1)[1]: line.split("  ", 1)[0] for line in isoinfo(
            image, "-R", "-x", "/manifest-sha256.txt").decode().splitlines()}
        assert manifest and all("/" + path in listed for path in manifest)
        for path, digest in manifest.items():
            content = isoinfo(image, "-R", "-x", "/" + path)
            assert sha256(content) == digest == originals[path].blob.sha256
            seen.append(path)
        bag_info = isoinfo(image, "-R", "-x", "/bag-info.txt").decode()
        assert f"Witness-Disc: {k}/2" in bag_info
        explanation = pdf_text(isoinfo(image, "-R", "-x", "/explanation.pdf"))
        flat = explanation.replace(" ", "").replace("\n", "")
        assert f"第{k}张，共2张" in flat and world.custodian.name in flat
        for path in manifest:
            assert path.replace(" ", "") in flat
        assert "custody" not in listed and "/custody-report.pdf" in listed
    assert sorted(seen) == sorted(originals)  # every file on exactly one disc
    for copy in (1, 2):
        text = pdf_text((out / f"label-copy-{copy}.pdf").read_bytes()).replace(" ", "")
        for k in (1, 2):
            assert f"第{k}张，共2张" in text
            assert sums[f"disc-{k}-of-2.iso"] in text.replace("\n", "")
        assert f"第{copy}份，共2份" in text
        for field in ("制作单位", "制作人", "制作时间", world.custodian.name,
                      world.case.number, world.case.name, world.agency.name):
            assert field.replace(" ", "") in text, field
    entry = AuditEntry.objects.filter(action="preservation.preserve").latest("id")
    assert entry.outcome == "success" and entry.actor_label == world.custodian.user.username
    assert [d["sha256"] for d in entry.details["layout"]] == [sums[p.name] for p in images]
    assert AuditEntry.objects.filter(action="recording.preserve").count() == 3


def test_RET2_EVD1_a_disc_is_a_bag_that_verifies_when_copied_off(world, tmp_path):
    out = tmp_path / "discs"
    run("preserve", f"recording:{world.recs[1].pk}", "--out", out)
    (image,) = out.glob("*.iso")
    copied = tmp_path / "copied"
    subprocess.run(["xorriso", "-osirrox", "on", "-indev", f"stdio:{image}", "-extract", "/",
                    str(copied)], check=True, capture_output=True, timeout=60)
    done = bagit_validates(copied)
    assert done.returncode == 0, done.stderr
    assert subprocess.run([".venv/bin/witness", "verify-package", str(copied)],
                          capture_output=True, timeout=120).returncode == 0


def test_RET2_a_file_larger_than_a_disc_is_refused_in_both_languages(world, tmp_path):
    out = tmp_path / "discs"
    with pytest.raises(CommandError) as caught:
        call_command("preserve", f"activity:{world.act.pk}", "--out", str(out), "--capacity",
                     str(3 * 1024 * 1024), stdout=io.StringIO(), stderr=io.StringIO())
    message = str(caught.value)
    assert "larger than one disc holds" in message and "光盘" in message
    assert not out.exists() and not out.with_name("discs.partial").exists()
    entry = AuditEntry.objects.filter(action="preservation.preserve").latest("id")
    assert entry.outcome == "refused" and entry.details["error"]["code"] == "file_too_large"


def test_RET2_dry_run_shows_the_plan_and_writes_nothing(world, tmp_path):
    out = tmp_path / "discs"
    data = run("preserve", f"activity:{world.act.pk}", "--out", out, "--capacity", CAPACITY,
               "--dry-run")
    assert data["dry_run"] and data["discs"] == 2
    assert sorted(p for d in data["layout"] for p in d["files"]) == sorted(
        f"data/originals/{r.pk}-{Path(r.source_path).name}" for r in world.recs)
    assert not out.exists()
    assert not AuditEntry.objects.filter(action="preservation.preserve").exists()


def test_RET2_the_real_capacities_of_the_media():
    assert discs.MEDIA["dvd"] == 4_700_372_992
    assert discs.MEDIA["bd25"] == 25_025_314_816 and discs.MEDIA["bd50"] == 50_050_629_632


def test_RET2_burning_to_the_pseudo_drive_reads_back_the_image(world, tmp_path):
    out = tmp_path / "discs"
    run("preserve", f"recording:{world.recs[1].pk}", "--out", out)
    (image,) = out.glob("*.iso")
    drive = tmp_path / "drive.img"
    data = run("burn-disc", image, "--device", f"stdio:{drive}", "--copy", 2)
    want = (out / "SHA256SUMS").read_text().split()[0]
    assert data["sha256"] == want and data["bytes"] == image.stat().st_size
    with open(drive, "rb") as fh:  # the drive holds the image (and xorriso's padding)
        assert sha256(fh.read(image.stat().st_size)) == want
    entry = AuditEntry.objects.filter(action="preservation.burn").latest("id")
    assert entry.outcome == "success" and entry.details["copy"] == 2
    # an image changed after it was preserved is not written
    other = tmp_path / "other"
    other.mkdir()
    tampered = other / image.name
    tampered.write_bytes(image.read_bytes()[:-1] + b"\x01")
    (other / "SHA256SUMS").write_text(f"{want}  {image.name}\n")
    with pytest.raises(CommandError) as caught:
        call_command("burn-disc", str(tampered), "--device", f"stdio:{tmp_path / 'd2.img'}",
                     stdout=io.StringIO(), stderr=io.StringIO())
    assert "image_changed" in str(caught.value) or "not the one preserved" in str(caught.value)
    assert AuditEntry.objects.filter(action="preservation.burn").latest("id").outcome == \
        "failure"


def test_RET2_read_back_finds_a_wrong_digest_and_a_stray_file(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.bin").write_bytes(b"a" * 5000)
    image = tmp_path / "x.iso"
    iso.build_image(root, image, "TEST")
    good = {"a.bin": {"sha256": sha256(b"a" * 5000)}}
    assert iso.read_back(image, good) == {"files": 1, "bytes": 5000}
    with pytest.raises(iso.ImageError) as caught:
        iso.read_back(image, {"a.bin": {"sha256": sha256(b"b" * 5000)}})
    assert caught.value.code == "image_digest_mismatch"
    with pytest.raises(iso.ImageError) as caught:
        iso.read_back(image, {**good, "b.bin": {"sha256": sha256(b"")}})
    assert caught.value.code == "image_files_differ"


def test_EVD1_export_iso_writes_the_bag_as_an_image_read_back(world, tmp_path):
    out = tmp_path / "package"
    data = run("export", f"activity:{world.act.pk}", "--out", out, "--iso",
               "--as", world.custodian.user.username)
    image = Path(data["iso"])
    assert image == tmp_path / "package.iso"
    with open(image, "rb") as fh:
        assert hashlib.file_digest(fh, "sha256").hexdigest() == data["iso_sha256"]
    for path, digest in manifest_lines(out / "manifest-sha256.txt").items():
        assert sha256(isoinfo(image, "-R", "-x", "/" + path)) == digest
    assert isoinfo(image, "-R", "-x", "/tagmanifest-sha256.txt") == \
        (out / "tagmanifest-sha256.txt").read_bytes()
    entry = AuditEntry.objects.filter(action="evidence.export_iso").latest("id")
    assert entry.details["iso_sha256"] == data["iso_sha256"]
