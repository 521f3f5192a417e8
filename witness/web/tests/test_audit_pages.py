"""The audit pages (issue 4 item 6): the audit administrator searches the log, opens an
entry with an inclusion proof that verifies, and lists the checkpoints; the legal and
supervision role reads the access history of recordings only; reading is itself audited.
Who may open which page at all is in test_access's matrix."""

import base64
import html
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from witness.audit import log
from witness.audit import services as audit
from witness.audit.merkle import check_proof_document
from witness.audit.models import AuditEntry
from witness.audit.sequencer import Sequencer
from witness.web.views.audit import (
    RECORDING_ACCESS_PREFIXES,
    is_recording_access,
    recording_access,
)
from witness.web.views.common import PAGE_SIZE

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai

ACCESS_ACTIONS = ["recording.play", "recording.view", "recording.download",
                  "recording.export", "stream.start", "download.original", "export.package"]
OTHER_ACTIONS = ["recording.assign", "recording.ingest", "device.issue", "audit.view",
                 "auth.login", "ingest.file", "exporter.run"]


def entry(action, *, at=T0, actor="someone", actor_id="", obj=("devices.device", "1"),
          outcome="success", details=None) -> AuditEntry:
    """An entry at a chosen time (audit.append stamps the time itself)."""
    return AuditEntry.objects.create(
        created_at=at, actor_type="user", actor_id=actor_id, actor_label=actor,
        action=action, object_type=obj[0], object_id=obj[1], outcome=outcome,
        details=details or {})


def ids(response) -> list[int]:
    return [e.pk for e in response.context["page"].rows]


def proof_document(page: str) -> dict:
    match = re.search(r'<pre class="mono" id="proof-document">(.*?)</pre>', page, re.S)
    assert match, "no proof document on the page"
    return json.loads(html.unescape(match.group(1)))


@pytest.fixture
def world(site):
    return site()


@pytest.fixture
def auditor(world, login):
    return login(world.people["auditadmin"])


# -- the recording access set ---------------------------------------------------------------


def test_the_recording_access_set_is_one_definition_for_query_and_check(db):
    made = {action: entry(action) for action in ACCESS_ACTIONS + OTHER_ACTIONS}
    selected = set(AuditEntry.objects.filter(recording_access()).values_list("action",
                                                                           flat=True))
    assert selected == set(ACCESS_ACTIONS)
    assert {a for a in made if is_recording_access(a)} == set(ACCESS_ACTIONS)
    assert all(is_recording_access(p) for p in RECORDING_ACCESS_PREFIXES)


# -- search ---------------------------------------------------------------------------------


def test_filters_narrow_the_log(auditor):
    a = entry("device.issue", actor="custodian-lu", actor_id="7", at=T0 - timedelta(hours=3))
    b = entry("device.return", actor="custodian-lu", actor_id="7", at=T0 - timedelta(hours=1))
    c = entry("device.issue", actor="officer-zhang", outcome="refused",
              obj=("devices.device", "2"), at=T0 + timedelta(minutes=1))
    d = entry("case.create", actor="leader-wang", obj=("activities.case", "5"),
              at=T0 + timedelta(hours=1))
    url = reverse("audit_log")

    def found(**query):
        response = auditor.get(url, query)
        assert response.status_code == 200, response.content
        return [i for i in ids(response) if i in {a.pk, b.pk, c.pk, d.pk}]

    assert found() == [d.pk, c.pk, b.pk, a.pk]  # newest first
    assert found(actor="custodian") == [b.pk, a.pk]
    assert found(actor="7") == [b.pk, a.pk]  # the user's id
    assert found(action="device.issue") == [c.pk, a.pk]
    assert found(action="device") == [c.pk, b.pk, a.pk]  # everything under device.
    assert found(action="devic") == []  # no partial words
    assert found(object_type="activities.case") == [d.pk]
    assert found(object_type="devices") == [c.pk, b.pk, a.pk]
    assert found(object_type="devices.device", object_id="2") == [c.pk]
    assert found(outcome="refused") == [c.pk]
    # the period is in local time (Asia/Shanghai): 10:00 there is 02:00 UTC
    assert found(since="2026-03-02T10:00") == [d.pk, c.pk]
    assert found(until="2026-03-02T10:00") == [b.pk, a.pk]
    assert found(since="2026-03-02T08:30", until="2026-03-02T10:30") == [c.pk, b.pk]
    assert found(action="device", outcome="success", actor="lu") == [b.pk, a.pk]


def test_invalid_filters_show_errors_and_no_entries(auditor):
    entry("device.issue")
    response = auditor.get(reverse("audit_log"), {"since": "yesterday-ish"})
    assert response.status_code == 400
    assert response.context["page"].rows == []
    assert response.context["form"].errors["since"]
    response = auditor.get(reverse("audit_log"), {"since": "2026-03-02T10:00",
                                                  "until": "2026-03-01T10:00"})
    assert response.status_code == 400 and response.context["form"].errors["until"]


