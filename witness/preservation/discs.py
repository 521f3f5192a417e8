"""Disc preservation (issue 7 item 4; RET-2, A16, EVD-1): ``witness preserve OBJECT --out DIR``.

The originals of a recording, an activity or a case go onto as few discs as the medium
allows, each file on exactly one disc, in recording order (first fit). Each disc is one ISO
9660 image holding a signed BagIt bag of its own (``witness verify-package`` checks a
mounted disc): its originals byte for byte, its manifests, the written explanation (文字
说明材料, naming "disc k of n"), the chain-of-custody report of the whole object, and
``bag-info.txt`` lines ``Witness-Disc: k/n`` and ``Witness-Disc-Set``. Next to the images,
two label PDFs (A16: two copies), one page per disc, and ``SHA256SUMS``.

Each disc is first written as a bag into a staging folder (copies made and checked against
the ingest digests exactly as ``witness export`` makes them), then imaged
(``iso.build_image``: SHA-256 while streaming), the staging folder removed, and the image
read back with xorriso and isoinfo, every file's digests compared with its manifest.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.audit import custody
from witness.audit import services as audit
from witness.core.errors import Refused, WitnessError
from witness.evidence import export as ex
from witness.storage.backends.base import CHUNK
from witness.storage.config import get_backend

from . import iso, labels

# Capacities of recordable media, in bytes (2048-byte sectors of an unformatted disc):
# DVD±R single layer (DVD+R: 2,295,104 sectors; DVD-R has 2,298,496), BD-R 25 and 50 GB.
MEDIA = {"dvd": 2_295_104 * 2048, "bd25": 12_219_392 * 2048, "bd50": 24_438_784 * 2048}
ISO_OVERHEAD = 1024 * 1024  # volume descriptors, path tables, directories of the bag
PER_FILE = 3 * 2048  # a file's directory records (ISO, Joliet, Rock Ridge), rounded up
EXPLANATION_RESERVE = 512 * 1024  # the explanation PDF of a disc without its file rows
TAG_RESERVE = 64 * 1024  # bag-info, tag manifests, signature, public key
# What each file adds to the tag files of its disc, reserved with the file (a disc of
# thousands of small files must not come out larger than planned after copying them):
# its block in the explanation PDF (measured ~1.1 kB with two digests: 2 KiB), and one
# line in each payload manifest (digest, two spaces, percent-encoded path, newline).
EXPLANATION_ROW = 2048
DIGEST_HEX_MAX = 128  # SHA-512's; SHA-256 and SM3 take 64


def tag_bytes(item: ex.Item, algorithms) -> int:
    """What ``item`` adds to its disc's tag files (manifests, explanation), at most."""
    line = DIGEST_HEX_MAX + 3 + 3 * len(item.path.encode())  # %XX at worst
    return EXPLANATION_ROW + line * max(len(tuple(algorithms)), 1)
ACTION = "preservation.preserve"


