"""The walk (issue 5, "Done when"): every URL pattern of the site and every API operation,
for every role, answers allow or deny as the policy table says — and the walk fails for a
pattern that is in neither the page map nor the open pages, or an API operation missing
from the API's policy map.

Generic over the root URL resolver (witness/urls.py): a page added anywhere under it is
walked without a change here. Each pattern is requested with made-up arguments (999999 for
an ``int``, ``"x" * 20`` for a ``str``): a role the policy refuses must get 403 before any
object is looked up; a role it allows must get anything but 403 (404 for the missing
object is the usual answer) and never a server error. Object scope and grants are the
business of witness/web/tests/test_access.py and test_policy_cells.py.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from dataclasses import dataclass

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.converters import IntConverter, UUIDConverter
from django.urls.resolvers import RoutePattern

from witness.access import policy
from witness.org.models import Role
from witness.web.access import OPEN, PAGES

ROLES = [role.value for role in Role]
INT = "999999"
TEXT = "x" * 20
# Views that are not pages of the application: Django's language switch (a POST of a form
# on every page, in OPEN) and the static files of development servers.
NOT_PAGES = {"django.views.i18n.set_language", "django.views.static.serve"}
API_MODULE = "witness.api"


@dataclass(frozen=True)
class Route:
    """One URL pattern reachable from the root urlconf, with a URL for it."""

    name: str | None
    qualified: str | None  # with the namespaces, for reverse()
    url: str
    view: str  # dotted path of the callback
    api: bool  # under the API's include (walked by the API walk instead)

    def __str__(self) -> str:
        return f"{self.name or '(unnamed)'} {self.url} [{self.view}]"


def _dummy(converter) -> str:
    if isinstance(converter, IntConverter):
        return INT
    if isinstance(converter, UUIDConverter):
        return str(uuid.UUID(int=999999))
    return TEXT


_PARAM = re.compile(r"<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>")


def _filled(route: str, converters: dict) -> str:
    return _PARAM.sub(lambda m: _dummy(converters[m.group("name")]), route)


def _view_path(callback) -> str:
    view = getattr(callback, "view_class", None) or getattr(callback, "cls", None) or callback
    return f"{view.__module__}.{view.__qualname__}"


def _walk(resolver, prefix: str, route_only: bool, namespace: str | None, api: bool):
    for entry in resolver.url_patterns:
        pattern = entry.pattern
        is_route = route_only and isinstance(pattern, RoutePattern)
        piece = _filled(str(pattern), pattern.converters) if is_route else ""
        if isinstance(entry, URLResolver):
            module = getattr(entry.urlconf_module, "__name__", "")
            ns = entry.namespace
            qualified_ns = f"{namespace}:{ns}" if namespace and ns else ns or namespace
            yield from _walk(entry, prefix + piece, is_route, qualified_ns,
                             api or module.startswith(API_MODULE))
            continue
        assert isinstance(entry, URLPattern)
        name = entry.name
        qualified = f"{namespace}:{name}" if namespace and name else name
        if is_route:
            url = "/" + prefix + piece
        else:  # a regular expression somewhere on the way: Django builds the URL
            kwargs = {key: INT for key in pattern.regex.groupindex}
            url = reverse(qualified, kwargs=kwargs) if qualified else ""
        yield Route(name, qualified, url, _view_path(entry.callback), api)


def routes() -> list[Route]:
    """Every URL pattern of the site (through every include), the API's included."""
    return list(_walk(get_resolver(), "", True, None, False))


def pages() -> list[Route]:
    """The web pages: every pattern but the API's and Django's own (``NOT_PAGES``)."""
    found = [r for r in routes() if not r.api and r.view not in NOT_PAGES]
    assert len(found) >= 28, "the walk lost the site's pages"  # those of issue 4 at least
    return found


def ask(client, url: str, method: str | None = None):
    """GET, or POST where the view accepts POST alone (GET answers 405). Returns the
    method used and the response."""
    if method is None:
        response = client.get(url)
        if response.status_code != 405:
            return "GET", response
        method = "POST"
    return method, (client.get(url) if method == "GET" else client.post(url, {}))


# -- the maps are complete ------------------------------------------------------------------