def test_the_search_page_has_labelled_filters_and_htmx(auditor):
    page = auditor.get(reverse("audit_log")).content.decode()
    form = page.split('<form class="filters"', 1)[1].split("</form>", 1)[0]
    assert 'hx-get="/audit/"' in form and 'method="get"' in form
    for name in ("actor", "action", "object_type", "object_id", "outcome", "since", "until"):
        assert f'<label for="id_{name}">' in form and f'id="id_{name}"' in form
    nav = page.split('class="site-nav"', 1)[1].split("</nav>", 1)[0]
    for audit_page in ("audit_log", "recording_access", "audit_checkpoints"):
        assert f'href="{reverse(audit_page)}"' in nav
    for enforcement in ("device_list", "case_list", "activity_list", "ledger"):
        assert f'href="{reverse(enforcement)}"' not in nav


def test_reading_the_log_is_itself_audited(world, auditor):
    e = entry("device.issue")
    before = AuditEntry.objects.order_by("-id").first().pk
    auditor.get(reverse("audit_log"), {"action": "device", "outcome": "success"})
    view = AuditEntry.objects.get(pk__gt=before)
    assert view.action == "audit.view" and view.outcome == "success"
    assert view.actor_id == str(world.people["auditadmin"].user.pk)
    assert view.details == {"page": "audit_log",
                            "filters": {"action": "device", "outcome": "success"}}
    auditor.get(reverse("audit_entry", args=[e.pk]))
    view = AuditEntry.objects.order_by("-id").first()
    assert (view.action, view.object_type, view.object_id) == (
        "audit.view", "audit.auditentry", str(e.pk))
    assert view.details == {"page": "audit_entry"}
    # the page shows the log as it was: the view's own entry is not on it
    response = auditor.get(reverse("audit_log"))
    newest = AuditEntry.objects.order_by("-id").first()
    assert newest.action == "audit.view" and newest.pk not in ids(response)


# -- pagination and queries -----------------------------------------------------------------


def test_keyset_pages_walk_the_whole_log_newest_first_without_count(auditor):
    for i in range(60):  # ties on the time: the id decides
        entry("device.check", at=T0)
        entry("device.issue", at=T0 - timedelta(seconds=i + 1))
    expected = list(AuditEntry.objects.order_by("-created_at", "-id").values_list("pk",
                                                                                flat=True))
    assert len(expected) > 2 * PAGE_SIZE
    seen, query = [], {}
    with CaptureQueriesContext(connection) as ctx:
        while True:
            response = auditor.get(reverse("audit_log"), query)
            page = response.context["page"]
            assert len(page.rows) <= PAGE_SIZE
            seen += [e.pk for e in page.rows]
            if not page.next_cursor:
                break
            assert "Next page" in response.content.decode() or "下一页" in \
                response.content.decode()
            query = {"after": page.next_cursor}
    assert seen == expected
    assert not any("COUNT(" in q["sql"].upper() for q in ctx.captured_queries)


def queries(client, url, data=None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, data or {})
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("name,role", [("audit_log", "auditadmin"),
                                       ("recording_access", "legal"),
                                       ("audit_checkpoints", "auditadmin")])
def test_query_count_does_not_grow_with_rows(world, login, settings, tmp_path, name, role):
    settings.WITNESS_AUDIT_KEY = tmp_path / "k"
    client = login(world.people[role])
    url = reverse(name)

    def add(n):
        for i in range(n):
            entry("recording.play", obj=("recordings.recording", str(i)))
            entry("device.issue")
            log.checkpoint()

    add(1)
    few = queries(client, url)
    add(30)
    assert queries(client, url) == few
    assert len(client.get(url).context["page"].rows) >= 31
    assert few <= 16


# -- the legal and supervision role ---------------------------------------------------------


def test_legal_reads_only_the_access_history_of_recordings(world, login):
    access = [entry(a, obj=("recordings.recording", "9")) for a in ACCESS_ACTIONS]
    other = [entry(a, obj=("recordings.recording", "9")) for a in OTHER_ACTIONS]
    client = login(world.people["legal"])
    response = client.get(reverse("recording_access"))
    shown = ids(response)
    assert set(shown) >= {e.pk for e in access}
    assert not set(shown) & {e.pk for e in other}
    assert all(is_recording_access(e.action) for e in response.context["page"].rows)
    # filters work within the history, never outside it
    narrowed = ids(client.get(reverse("recording_access"), {"action": "device"}))
    assert narrowed == []
    narrowed = ids(client.get(reverse("recording_access"), {"action": "recording"}))
    assert set(narrowed) == {e.pk for e in access if e.action.startswith("recording.")}
    assert "object_type" not in response.context["form"].fields
    # the entries of the history open, with nothing to change; the others do not
    Sequencer().drain()
    page = client.get(reverse("audit_entry", args=[access[0].pk]))
    assert page.status_code == 200
    assert check_proof_document(proof_document(page.content.decode()))
    assert "<form method=\"post\"" not in page.content.decode().split("<main", 1)[1]
    for e in other:
        assert client.get(reverse("audit_entry", args=[e.pk])).status_code == 403
    assert client.get(reverse("audit_log")).status_code == 403
    assert client.get(reverse("audit_checkpoints")).status_code == 403
    nav = response.content.decode().split('class="site-nav"', 1)[1].split("</nav>", 1)[0]
    assert f'href="{reverse("recording_access")}"' in nav
    assert f'href="{reverse("audit_log")}"' not in nav
    # and reading it is audited too (the refusals after it wrote their own denied entries)
    view = AuditEntry.objects.filter(action="audit.view").order_by("-id").first()
    assert view.object_id == str(access[0].pk)
    assert AuditEntry.objects.filter(outcome="denied", action="audit.read").count() == 2


