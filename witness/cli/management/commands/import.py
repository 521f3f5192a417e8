"""``witness import people|devices FILE``: load the lists agencies keep in Excel (DEV-1).

The work is done by :mod:`witness.org.importing` (people) and
:mod:`witness.devices.importing` (devices) on :mod:`witness.core.tabular`; this command
only wires options, progress and output. A rejected file prints every bad row and exits
with status 1.
"""

from pathlib import Path

from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from witness.core.commands import BilingualCommandError, WitnessCommand, to_json
from witness.core.errors import Text
from witness.core.tables import table
from witness.core.tabular import ImportFailed
from witness.devices import importing as devices
from witness.org import importing as people


def both(message, **params) -> str:
    """Chinese and English, as every CLI message is shown."""
    texts = []
    for language in ("zh-hans", "en"):
        with translation.override(language):
            text = str(Text(message, **params))
        if text not in texts:
            texts.append(text)
    return " / ".join(texts)


def _columns(columns) -> str:
    optional = gettext("optional")
    return ", ".join(f"{c.name} ({c.field}{'' if c.required else ', ' + optional})"
                     for c in columns)


class Command(WitnessCommand):
    help = _("Import people or devices from a CSV or Excel (.xlsx) file. Every row is checked "
             "first; if any row is bad, nothing is imported.")

    @property
    def subcommands(self):
        return {
            "people": gettext("Import people. Columns: %(columns)s.")
            % {"columns": _columns(people.PEOPLE_COLUMNS)},
            "devices": gettext("Import devices (DEV-1). Columns: %(columns)s.")
            % {"columns": _columns(devices.DEVICE_COLUMNS)},
        }

    def _add_file_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", type=Path, help=gettext(
            ".csv (UTF-8 or GB18030) or .xlsx file; the first row holds the column names"))
        parser.add_argument("--dry-run", action="store_true",
                            help=gettext("check every row and report; import nothing"))

    add_people_arguments = _add_file_arguments
    add_devices_arguments = _add_file_arguments

    def _run(self, check, save, file: Path, dry_run: bool, **_options) -> dict:
        try:
            checked = check(file, progress=self.progress)
            extra = {} if dry_run else (save(checked, actor=self.actor,
                                              progress=self.progress) or {})
        except ImportFailed as exc:
            self._print_failure(exc)
            raise BilingualCommandError(exc, as_json=False) from exc
        return {"ok": True, "imported": 0 if dry_run else len(checked.rows), "errors": [],
                "rows": len(checked.rows), "dry_run": dry_run, "file": file.name,
                "ignored_columns": checked.header.ignored, **extra}

    def _print_failure(self, exc: ImportFailed) -> None:
        if self.as_json:
            self.stdout.write(to_json(exc.as_dict()))
            return
        rows = [[e.row or "", e.column, e.value, f"{e.error.zh}\n{e.error.en}"
                 if e.error.zh != e.error.en else e.error.en] for e in exc.errors]
        self.print(table(both(_("Rows that cannot be imported")),
                         [both(_("Row")), both(_("Column")), both(_("Value")),
                          both(_("Problem"))], rows))

    def do_people(self, **options):
        def save(checked, **kwargs):
            return {"accounts_without_password": people.save_people(checked, **kwargs)}

        return self._run(people.check_people, save, **options)

    def do_devices(self, **options):
        return self._run(devices.check_devices, devices.save_devices, **options)

    def render(self, data) -> str:
        lines = []
        if data["ignored_columns"]:
            lines.append(both(_("Ignored columns: %(columns)s"),
                              columns=", ".join(data["ignored_columns"])))
        if data["dry_run"]:
            lines.append(both(_("All %(rows)s rows of %(file)s are valid; nothing was imported "
                                "(--dry-run)."), rows=data["rows"], file=data["file"]))
        else:
            lines.append(both(_("Imported %(count)s rows from %(file)s."),
                              count=data["imported"], file=data["file"]))
        if data.get("accounts_without_password"):
            lines.append(both(_("User accounts created without a password: %(names)s. An "
                                "administrator must set each password (witness "
                                "changepassword USERNAME) before they can log in."),
                              names=", ".join(data["accounts_without_password"])))
        return "\n".join(lines)

    render_people = render
    render_devices = render
