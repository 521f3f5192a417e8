"""Preservation fixes (RET-2, A16; EVD-1): an empty original reads back from its disc image;
a disc of many small files is planned with room for their manifest lines and explanation
rows (no disc found too large only after its files were copied)."""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from witness.evidence import export as ex
from witness.evidence.explanation import render_explanation
from witness.preservation import discs, iso
from witness.preservation.tests.test_web_export import world  # noqa: F401 - fixture

ALGORITHMS = ("sha256", "sm3")

# what xorriso 1.4/1.5 print for an image holding an empty file: some versions write no
# report_lba line for a file without data, but list it with lsdl
OLD_XORRISO = """\
Report layout: xt , Startlba ,   Blocks , Filesize , ISO image path
File data lba:  0 ,       56 ,        1 ,        3 , '/data/a.mp4'
-rw-r--r--    1 0        0               3 Dec  2 03:18 '/data/a.mp4'
-rw-r--r--    1 0        0               0 Dec  2  2025 '/data/it'"'"'s empty.mp4'
-rw-r--r--    1 0        0            4096 Dec  2 03:18 '/data/no-extents.mp4'
"""


def test_RET2_an_empty_file_listed_without_extents_is_in_the_image():
    files = iso.parse_listing(OLD_XORRISO)
    assert files["data/it's empty.mp4"] == {"size": 0, "extents": []}
    assert files["data/a.mp4"] == {"size": 3, "extents": [(0, 56, 1)]}
    assert "data/no-extents.mp4" not in files  # data without extents: missing, not empty


def test_RET2_EVD1_an_empty_original_reads_back_from_its_image(tmp_path):
    root = tmp_path / "root"
    (root / "data").mkdir(parents=True)
    (root / "data" / "a.mp4").write_bytes(b"abc")
    (root / "data" / "empty.mp4").write_bytes(b"")
    image = tmp_path / "x.iso"
    iso.build_image(root, image, "TEST")
    sha = {"a.mp4": hashlib.sha256(b"abc").hexdigest(), "empty.mp4": hashlib.sha256().hexdigest()}
    expected = {f"data/{n}": {"sha256": d} for n, d in sha.items()}
    assert iso.read_back(image, expected) == {"files": 2, "bytes": 3}
    with pytest.raises(iso.ImageError) as caught:  # an empty file is still checked
        iso.read_back(image, {**expected, "data/empty.mp4": {"sha256": sha["a.mp4"]}})
    assert caught.value.code == "image_digest_mismatch"


def _items(n: int) -> list[ex.Item]:
    now = datetime.now(UTC)
    unit = SimpleNamespace(name="执法一科")
    holder = SimpleNamespace(name="张三", badge_number="A100200", unit_id=1, unit=unit)
    items = []
    for i in range(n):
        recording = SimpleNamespace(
            pk=i + 1, source_path=f"/sd/DCIM/FILE_{i:05d}.MP4", holder_id=1, holder=holder,
            activity_id=None, device_id=1, device=SimpleNamespace(serial=f"SN{i:06d}",
                                                                  model="DSJ-X1"),
            started_at=now, ended_at=now, ingested_at=now)
        items.append(ex.Item(path=f"data/originals/{i + 1}-FILE_{i:05d}.MP4",
                             recording=recording, blob=SimpleNamespace(size=100),
                             kind="original", size=100,
                             digests={a: secrets.token_hex(32) for a in ALGORITHMS}))
    return items


def test_RET2_a_disc_of_many_small_files_has_room_for_its_tag_files(tmp_path):
    """The plan's capacity for one disc of 600 small files holds its real image: the
    originals, the manifests and the explanation PDF with a row per file."""
    items = _items(600)
    fixed = discs.ISO_OVERHEAD + discs.EXPLANATION_RESERVE + discs.TAG_RESERVE
    capacity = fixed + sum(discs._blocks(i.blob.size) + discs.PER_FILE
                           + discs.tag_bytes(i, ALGORITHMS) for i in items)
    assert len(discs.plan(items, capacity, fixed, ALGORITHMS)) == 1
    assert len(discs.plan(items, capacity - 4096, fixed, ALGORITHMS)) == 2
    root = tmp_path / "bag"
    (root / "data" / "originals").mkdir(parents=True)
    for item in items:
        (root / item.path).write_bytes(os.urandom(item.size))
    obj = items[0].recording
    extractor = {"name": "李四", "badge_number": "B1", "unit": "办公室"}
    tags = {f"manifest-{a}.txt": ex.manifest([(i.path, i.digests) for i in items], a)
            for a in ALGORITHMS}
    tags[ex.EXPLANATION] = render_explanation(obj, None, extractor, datetime.now(UTC), items,
                                              ALGORITHMS)
    variable = sum(len(data) for data in tags.values())
    assert variable > discs.EXPLANATION_RESERVE + discs.TAG_RESERVE  # the old fixed reserve
    assert variable <= (discs.EXPLANATION_RESERVE + discs.TAG_RESERVE
                        + sum(discs.tag_bytes(i, ALGORITHMS) for i in items))
    for name, data in tags.items():
        (root / name).write_bytes(data)
    built = iso.build_image(root, tmp_path / "disc.iso", "TEST")
    assert built["size"] <= capacity


# -- export packages do not outlive their approval (EVD-3; RET-1) ------------------------------

def test_EVD3_RET1_a_package_past_its_approval_is_removed_then_its_originals_may_go(
        world, login, client, django_capture_on_commit_callbacks):  # noqa: F811
    from datetime import timedelta

    from django.urls import reverse
    from django.utils import timezone

    from witness.access.models import Grant
    from witness.audit.models import AuditEntry
    from witness.preservation import packages, tasks
    from witness.preservation.models import ExportPackage, PackageStatus
    from witness.preservation.tests.test_web_export import disclosure, make
    from witness.recordings.models import Recording
    from witness.retention import keep

    req = disclosure(world)
    login(world.custodian)
    make(client, req, django_capture_on_commit_callbacks)
    pkg = ExportPackage.objects.get(request=req, status=PackageStatus.READY)
    folder = packages.root_of(req.pk)
    assert (folder / "bag" / "data").is_dir()
    world.case.status, world.case.closed_at = "closed", timezone.now() - timedelta(days=9)
    world.case.save()
    rec = world.recs[0]

    def kept(at):
        return Recording.objects.filter(pk=rec.pk).filter(keep.blocking_q(at)).exists()

    assert tasks.clean_packages.call() == {"removed": []}  # in force: kept
    assert folder.is_dir() and kept(timezone.now())
    now = timezone.now()
    Grant.objects.filter(request=req).update(valid_from=now - timedelta(days=2),
                                             valid_until=now - timedelta(minutes=1))
    assert kept(now)  # the grant ended, its copy is still on disk: not purged
    assert "package" in keep.reasons_for(rec, now)  # and the plan says why
    assert tasks.clean_packages.call() == {"removed": [pkg.pk]}
    assert not folder.exists() and not kept(timezone.now())
    assert "package" not in keep.reasons_for(rec, timezone.now())
    pkg.refresh_from_db()
    assert pkg.status == PackageStatus.REMOVED and pkg.removed_at is not None
    entry = AuditEntry.objects.get(action="evidence.package_remove")
    assert entry.details["reason"] == "expired" and entry.details["folder_existed"]
    assert tasks.clean_packages.call() == {"removed": []}  # once
    login(world.officer)
    assert client.get(reverse("export_package_download", args=[req.pk])).status_code == 403
