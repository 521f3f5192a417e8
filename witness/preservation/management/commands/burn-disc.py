"""``witness burn-disc IMAGE --device DEVICE``: write a preserved disc image to an optical
drive with xorriso and read it back (issue 7 item 4; RET-2, A16). ``stdio:/path`` is
xorriso's file-backed pseudo-drive. Audited ``preservation.burn``."""

from __future__ import annotations

from pathlib import Path

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from witness.audit import services as audit
from witness.core.commands import WitnessCommand
from witness.core.errors import NotFound, WitnessError
from witness.preservation import iso


def expected_sha256(image: Path) -> str:
    sums = image.parent / "SHA256SUMS"
    if sums.is_file():
        for line in sums.read_text(encoding="utf-8").splitlines():
            digest, _sep, name = line.partition("  ")
            if name == image.name:
                return digest
    raise NotFound(_("%(path)s is not listed in a SHA256SUMS next to it: only an image "
                     "made by witness preserve is written."), code="not_preserved",
                   path=str(image))


class Command(WitnessCommand):
    help = gettext_lazy("Write a disc image made by witness preserve to an optical drive "
                        "(xorriso) and read the disc back to check it.")

    def add_command_arguments(self, parser):
        parser.add_argument("image", type=Path, metavar="IMAGE",
                            help=_("a disc image (disc-K-of-N.iso) made by witness preserve"))
        parser.add_argument("--device", required=True, metavar="DEVICE",
                            help=_("the drive, e.g. /dev/sr0 (stdio:FILE: a file)"))
        parser.add_argument("--copy", type=int, choices=(1, 2), default=1,
                            help=_("which of the two copies this disc is"))

    def run(self, *, image, device, copy=1, **options):
        sha256 = expected_sha256(image)
        details = {"image": str(image), "device": device, "copy": copy, "sha256": sha256}
        try:
            result = iso.burn(image, device, sha256=sha256)
        except WitnessError as exc:
            with transaction.atomic():
                audit.append(self.actor, "preservation.burn", None, outcome="failure",
                             details={**details, "error": exc.as_dict()})
            raise
        with transaction.atomic():
            audit.append(self.actor, "preservation.burn", None, details={**details, **result})
        return {**details, **result}

    def render(self, data):
        return _("%(image)s written to %(device)s (copy %(copy)s) and read back: %(bytes)s "
                 "bytes, SHA-256 %(sha256)s.") % data