def test_every_url_pattern_is_in_the_page_map_or_open():
    """A page that is in neither witness.web.access.PAGES nor OPEN has no rule: fail and
    name it (issue 5: the walk fails when an endpoint is missing from the policy)."""
    missing = sorted({str(r) for r in pages() if r.name not in PAGES and r.name not in OPEN})
    assert not missing, (
        "URL patterns without an entry in witness.web.access.PAGES (url name -> policy "
        "action) or OPEN:\n  " + "\n  ".join(missing))


def test_every_page_is_named_once_and_maps_to_a_policy_action():
    names = [r.name for r in pages()]
    twice = sorted({n for n in names if names.count(n) > 1})
    assert not twice, f"url names used by more than one pattern: {twice}"
    assert not set(PAGES) & OPEN, f"both a page with a rule and open: {set(PAGES) & OPEN}"
    unknown = {name: action for name, action in PAGES.items() if action not in policy.POLICY}
    assert not unknown, f"pages whose action is not in the policy table: {unknown}"


def test_every_entry_of_the_page_map_is_a_url_pattern():
    """No stale rule: each name in PAGES and OPEN is a pattern of the site."""
    names = {r.name for r in routes()}
    stale = sorted((set(PAGES) | OPEN) - names)
    assert not stale, f"in witness.web.access but not a URL pattern of the site: {stale}"


# -- every page, every role -----------------------------------------------------------------


@pytest.fixture
def people(site):
    return site().people


@pytest.mark.parametrize("role", ROLES)
def test_every_page_answers_each_role_as_the_policy_says(people, login, role):
    """For each page with a rule: 403 iff policy.may(role, PAGES[name]) is false; an
    allowed role is never refused by role (anything but 403) and never meets a 5xx."""
    client = login(people[role])
    wrong = []
    for route in pages():
        if route.name not in PAGES:
            continue  # OPEN pages: the anonymous walk; missing ones: the test above
        allowed = policy.may({role}, PAGES[route.name])
        try:
            method, response = ask(client, route.url)
        except Exception as exc:  # reported with the page that raised it
            wrong.append(f"{route} raised {type(exc).__name__}: {exc}")
            continue
        status = response.status_code
        if allowed and (status == 403 or status >= 500):
            wrong.append(f"{method} {route}: {status}, but {role} may {PAGES[route.name]}")
        elif not allowed and status != 403:
            wrong.append(f"{method} {route}: {status}, but {role} may not "
                         f"{PAGES[route.name]} (403 expected)")
    assert not wrong, f"{role}:\n  " + "\n  ".join(wrong)


@pytest.mark.django_db
def test_every_page_with_a_rule_sends_an_anonymous_visitor_to_the_log_in_page():
    client = Client()
    login_url = reverse("login")
    wrong = []
    for route in pages():
        if route.name in OPEN:
            continue
        method, response = ask(client, route.url)
        location = response.headers.get("Location", "")
        if response.status_code != 302 or not location.startswith(login_url + "?next="):
            wrong.append(f"{method} {route}: {response.status_code} {location}")
    assert not wrong, "not sent to the log-in page:\n  " + "\n  ".join(wrong)


@pytest.mark.django_db
def test_an_open_page_opens_for_an_anonymous_visitor(make_agency):
    """The log-in and log-out pages and the disclosure links' token pages: no 403 and no
    detour to the log-in page (a bad token is 404, not a refusal of the visitor)."""
    make_agency()
    client = Client()
    wrong = []
    for route in pages():
        if route.name not in OPEN:
            continue
        method, response = ask(client, route.url)
        location = response.headers.get("Location", "")
        if response.status_code == 403 or response.status_code >= 500 or "next=" in location:
            wrong.append(f"{method} {route}: {response.status_code} {location}")
    assert not wrong, "open pages refused:\n  " + "\n  ".join(wrong)


# -- the API ----------------------------------------------------------------------------------

_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>[^)]*\)")
_BRACES = re.compile(r"\{[^}]*\}")


def api_operations() -> set[tuple[str, str]]:
    """(path with ``{}`` for each parameter, METHOD) of every API URL pattern's view."""
    ops = set()
    for entry, prefix in _api_patterns(get_resolver(), ""):
        regex = entry.pattern.regex.pattern if not isinstance(entry.pattern, RoutePattern) \
            else _PARAM.sub("{}", str(entry.pattern))
        path = "/" + prefix + _GROUP.sub("{}", regex).lstrip("^").rstrip("$").replace(
            "\\Z", "")
        callback = entry.callback
        actions = getattr(callback, "actions", None)
        if actions:
            methods = {m.upper() for m in actions if m not in ("options", "head")}
        else:
            cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
            methods = {m.upper() for m in cls.http_method_names
                       if hasattr(cls, m) and m not in ("options", "head")}
        ops |= {(_BRACES.sub("{}", path), m) for m in methods}
    return ops


