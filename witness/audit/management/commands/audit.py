"""``witness audit``: the verifiable audit log (issue 4; ING-4, GB/T 22239-2019 security
audit). ``verify`` exits 1 naming the first bad leaf; ``check-proof`` exits 0 valid,
1 invalid, 2 unreadable; ``sequence --follow`` is the sequencer daemon (``witness serve``
starts it), which also makes a checkpoint every WITNESS_AUDIT_CHECKPOINT_SECONDS."""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from witness.audit import keys, log, merkle
from witness.audit.models import Checkpoint
from witness.audit.sequencer import Sequencer, tree_size
from witness.core.commands import WitnessCommand
from witness.core.errors import WitnessError
from witness.core.tables import table


def _index_or_date(text: str) -> int:
    """A leaf index, or a date/time: the first leaf of an entry made at or after it."""
    if text.isdigit():
        return int(text)
    from witness.audit.models import AuditLeaf
    from witness.core.cli_args import parse_local_datetime

    moment = parse_local_datetime(text)
    first = (AuditLeaf.objects.filter(entry__created_at__gte=moment).order_by("index")
             .values_list("index", flat=True).first())
    return tree_size() if first is None else first


class Command(WitnessCommand):
    help = gettext_lazy("The verifiable audit log: verify it, prove entries, sign checkpoints, "
                        "export ranges, check proofs, run the sequencer.")
    subcommands = {
        "verify": gettext_lazy("Re-encode every entry, recompute the Merkle tree and check every "
                               "checkpoint. Exit 1 naming the first bad leaf index."),
        "prove": gettext_lazy("Inclusion proof of leaf INDEX (in the RFC 6962 test-vector JSON "
                              "format, with the entry and the checkpoint)."),
        "consistency": gettext_lazy("Consistency proof between two tree sizes."),
        "checkpoint": gettext_lazy("Sequence what has committed and sign a checkpoint now."),
        "export": gettext_lazy("Entries with inclusion proofs, checkpoints and consistency "
                               "proofs as JSON lines (for docs/audit_verify.py)."),
        "check-proof": gettext_lazy("Verify one inclusion or consistency proof JSON file. Exit 0 "
                                    "valid, 1 invalid, 2 unreadable."),
        "public-key": gettext_lazy("Print the public key that verifies the checkpoints."),
        "sequence": gettext_lazy("Give leaves to committed entries (once, or --follow as the "
                                 "sequencer daemon)."),
    }

    def add_verify_arguments(self, p):
        p.add_argument("--workers", type=int, metavar="N",
                       help=_("processes re-encoding entries (default: one per CPU for large "
                              "logs)"))

    def do_verify(self, **o):
        if o["workers"] is not None and o["workers"] < 1:
            raise WitnessError(gettext_lazy("--workers must be at least 1."),
                               code="bad_arguments")
        report = log.verify(workers=o["workers"])
        self.exit_code = 0 if report.ok else 1
        return report.as_json()

    def render_verify(self, data):
        head = (_("Intact: %(size)s leaves, %(cps)s checkpoints verified.")
                if data["ok"] else _("NOT intact: first bad leaf index %(index)s."))
        text = head % {"size": data["tree_size"], "cps": data["checkpoints"],
                       "index": data["first_bad_index"]}
        if data["unsequenced"]:
            text += "\n" + _("%(n)s entries are not sequenced yet.") % {"n": data["unsequenced"]}
        if not data["problems"]:
            return text
        rows = [[str(p["index"] if p["index"] is not None else "—"), p["code"], p["problem"],
                 str(p.get("checkpoint", ""))] for p in data["problems"][:50]]
        from rich.console import Group
        from rich.text import Text

        return Group(Text(text), table(_("Problems"), [_("leaf"), _("code"), _("problem"),
                                                       _("checkpoint")], rows))

    def add_prove_arguments(self, p):
        p.add_argument("index", type=int, help=_("leaf index"))
        p.add_argument("--size", type=int, help=_("tree size (default: the latest checkpoint)"))
        p.add_argument("--entry", action="store_true",
                       help=_("INDEX is an audit entry id, not a leaf index"))

    def do_prove(self, **o):
        index = log.entry_index(o["index"]) if o["entry"] else o["index"]
        return log.inclusion(index, o["size"])

    def add_consistency_arguments(self, p):
        p.add_argument("size1", type=int)
        p.add_argument("size2", type=int)

    def do_consistency(self, **o):
        return log.consistency(o["size1"], o["size2"])

    def do_checkpoint(self, **o):
        return log.checkpoint_json(log.checkpoint(actor=self.actor))

    def add_export_arguments(self, p):
        p.add_argument("--from", dest="start", default="0",
                       help=_("first leaf index, or a date/time"))
        p.add_argument("--to", dest="end", help=_("end leaf index (exclusive), or a date/time"))
        p.add_argument("--out", type=Path, help=_("file to write (default: standard output)"))

    def do_export(self, **o):
        start = _index_or_date(o["start"])
        end = _index_or_date(o["end"]) if o["end"] else None
        out = open(o["out"], "w", encoding="utf-8") if o["out"] else self.stdout._out
        lines = 0
        try:
            for item in log.export(start, end, actor=self.actor):
                out.write(json.dumps(item, ensure_ascii=False, sort_keys=True) + "\n")
                lines += 1
        finally:
            if o["out"]:
                out.close()
        return {"lines": lines, "out": str(o["out"]) if o["out"] else None}

    def render_export(self, data):
        if data["out"] is None:
            return None
        return _("%(lines)s lines written to %(out)s") % data

    def add_check_proof_arguments(self, p):
        p.add_argument("file", type=Path)

    def do_check_proof(self, **o):
        try:
            doc = json.loads(Path(o["file"]).read_text(encoding="utf-8"))
            valid = merkle.check_proof_document(doc)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            self.exit_code = 2
            return {"valid": False, "error": str(exc)}
        self.exit_code = 0 if valid else 1
        return {"valid": valid, "kind": "inclusion" if "leafIdx" in doc else "consistency"}

    def render_check_proof(self, data):
        if "error" in data:
            return _("Unreadable proof: %(error)s") % data
        return _("valid") if data["valid"] else _("INVALID")

    def do_public_key(self, **o):
        key = keys.signer().public
        return {"algorithm": key.algorithm, "key_id": key.key_id, "pem": key.pem()}

    def render_public_key(self, data):
        return data["pem"].rstrip("\n")

    def add_sequence_arguments(self, p):
        p.add_argument("--follow", action="store_true",
                       help=_("keep running: sequence every --interval seconds and sign a "
                              "checkpoint every WITNESS_AUDIT_CHECKPOINT_SECONDS"))
        p.add_argument("--interval", type=float, default=0.5, help=_("seconds between passes"))

    def do_sequence(self, **o):
        sequencer = Sequencer()
        if not o["follow"]:
            return {"sequenced": sequencer.drain(), "tree_size": tree_size()}
        if o["interval"] <= 0:
            raise WitnessError(gettext_lazy("--interval must be more than 0."),
                               code="bad_arguments")
        stopping = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *a: stopping.append(True))
        every = settings.WITNESS_AUDIT_CHECKPOINT_SECONDS
        last = time.monotonic()
        while not stopping:
            progressed = sequencer.step()
            if time.monotonic() - last >= every:  # also under a steady stream of entries
                last = time.monotonic()
                self._checkpoint_if_grown()
            if not progressed:
                time.sleep(o["interval"])
        while sequencer.step():
            pass
        self._checkpoint_if_grown()  # a clean stop leaves the latest entries signed
        return {"tree_size": tree_size()}

    @staticmethod
    def _checkpoint_if_grown():
        signed = Checkpoint.objects.order_by("-tree_size").values_list(
            "tree_size", flat=True).first()
        if signed != tree_size():
            log.checkpoint(sequence=False)

    def handle(self, *args, **options):
        if options.get("subcommand") == "export" and not options.get("out"):
            options["json"] = False  # the lines are the output; nothing after them
        super().handle(*args, **options)
        code = getattr(self, "exit_code", 0)
        if code:
            sys.exit(code)
