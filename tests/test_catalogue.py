"""The zh-hans catalogue is complete: re-extracting every msgid from the source finds none
without a Chinese translation (source strings are English; Chinese is the first language)."""

import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.utils import translation

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "witness"


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> polib.POFile:
    if not shutil.which("xgettext"):
        pytest.fail("xgettext (Debian package gettext) is missing; `make install` installs it")
    copy = tmp_path_factory.mktemp("src") / "witness"
    shutil.copytree(PKG, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo", "static"))
    subprocess.run([sys.executable, "-m", "witness", "makemessages", "-l", "zh_Hans",
                    "--no-obsolete", "--no-location", "--ignore", "tests/*",
                    "--ignore", "testing/*"], cwd=copy, check=True, capture_output=True)
    return polib.pofile(str(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"))


def test_every_msgid_has_a_chinese_translation(extracted):
    untranslated = [e.msgid for e in extracted if not e.obsolete
                    and (not (e.msgstr or e.msgstr_plural.get(0)) or "fuzzy" in e.flags)]
    assert untranslated == [], f"untranslated msgids (run scripts/update_po.py): {untranslated}"
    assert len(extracted) > 100


def test_compiled_catalogue_is_used():
    with translation.override("zh-hans"):
        assert translation.gettext("device") == "设备"
    with translation.override("en"):
        assert translation.gettext("device") == "device"


def test_translation_functions_keep_names_that_makemessages_extracts():
    """makemessages only extracts _(), gettext(), pgettext() … under their own names: an
    alias such as `gettext as _t` hides every string behind it from the catalogue."""
    import re

    extractable = {"_", "gettext", "gettext_lazy", "pgettext", "pgettext_lazy", "ngettext",
                   "ngettext_lazy", "npgettext", "npgettext_lazy", "gettext_noop"}
    alias = re.compile(r"from django\.utils\.translation import .*\b(\w+) as (\w+)")
    offenders = []
    for path in PKG.rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            m = alias.search(line)
            if m and m.group(2) not in extractable:
                offenders.append(f"{path.relative_to(ROOT)}: {line.strip()}")
    assert offenders == []


def test_no_translation_call_inside_an_f_string():
    """xgettext cannot read inside f-strings, so a message marked there never reaches the
    catalogue and stays English under zh-hans: mark it outside and format the result."""
    import ast

    names = {"_", "gettext", "gettext_lazy", "pgettext", "pgettext_lazy", "ngettext"}
    found = []
    for path in sorted(PKG.rglob("*.py")):
        if "tests" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.JoinedStr):
                found += [f"{path.relative_to(ROOT)}:{call.lineno}" for call in ast.walk(node)
                          if isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                          and call.func.id in names]
    assert found == []
