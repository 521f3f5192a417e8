"""``witness naming``: the file-name patterns ingest reads device facts from, per device
model (issue 3 item 3). ``list`` shows the patterns and which models use which; ``add``
adds the agency's own pattern; ``assign`` gives a model its ordered list (``--default``
returns it to every built-in pattern); ``test`` shows what a name reads as."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from witness.core.commands import WitnessCommand
from witness.core.errors import WitnessError
from witness.core.tables import table
from witness.ingest import naming, patterns
from witness.ingest.models import CustomNamePattern, ModelNaming


def _facts(facts: naming.NameFacts | None) -> dict | None:
    if facts is None:
        return None
    return {"pattern": facts.pattern, "start": facts.start.isoformat(),
            "end": facts.end.isoformat() if facts.end else None, "seq": facts.seq,
            "serial": facts.serial, "badge": facts.badge, "important": facts.important}


class Command(WitnessCommand):
    help = gettext_lazy("File-name patterns per device model: list them, add the agency's "
                        "own, assign them to a model, test a file name.")
    subcommands = {
        "list": gettext_lazy("List the patterns and the models that use them."),
        "add": gettext_lazy("Add a pattern: a regular expression with named groups (start "
                            "required; serial, badge, end, seq, important) and an example "
                            "file name it must read."),
        "assign": gettext_lazy("Give a device model its patterns, tried in the order given."),
        "test": gettext_lazy("Show what a file name reads as, for a model or a pattern."),
    }

    def do_list(self, **o):
        custom = set(CustomNamePattern.objects.values_list("name", flat=True))
        return {
            "patterns": [{"name": p.name, "builtin": p.name not in custom,
                          "regex": p.regex.pattern, "example": p.example}
                         for p in patterns.known().values()],
            "default": [p.name for p in naming.DEFAULT],
            "models": [{"model": m.model, "patterns": m.patterns}
                       for m in ModelNaming.objects.all()],
        }

    def render_list(self, data):
        from rich.console import Group

        return Group(
            table(_("File-name patterns"), [_("name"), _("built in"), _("example")],
                  [[p["name"], _("yes") if p["builtin"] else _("no"), p["example"]]
                   for p in data["patterns"]]),
            table(_("Device models"), [_("device model"), _("patterns, in order")],
                  [[m["model"], ", ".join(m["patterns"])] for m in data["models"]]
                  + [[_("(any other model)"), ", ".join(data["default"])]]))

    def add_add_arguments(self, p):
        p.add_argument("name", help=_("a short name (letters, digits, -)"))
        p.add_argument("regex", help=_("the regular expression"))
        p.add_argument("--example", required=True, help=_("a file name it must read"))

    def do_add(self, **o):
        row = patterns.add_pattern(o["name"], o["regex"], o["example"], actor=self.actor)
        return {"name": row.name, "regex": row.regex, "example": row.example,
                "reads": _facts(naming.parse_name(row.example, patterns.for_names([row.name])))}

    def add_assign_arguments(self, p):
        p.add_argument("model", help=_("the device model, as registered"))
        p.add_argument("patterns", nargs="*", metavar="PATTERN",
                       help=_("pattern names, in the order to try them"))
        p.add_argument("--default", action="store_true",
                       help=_("return the model to every built-in pattern"))

    def do_assign(self, **o):
        if o["default"] == bool(o["patterns"]):
            raise WitnessError(gettext_lazy("Give pattern names or --default, not both and "
                                            "not neither."), code="bad_arguments")
        row = patterns.assign(o["model"], None if o["default"] else o["patterns"],
                              actor=self.actor)
        return {"model": o["model"],
                "patterns": row.patterns if row else [p.name for p in naming.DEFAULT]}

    def add_test_arguments(self, p):
        p.add_argument("filename")
        which = p.add_mutually_exclusive_group()
        which.add_argument("--model", help=_("the device model"))
        which.add_argument("--pattern", help=_("one pattern's name"))

    def do_test(self, **o):
        tried = (patterns.for_names([o["pattern"]]) if o["pattern"]
                 else patterns.for_model(o["model"]))
        return {"filename": o["filename"], "tried": [p.name for p in tried],
                "reads": _facts(naming.parse_name(o["filename"], tried))}

    def render_test(self, data):
        if data["reads"] is None:
            return _("%(name)s fits none of: %(tried)s") % {
                "name": data["filename"], "tried": ", ".join(data["tried"])}
        return table(data["filename"], [_("field"), _("value")],
                     [[k, "" if v is None else str(v)] for k, v in data["reads"].items()])

    def render(self, data):
        return _("%(model)s: %(patterns)s") % {
            "model": data.get("model", data.get("name")),
            "patterns": ", ".join(data["patterns"]) if "patterns" in data
            else data.get("example", "")}