# -- an entry and its proof -----------------------------------------------------------------


def test_the_entry_page_shows_every_field_and_a_proof_that_verifies(auditor, settings,
                                                                     tmp_path):
    settings.WITNESS_AUDIT_KEY = tmp_path / "k"
    e = entry("recording.play", actor="法制-李", actor_id="42",
              obj=("recordings.recording", "17"), outcome="denied",
              details={"reason": "<script>alert(1)</script>", "说明": "查阅", "n": [1, 2]})
    with transaction.atomic():
        for _ in range(6):
            audit.append("system:test", "device.check")
    cp = log.checkpoint()
    response = auditor.get(reverse("audit_entry", args=[e.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    for text in ("法制-李", "42", "recording.play", "recordings.recording", "17",
                 "2026-03-02T02:00:00.000000Z"):
        assert text in page
    # details pretty-printed and escaped
    details = page.split('id="entry-details">', 1)[1].split("</pre>", 1)[0]
    assert "<script>" not in page and "&lt;script&gt;" in details
    assert json.loads(html.unescape(details)) == e.details
    assert '\n  "n": [\n' in html.unescape(details)
    leaf = e.leaf
    assert bytes(leaf.leaf_hash).hex() in page
    doc = proof_document(page)
    assert doc["leafIdx"] == leaf.index and check_proof_document(doc)
    assert doc["treeSize"] == cp.tree_size
    assert doc["checkpoint"]["tree_size"] == cp.tree_size
    assert doc["checkpoint"]["root"] == bytes(cp.root).hex() == base64.b64decode(
        doc["root"]).hex()
    assert bytes(cp.root).hex() in page
    assert 'id="proof-checkpoint"' in page and cp.key_id in page
    # a tampered proof does not verify: the page's document is the real check
    assert not check_proof_document({**doc, "leafIdx": doc["leafIdx"] + 1})
    # the same document as a file for witness audit check-proof
    download = auditor.get(reverse("audit_entry", args=[e.pk]), {"format": "json"})
    assert download["Content-Disposition"].startswith("attachment;")
    assert check_proof_document(json.loads(download.content))


def test_an_entry_proven_against_the_current_tree_before_any_checkpoint(auditor):
    e = entry("device.issue")
    Sequencer().drain()
    page = auditor.get(reverse("audit_entry", args=[e.pk])).content.decode()
    doc = proof_document(page)
    assert check_proof_document(doc) and doc["checkpoint"] is None
    assert 'id="no-checkpoint"' in page


def test_an_entry_not_sequenced_yet_says_so(auditor):
    e = entry("device.issue")
    page = auditor.get(reverse("audit_entry", args=[e.pk])).content.decode()
    assert 'id="not-sequenced"' in page and 'id="proof-document"' not in page
    assert auditor.get(reverse("audit_entry", args=[e.pk]),
                       {"format": "json"}).status_code == 404
    assert auditor.get(reverse("audit_entry", args=[10**9])).status_code == 404


def test_the_search_page_shows_leaf_indices(auditor):
    first = entry("device.issue")
    Sequencer().drain()
    later = entry("device.return", at=T0 + timedelta(seconds=1))
    page = auditor.get(reverse("audit_log")).content.decode()
    row = page.split(f'data-entry="{first.pk}"', 1)[1].split("</tr>", 1)[0]
    assert f">{first.leaf.index}</td>" in row
    row = page.split(f'data-entry="{later.pk}"', 1)[1].split("</tr>", 1)[0]
    assert reverse("audit_entry", args=[later.pk]) in row
    assert "not sequenced yet" in row or "尚未" in row


# -- checkpoints ----------------------------------------------------------------------------


def test_the_checkpoints_page_lists_the_signed_checkpoints_largest_first(auditor, settings,
                                                                         tmp_path):
    settings.WITNESS_AUDIT_KEY = tmp_path / "k"
    empty = auditor.get(reverse("audit_checkpoints"))
    assert empty.context["page"].rows == []
    entry("device.issue")
    small = log.checkpoint()
    entry("device.return")
    large = log.checkpoint()
    response = auditor.get(reverse("audit_checkpoints"))
    assert [cp.pk for cp in response.context["page"].rows] == [large.pk, small.pk]
    page = response.content.decode()
    for cp in (small, large):
        assert bytes(cp.root).hex() in page and cp.time in page
    assert large.key_id in page


def test_the_audit_administrators_home_links_to_the_log(auditor):
    page = auditor.get(reverse("home")).content.decode()
    notice = page.split('id="administrator-notice"', 1)[1].split("</section>", 1)[0]
    assert f'href="{reverse("audit_log")}"' in notice
