"""``witness export OBJECT --out DIR --iso`` (issue 7 item 5; EVD-1): the evidence package
also as an ISO 9660 image ``DIR.iso`` (Joliet, Rock Ridge, level 3), made and read back as
the preservation discs are (``iso``): every payload file must have the digest of
``manifest-sha256.txt``, every other file the one it has in the bag. Audited
``evidence.export_iso``."""

from __future__ import annotations

import os
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.audit import services as audit
from witness.core.errors import Refused, WitnessError
from witness.evidence import export as ex

from . import iso


def _unencode(path: str) -> str:
    return path.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")


def expected_files(bag: Path) -> dict[str, dict[str, str]]:
    """The SHA-256 of every file of the bag: the manifest's for ``data/``, the bytes' for
    the rest (tag files, signature, key)."""
    expected: dict[str, dict[str, str]] = {}
    for line in (bag / "manifest-sha256.txt").read_text(encoding="utf-8").splitlines():
        digest, _sep, path = line.partition("  ")
        expected[_unencode(path)] = {"sha256": digest}
    for path in sorted(bag.iterdir()):
        if path.is_file():
            expected[path.name] = {"sha256": iso.sha256_of_file(path)[0]}
    return expected


def image_of_bag(obj, bag: Path, *, actor) -> dict:
    target = bag.with_name(bag.name + ".iso")
    if target.exists() or target.is_symlink():
        raise Refused(_("%(path)s exists; an image never overwrites anything."),
                      code="target_exists", path=str(target))
    volume = f"WITNESS_{timezone.localtime():%Y%m%d}_EXPORT"
    try:
        built = iso.build_image(bag, target, volume)
        checked = iso.read_back(target, expected_files(bag))
    except WitnessError as exc:
        if target.exists():
            os.chmod(target, 0o644)
            target.unlink()
        with transaction.atomic():
            audit.append(actor, "evidence.export_iso", obj, outcome="failure",
                         details={"object": ex.ref_of(obj), "path": str(target),
                                  "error": exc.as_dict()})
        raise
    details = {"object": ex.ref_of(obj), "iso": str(target), "iso_sha256": built["sha256"],
               "iso_bytes": built["size"], "iso_files_verified": checked["files"]}
    with transaction.atomic():
        audit.append(actor, "evidence.export_iso", obj, details=details)
    return details
