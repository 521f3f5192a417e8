"""``witness policy [--json|--markdown]``: the policy table (action × role, ✓/—) and the
page map (url name → action), as the running code has them (issue 5 item 1). Read-only:
nothing is asked of the database. docs/access.md pastes the ``--markdown`` output."""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from witness.access import policy
from witness.core.commands import WitnessCommand
from witness.core.tables import table
from witness.org.models import Role
from witness.web.access import OPEN, PAGES

YES, NO = "✓", "—"


def api_operations() -> dict[str, str]:
    """``"METHOD /api/path" -> action`` from the API's own map, if the API is installed."""
    try:
        from witness.api import policy_map
    except ImportError:
        return {}
    return {f"{method} {path}": action
            for (path, method), action in sorted(policy_map().items())}


def describe() -> dict:
    roles = [role.value for role in Role]
    return {
        "roles": {role.value: str(role.label) for role in Role},
        "actions": [{"action": action, "description": str(text),
                     "roles": [r for r in roles if policy.may({r}, action)]}
                    for action, (_roles, text) in policy.ACTIONS.items()],
        "pages": dict(sorted(PAGES.items())),
        "open": sorted(OPEN),
        "api": api_operations(),
    }


def markdown(data: dict) -> str:
    roles = list(data["roles"])
    lines = ["| action | " + " | ".join(roles) + " | what it is |",
             "|---|" + "---|" * len(roles) + "---|"]
    for row in data["actions"]:
        cells = [YES if r in row["roles"] else NO for r in roles]
        lines.append(f"| `{row['action']}` | " + " | ".join(cells)
                     + f" | {row['description']} |")
    lines += ["", "| page (url name) | action |", "|---|---|"]
    lines += [f"| `{name}` | `{action}` |" for name, action in data["pages"].items()]
    open_page = gettext("open (no sign-in)")
    lines += [f"| `{name}` | {open_page} |" for name in data["open"]]
    if data["api"]:
        lines += ["", "| API operation | action |", "|---|---|"]
        lines += [f"| `{op}` | `{action}` |" for op, action in data["api"].items()]
    return "\n".join(lines)


class Command(WitnessCommand):
    help = _("Show the policy table (which roles may take which action) and which action "
             "each page and API operation is.")

    def add_command_arguments(self, parser):
        parser.add_argument("--markdown", action="store_true",
                            help=gettext("print Markdown tables (for docs/access.md)"))

    def run(self, markdown=False, **options):
        data = describe()
        self._markdown = markdown
        return data

    def render(self, data):
        if getattr(self, "_markdown", False):
            return markdown(data)
        roles = list(data["roles"])
        rows = [[row["action"], *[YES if r in row["roles"] else NO for r in roles],
                 row["description"]] for row in data["actions"]]
        self.print(table(gettext("Policy: action × role"),
                         [gettext("action"), *roles, gettext("what it is")], rows))
        pages = [[name, action] for name, action in data["pages"].items()]
        pages += [[name, gettext("open (no sign-in)")] for name in data["open"]]
        self.print(table(gettext("Web pages and their actions"),
                         [gettext("url name"), gettext("action")], pages))
        if data["api"]:
            self.print(table(gettext("API operations"),
                             [gettext("operation"), gettext("action")],
                             [[op, action] for op, action in data["api"].items()]))
        return None
