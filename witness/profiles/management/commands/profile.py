"""``witness profile list|show|apply|new``: the policy profiles (everything the two
regulations disagree on) and which version is in force for the agency."""

from __future__ import annotations

from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from witness.core.cli_args import parse_local_datetime
from witness.core.commands import WitnessCommand
from witness.core.errors import NotFound, WitnessError
from witness.core.tables import table
from witness.org.services import default_agency
from witness.profiles import services as profiles
from witness.profiles.models import ProfileVersion
from witness.profiles.schema import FIELDS

HELP = _("Policy profiles: list them, show one with the article behind every field, apply "
         "one to the agency (a new version when its content changed), or copy one to edit.")
SUBCOMMANDS = {
    "list": _("List the shipped and the agency's own profiles and which one is in force."),
    "show": _("Show every field of a profile with the article it cites."),
    "apply": _("Make a profile the agency's rule set from a moment on (audited)."),
    "new": _("Copy a profile into the agency's profile folder for editing."),
}


def _origin(path) -> str:
    return "shipped" if path.parent == profiles.BUILTIN_DIR else "agency"


def _value(value) -> str:
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Command(WitnessCommand):
    help = HELP
    subcommands = SUBCOMMANDS

    # -- list ---------------------------------------------------------------------------

    def do_list(self, **options):
        try:
            agency = default_agency()
        except NotFound:
            agency = None
        current = profiles.active_version(agency, required=False) if agency else None
        latest = dict(ProfileVersion.objects.values("name").annotate(n=Max("version"))
                      .values_list("name", "n"))
        rows = []
        for name, path in profiles.available().items():
            row = {"name": name, "origin": _origin(path), "path": str(path), "title": "",
                   "regulation": "", "latest_version": latest.get(name),
                   "active": bool(current and current.name == name),
                   "active_version": current.version if current and current.name == name
                   else None, "error": None}
            try:
                profile, _data = profiles.read_file(path)
                row["title"], row["regulation"] = profile.title, profile.regulation
            except WitnessError as exc:
                row["error"] = exc.as_dict()
            rows.append(row)
        return {"agency": agency.name if agency else None, "profiles": rows}

    def render_list(self, data):
        rows = []
        for p in data["profiles"]:
            state = f"v{p['active_version']}" if p["active"] else ""
            origin = gettext("shipped") if p["origin"] == "shipped" else gettext("agency's own")
            title = p["title"] if p["error"] is None else p["error"]["en"]
            rows.append([p["name"], origin, p["regulation"], title,
                         p["latest_version"] or "-", state])
        heading = gettext("Profiles") if data["agency"] is None else \
            gettext("Profiles (agency: %(agency)s)") % {"agency": data["agency"]}
        columns = [gettext("Name"), gettext("Origin"), gettext("Regulation"), gettext("Title"),
                   gettext("Latest version"), gettext("In force")]
        out = table(heading, columns, rows)
        out.columns[0].no_wrap = True
        out.columns[3].overflow = "fold"
        return out

    # -- show ---------------------------------------------------------------------------

    def add_show_arguments(self, parser):
        parser.add_argument("name", help=gettext("profile name, e.g. lushan-2019"))

    def do_show(self, *, name, **options):
        profile, data, path = profiles.load(name)
        fields = [{"field": "activity_types",
                   "value": [f"{t.code} {t.name}" for t in profile.activity_types],
                   "source": profile.sources["activity_types"]}]
        fields += [{"field": field, "value": data[field.split(".")[0]][field.split(".")[1]],
                    "source": profile.sources[field]} for field in FIELDS]
        return {
            "name": profile.name, "title": profile.title, "regulation": profile.regulation,
            "origin": _origin(path), "path": str(path),
            "activity_types": [{"code": t.code, "name": t.name, "must_record": t.must_record}
                               for t in profile.activity_types],
            "fields": fields,
        }

    def render_show(self, data):
        origin = gettext("shipped") if data["origin"] == "shipped" else gettext("agency's own")
        lines = [f"{data['name']} — {data['title']}",
                 gettext("Regulation %(regulation)s; file %(path)s (%(origin)s)") % {
                     "regulation": data["regulation"] or "-", "path": data["path"],
                     "origin": origin}, ""]
        for field in data["fields"]:
            if field["field"] == "activity_types":
                lines.append(f"activity_types  [{field['source']}]")
                for t in data["activity_types"]:
                    must = gettext("must be recorded") if t["must_record"] else gettext("optional")
                    lines.append(f"    {t['code']}  {t['name']}  ({must})")
            else:
                lines.append(f"{field['field']} = {_value(field['value'])}  "
                             f"[{field['source']}]")
        return "\n".join(lines)

    # -- apply --------------------------------------------------------------------------

    def add_apply_arguments(self, parser):
        parser.add_argument("name", help=gettext("profile name"))
        parser.add_argument("--effective-from", metavar="ISO",
                            help=gettext("in force from this local time (default: now), "
                                    "e.g. 2026-11-20T09:30"))

    def do_apply(self, *, name, effective_from=None, **options):
        agency = default_agency()
        at = parse_local_datetime(effective_from) if effective_from else timezone.now()
        before = set(ProfileVersion.objects.filter(name=name).values_list("pk", flat=True))
        activation = profiles.apply(agency, name, effective_from=at, actor=self.actor)
        version = activation.version
        return {"agency": agency.name, "profile": version.name, "version": version.version,
                "new_version": version.pk not in before, "sha256": version.sha256,
                "effective_from": timezone.localtime(activation.effective_from).isoformat()}

    def render_apply(self, data):
        at = data["effective_from"][:16].replace("T", " ")
        text = gettext("Profile %(name)s version %(version)s is in force for %(agency)s from "
                  "%(at)s.") % {"name": data["profile"], "version": data["version"],
                                "agency": data["agency"], "at": at}
        if data["new_version"]:
            text += "\n" + gettext("The content changed: version %(version)s was stored.") % {
                "version": data["version"]}
        return text

    # -- new ----------------------------------------------------------------------------

    def add_new_arguments(self, parser):
        parser.add_argument("name", help=gettext("name of the new profile (lower-case, digits, "
                                            "'-' or '_')"))
        parser.add_argument("--from", dest="base", required=True, metavar="BASE",
                            help=gettext("the profile to copy, e.g. lushan-2019"))

    def do_new(self, *, name, base, **options):
        path = profiles.new(name, base)
        return {"name": name, "based_on": base, "path": str(path)}

    def render_new(self, data):
        return gettext("Created %(path)s from %(base)s. Edit it, then run 'witness profile apply "
                  "%(name)s'.") % {"path": data["path"], "base": data["based_on"],
                                   "name": data["name"]}
