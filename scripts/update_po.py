"""Refresh the zh-hans catalogue: extract every msgid from witness/ (Django's
makemessages), fill empty translations from witness/locale/parts/*.json (English msgid ->
Chinese), and report what is still untranslated. Run with the project's venv:

    .venv/bin/python scripts/update_po.py
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "witness"
PO = PKG / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
PARTS = PKG / "locale" / "parts"


def main() -> int:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="witness.settings")
    env.setdefault("WITNESS_HOME", str(ROOT / "var"))
    subprocess.run([sys.executable, "-m", "witness", "makemessages", "-l", "zh_Hans",
                    "--no-obsolete", "--no-location", "--ignore", "tests/*",
                    "--ignore", "testing/*"],
                   cwd=PKG, env=env, check=True)
    known: dict[str, str] = {}
    for part in sorted(PARTS.glob("*.json")) if PARTS.is_dir() else []:
        known.update(json.loads(part.read_text(encoding="utf-8")))
    catalogue = polib.pofile(str(PO))
    catalogue.metadata.update({
        "Project-Id-Version": "witness", "Language": "zh_Hans",
        "Language-Team": "Witness developers", "Last-Translator": "Witness developers",
        "PO-Revision-Date": catalogue.metadata.get("POT-Creation-Date", ""),
        "Content-Type": "text/plain; charset=UTF-8", "Plural-Forms": "nplurals=1; plural=0;",
    })
    catalogue.metadata_is_fuzzy = False  # a fuzzy header is skipped by msgfmt
    missing = []
    for entry in catalogue:
        if entry.obsolete:
            continue
        entry.previous_msgid = entry.previous_msgctxt = None
        # a message with a context (pgettext) is keyed "context\u0004msgid" in the parts
        key = f"{entry.msgctxt}\x04{entry.msgid}" if entry.msgctxt else entry.msgid
        if (not entry.msgstr or "fuzzy" in entry.flags) and key in known:
            entry.msgstr = known[key]
            if "fuzzy" in entry.flags:
                entry.flags.remove("fuzzy")
        if entry.msgid_plural and not entry.msgstr_plural.get(0) and key in known:
            entry.msgstr_plural = {0: known[key]}
        if not (entry.msgstr or entry.msgstr_plural.get(0)) or "fuzzy" in entry.flags:
            missing.append(entry.msgid)
    catalogue.save(str(PO))
    for msgid in missing:
        print(f"untranslated: {msgid!r}")
    print(f"{len(catalogue)} messages, {len(missing)} untranslated")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
