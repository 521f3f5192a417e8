"""``witness verify-package DIR [--json] [--trusted-key KEY.pem]``: check an evidence package
(EVD-1, EVD-3) — what a court or a receiving unit runs.

The checks are those of ``witness/evidence/verify.py`` (standard library and
``cryptography`` only; also runnable on its own, see docs/evidence.md). Read-only: nothing
is written, nothing is audited. Exit status 0 valid, 1 invalid (the first reason, naming the
file and line), 2 unreadable. ``--json`` prints ``{"ok", "reason", "checked"}``.
"""

from __future__ import annotations

import sys

from django.utils import translation
from django.utils.translation import gettext_lazy

from witness.core.commands import WitnessCommand, byte_bar, to_json
from witness.evidence import verify


def _translate(language: str):
    def translate(message: str) -> str:
        with translation.override(language):
            return translation.gettext(message)
    return translate


class Command(WitnessCommand):
    help = gettext_lazy(
        "Verify an evidence package (a BagIt bag): bag structure, every payload and tag "
        "manifest including SM3, completeness, and the agency's signature. Exit status 0 "
        "valid, 1 invalid (the first reason), 2 unreadable.")

    def add_command_arguments(self, parser):
        parser.add_argument("directory", metavar="DIR",
                            help=str(gettext_lazy("the package folder")))
        parser.add_argument("--trusted-key", metavar="KEY.pem",
                            help=str(gettext_lazy(
                                "also require that the package is signed with exactly this "
                                "public key (PEM), e.g. the agency's published key")))

    def handle(self, *args, **options):
        self.as_json = options["json"]
        try:
            trusted = (verify.load_trusted_key(options["trusted_key"])
                       if options["trusted_key"] else None)
        except verify.Problem as problem:
            report = verify.Report(ok=False, problem=problem)
        else:
            report = self._verify(options["directory"], trusted)
        zh = _translate("zh-hans")
        if self.as_json:
            self.stdout.write(to_json(report.as_dict(translate_zh=zh)))
        else:
            texts = [verify.summary(report, zh), verify.summary(report, _translate("en"))]
            text = texts[0] if texts[0] == texts[1] else "\n".join(texts)
            (self.stdout if report.ok else self.stderr).write(text)
        if report.status:
            sys.exit(report.status)

    def _verify(self, directory: str, trusted: bytes | None) -> verify.Report:
        if self.as_json or not sys.stderr.isatty():
            return verify.verify(directory, trusted_key=trusted)
        with byte_bar() as bar:
            def start(total: int):
                task = bar.add_task(str(gettext_lazy("verifying")), total=total)
                return lambda count, path: bar.advance(task, count)
            return verify.verify(directory, trusted_key=trusted, progress=start)