def _api_patterns(resolver, prefix: str, api: bool = False):
    for entry in resolver.url_patterns:
        piece = str(entry.pattern) if isinstance(entry.pattern, RoutePattern) else ""
        if isinstance(entry, URLResolver):
            module = getattr(entry.urlconf_module, "__name__", "")
            yield from _api_patterns(entry, prefix + piece,
                                     api or module.startswith(API_MODULE))
        elif api:
            yield entry, prefix


def policy_map():
    import witness.api

    mapping = getattr(witness.api, "policy_map", None)
    assert mapping is not None, "witness.api.policy_map() (API operation -> action) is missing"
    return mapping()


def test_every_api_operation_has_a_policy_action():
    """Each (path, method) the API's URL patterns serve is in witness.api.policy_map(), and
    each action there is in the policy table."""
    mapped = policy_map()
    served = api_operations()
    assert served, "no API operation found under /api/"
    covered = {(_BRACES.sub("{}", path), method) for path, method in mapped}
    missing = sorted(served - covered)
    assert not missing, f"API operations without a policy action: {missing}"
    unknown = {op: action for op, action in mapped.items() if action not in policy.POLICY}
    assert not unknown, f"API operations whose action is not in the policy table: {unknown}"


@pytest.mark.parametrize("role", ROLES)
def test_every_api_operation_answers_each_role_as_the_policy_says(people, login, role):
    """The session of each role against every operation: 403 iff the policy refuses the
    operation's action; otherwise never 403 and never 5xx."""
    client = login(people[role])
    wrong = []
    for (path, method), action in sorted(policy_map().items()):
        url = _BRACES.sub(INT, path)
        allowed = policy.may({role}, action)
        try:
            response = client.generic(method, url, "{}", content_type="application/json",
                                      HTTP_ACCEPT="application/json")
        except Exception as exc:  # reported with the operation
            wrong.append(f"{method} {path} raised {type(exc).__name__}: {exc}")
            continue
        status = response.status_code
        if allowed and (status == 403 or status >= 500):
            wrong.append(f"{method} {path}: {status}, but {role} may {action}")
        elif not allowed and status != 403:
            wrong.append(f"{method} {path}: {status}, but {role} may not {action} (403)")
    assert not wrong, f"{role}:\n  " + "\n  ".join(wrong)


@pytest.mark.django_db
def test_the_api_refuses_an_anonymous_caller():
    client = Client()
    wrong = []
    for (path, method), _action in sorted(policy_map().items()):
        if path.rstrip("/").endswith("/schema"):
            continue  # the OpenAPI document itself
        response = client.generic(method, _BRACES.sub(INT, path), "{}",
                                  content_type="application/json")
        if response.status_code not in (401, 403):
            wrong.append(f"{method} {path}: {response.status_code}")
    assert not wrong, "answered without a signed-in caller:\n  " + "\n  ".join(wrong)


# -- witness policy -------------------------------------------------------------------------


def test_the_policy_command_shows_the_table_the_gate_uses():
    """``witness policy --json`` is the policy table and the maps the walk checks; the
    Markdown (for docs/access.md) has a ✓/— row per action."""
    out = io.StringIO()
    call_command("policy", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert {row["action"]: set(row["roles"]) for row in data["actions"]} == {
        action: {str(r) for r in roles} for action, roles in policy.POLICY.items()}
    assert data["pages"] == PAGES and set(data["open"]) == OPEN
    assert data["api"] == {f"{m} {p}": a for (p, m), a in policy_map().items()}
    out = io.StringIO()
    call_command("policy", "--markdown", stdout=out)
    rows = {line.split("|")[1].strip(): line for line in out.getvalue().splitlines()
            if line.startswith("| `")}
    assert rows["`audit.read`"].count("✓") == 1 and rows["`role.assign`"].count("✓") == 1
    assert rows["`home`"].count("—") == 0