def _blocks(size: int) -> int:
    return -(-size // 2048) * 2048


def plan(items: list[ex.Item], capacity: int, fixed: int,
         algorithms=("sha256",)) -> list[list[ex.Item]]:
    """The discs: first fit in recording order; ``fixed`` is what every disc holds besides
    the originals (the custody report, the explanation, tag files, ISO structures), each
    file taking its blocks, its directory records and its share of the tag files
    (:func:`tag_bytes`). A file that does not fit on an empty disc is refused."""
    room = capacity - fixed
    discs: list[list[ex.Item]] = []
    free: list[int] = []
    for item in items:
        need = _blocks(item.blob.size) + PER_FILE + tag_bytes(item, algorithms)
        if need > room:
            raise Refused(_("%(file)s (%(size)s bytes) is larger than one disc holds "
                            "(%(room)s bytes of %(capacity)s); choose a larger medium."),
                          code="file_too_large", file=item.path, size=item.blob.size,
                          room=max(room, 0), capacity=capacity)
        for k, left in enumerate(free):
            if need <= left:
                discs[k].append(item)
                free[k] -= need
                break
        else:
            discs.append([item])
            free.append(room - need)
    return discs


def _name(k: int, n: int) -> str:
    return f"disc-{k}-of-{n}"


def _disc_bag(root: Path, obj, agency, extractor, when, items, profile, backend, *, actor,
              k: int, n: int, set_id: str, custody_pdf: bytes, progress) -> dict:
    """Write disc ``k`` of ``n`` as a signed bag in ``root``; its expected files and digests."""
    for folder in {str(Path(i.path).parent) for i in items}:
        (root / folder).mkdir(parents=True, exist_ok=True)
    try:
        ex._copy_all(items, root, backend, profile, chunk_size=CHUNK, progress=progress)
    except ex.Mismatch as exc:
        raise ex._mismatch(actor, obj, exc) from None
    info = [("Witness-Disc", f"{k}/{n}"), ("Witness-Disc-Set", set_id)]
    facts = [(_("Disc"), f"第 {k} 张，共 {n} 张（disc {k} of {n}）"),
             (_("Disc set"), set_id)]
    tags = ex._tag_files(obj, agency, extractor, when, items, profile, actor=actor,
                         extra_info=info, extra_facts=facts, custody_pdf=custody_pdf)
    for name, data in tags.items():
        ex._write(root / name, data)
    ex._sign(root, tags, profile)
    expected = {i.path: dict(i.digests) for i in items}
    for path in root.iterdir():  # the tag files, signature and public key
        if path.is_file():
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                expected[path.name] = iso.hash_stream(fd, profile)[0]
            finally:
                os.close(fd)
    return expected


def check_out(out: Path) -> Path:
    return ex.check_target(out)


def preserve(obj, out: str | os.PathLike, *, media: str = "dvd", capacity: int | None = None,
             subject=None, actor=None, dry_run: bool = False, backend=None,
             progress=None) -> dict:
    """Make the disc images of ``obj`` in the folder ``out`` (which must not exist or be
    empty); returns what the command prints. ``capacity`` (bytes) overrides the medium's."""
    started = time.monotonic()
    actor = actor if actor is not None else (subject.user if subject is not None else None)
    if media not in MEDIA:
        raise WitnessError(_("Unknown medium %(media)s; choose dvd, bd25 or bd50."),
                           code="unknown_medium", media=media)
    capacity = capacity or MEDIA[media]
    out = Path(out)
    recordings = ex.recordings_of(obj)
    ex.authorize(subject, obj, recordings, actor=actor)
    partial = ex.check_target(out)
    backend = backend or get_backend()
    agency = ex.agency_of(obj)
    items = ex._items(recordings, False)
    profile = ex._algorithms(agency)
    extractor = ex.extractor_of(subject, actor)
    custody_pdf = custody.render(custody.collect(obj, actor=actor), "pdf")
    fixed = (ISO_OVERHEAD + _blocks(len(custody_pdf)) + EXPLANATION_RESERVE + TAG_RESERVE)
    try:
        discs = plan(items, capacity, fixed, profile)
    except Refused as exc:
        with transaction.atomic():
            audit.append(actor, ACTION, obj, outcome="refused",
                         details={"object": ex.ref_of(obj), "error": exc.as_dict()})
        raise
    n = len(discs)
    layout = [{"disc": k, "image": f"{_name(k, n)}.iso", "files": [i.path for i in d],
               "bytes": sum(i.blob.size for i in d)} for k, d in enumerate(discs, 1)]
    summary = {"object": ex.ref_of(obj), "path": str(out), "media": media,
               "capacity": capacity, "discs": n, "files": len(items),
               "bytes": sum(i.blob.size for i in items), "layout": layout}
    if dry_run:
        return {**summary, "dry_run": True}
    when = timezone.now()
    set_id = f"{ex.ref_of(obj)} {timezone.localtime(when):%Y%m%d%H%M%S} {uuid.uuid4().hex[:8]}"
    os.mkdir(partial, 0o755)
    renamed = False
    try:
        for entry, disc_items in zip(layout, discs, strict=True):
            k = entry["disc"]
            staging = partial / f".{_name(k, n)}"
            staging.mkdir()
            try:
                expected = _disc_bag(staging, obj, agency, extractor, when, disc_items,
                                     profile, backend, actor=actor, k=k, n=n, set_id=set_id,
                                     custody_pdf=custody_pdf, progress=progress)
                volume = f"WITNESS_{timezone.localtime(when):%Y%m%d}_{k}_OF_{n}"
                image = partial / entry["image"]
                built = iso.build_image(staging, image, volume)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            if built["size"] > capacity:
                raise WitnessError(_("Disc %(k)s came out at %(size)s bytes, more than the "
                                     "medium's %(capacity)s."), code="disc_overflow", k=k,
                                   size=built["size"], capacity=capacity)
            checked = iso.read_back(image, expected)
            entry.update(sha256=built["sha256"], size=built["size"], volume_id=volume,
                         verified_files=checked["files"])
        sums = "".join(f"{e['sha256']}  {e['image']}\n" for e in layout).encode()
        ex._write(partial / "SHA256SUMS", sums)
        for copy in (1, 2):
            ex._write(partial / f"label-copy-{copy}.pdf",
                      labels.render(obj, agency, extractor, when, layout, copy))
        ex._write(partial / "preservation.json", (json.dumps(
            {**summary, "set": set_id, "made_at": when.isoformat(), "algorithms": list(profile)},
            ensure_ascii=False, indent=2) + "\n").encode())
        ex._fsync_dir(partial)
        details = {**summary, "set": set_id,
                   "layout": [{k: e[k] for k in ("disc", "image", "sha256", "size", "files")}
                              for e in layout]}
        with transaction.atomic():
            audit.append(actor, ACTION, obj, details=details)
            for r in recordings:
                if r is not obj:
                    audit.append(actor, "recording.preserve", r, details={
                        "object": ex.ref_of(obj), "set": set_id})
            if out.exists():
                ex._still_empty(out)
            os.rename(partial, out)
            renamed = True
        renamed = False
        ex._fsync_dir(out.parent)
    except BaseException as exc:
        shutil.rmtree(partial, ignore_errors=True)
        if renamed:
            shutil.rmtree(out, ignore_errors=True)
        if isinstance(exc, WitnessError) and getattr(exc, "code", "") != "export_mismatch":
            with transaction.atomic():
                audit.append(actor, ACTION, obj, outcome="failure",
                             details={"object": ex.ref_of(obj), "path": str(out),
                                      "error": exc.as_dict()})
        raise
    return {**summary, "set": set_id, "seconds": round(time.monotonic() - started, 3)}
