"""``witness export OBJECT --out DIR [--playback-copies] [--as USERNAME]``: the evidence
package of a recording, an activity or a case as a signed BagIt bag (issue 7 items 5 and 7;
EVD-1, EVD-3, ING-4). With ``--as`` the person named exports (the policy action
``recording.export``: custodians, within their agency); without it the server's operator
does, on its command line. Audited ``evidence.export``."""

from __future__ import annotations

from pathlib import Path

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from witness.confidentiality.cli import refusals, subject_for
from witness.core.commands import WitnessCommand, byte_bar
from witness.evidence import export


class Command(WitnessCommand):
    help = gettext_lazy("Export a recording, an activity or a case as an evidence package: a "
                        "signed BagIt bag with the originals byte for byte, their digests, the "
                        "written explanation and the chain-of-custody report.")

    def add_command_arguments(self, parser):
        parser.add_argument("object", metavar="OBJECT",
                            help=_("recording:ID, activity:ID, or case:NUMBER (or case:ID)"))
        parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                            help=_("the package folder to make (must not exist or be empty)"))
        parser.add_argument("--playback-copies", action="store_true",
                            help=_("add the playback copies, in a folder of their own"))
        parser.add_argument("--iso", action="store_true",
                            help=_("also write the package as an ISO 9660 image DIR.iso, "
                                   "read back and checked"))
        parser.add_argument("--as", dest="as_user", metavar="USERNAME",
                            help=_("the user name of the person exporting; their roles "
                                   "decide"))

    def run(self, *, object, out, playback_copies=False, iso=False, as_user=None, **options):
        data = self.export(object=object, out=out, playback_copies=playback_copies,
                           as_user=as_user)
        if iso:
            from witness.preservation.bagiso import image_of_bag

            with refusals():
                data.update(image_of_bag(export.resolve(object), Path(data["path"]),
                                         actor=data.pop("_actor")))
        data.pop("_actor", None)
        return data

    def export(self, *, object, out, playback_copies, as_user):
        with refusals():
            subject = subject_for(as_user) if as_user else None
            obj = export.resolve(object)
            actor = subject.user if subject else self.actor
            if self.as_json or not self.stderr.isatty():
                return {**export.export(obj, out, subject=subject,
                                        actor=None if subject else self.actor,
                                        playback_copies=playback_copies), "_actor": actor}
            total = sum(r.blob.size for r in export.recordings_of(obj))
            with byte_bar() as bar:
                task = bar.add_task(_("Exporting"), total=total or None)
                return {**export.export(obj, out, subject=subject,
                                        actor=None if subject else self.actor,
                                        playback_copies=playback_copies,
                                        progress=lambda n: bar.advance(task, n)),
                        "_actor": actor}

    def render(self, data):
        return _("Evidence package of %(object)s written to %(path)s: %(files)s files, "
                 "%(bytes)s bytes in %(seconds)s s (%(mb_per_s)s MB/s); tag manifest SHA-256 "
                 "%(tagmanifest_sha256)s, signed with key %(key_id)s.") % data + (
            "\n" + _("ISO image %(iso)s: %(iso_bytes)s bytes, SHA-256 %(iso_sha256)s, read "
                      "back and checked.") % data if "iso" in data else "")
