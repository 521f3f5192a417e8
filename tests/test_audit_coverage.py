"""Issue 4 item 1, "complete coverage": every web view, CLI command and background task that
changes state writes an audit entry, with the right actor, in the transaction of the change.

Three tables hold the scenarios: ``VIEW_SCENARIOS`` (url name), ``CLI_SCENARIOS``
("command subcommand", with ``[variant]`` for another mode of the same command) and
``TASK_SCENARIOS`` (the task's dotted path). Each scenario makes a real, valid change
through the real code and names the actions it must write. Meta-tests compute at test time
what exists — the URL patterns whose views handle POST, every subcommand of every
``witness`` command, every django-tasks task under ``witness/`` — and fail until a new one
is given a scenario or classified (read-only, or no entry by design with the reason).
There is no API: the JSON output of the CLI is the only programmatic interface.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import inspect
import io
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from importlib import import_module
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command, get_commands, load_command_class
from django.db import connection
from django.db.models import Max
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django_tasks.base import Task
from django_tasks_db.models import DBTaskResult

import witness
from witness.accounts.testing import verified_login
from witness.activities import services as activities
from witness.activities.models import Activity, Case
from witness.audit.models import ActorType, AuditEntry, AuditLeaf, Checkpoint, Outcome
from witness.audit.sequencer import Sequencer, tree_size
from witness.derivatives.models import Derivative, Status
from witness.devices import services as devices
from witness.devices.models import Device, DeviceEvent, DeviceIssue, PreUseCheck, RefusedIssue
from witness.ingest.models import CustomNamePattern, ModelNaming
from witness.ingest.services import ingest_volume
from witness.org.models import Agency, Person, PersonUnitHistory, Unit
from witness.profiles.models import ProfileActivation
from witness.recordings.models import Recording
from witness.station.models import StationVolume, VolumeState
from witness.storage import replica
from witness.storage.config import get_backend
from witness.storage.models import Blob, FixityCheck, Replica
from witness.storage.pipeline import store_file
from witness.storage.tests.test_fixity import flip
from witness.testing import factories as f
from witness.testing.child import child_env
from witness.testing.media import ffmpeg_available, make_wav
from witness.testing.volumes import docked_camera
from witness.web import lockout
from witness.web.access import PAGES
from witness.web.models import LoginLock

PASSWORD = f.PASSWORD
OUTSIDER = "sysadmin"  # an administrator: opens none of the enforcement pages


# -- the audit log, before and after ----------------------------------------------------------


def last_entry_id() -> int:
    return AuditEntry.objects.aggregate(top=Max("id"))["top"] or 0


def entries_since(since: int) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(id__gt=since).order_by("id"))


def shown(entries) -> list[str]:
    return [f"{e.action}/{e.outcome}/{e.actor_label}" for e in entries]


def assert_entries(since: int, actions, actor: Callable[[AuditEntry], bool], *,
                   outcome: str = Outcome.SUCCESS) -> list[AuditEntry]:
    """Each of ``actions`` has at least one new entry with ``outcome``, and every such entry
    names the right actor."""
    new = entries_since(since)
    for action in actions:
        found = [e for e in new if e.action == action and e.outcome == outcome]
        assert found, f"no {outcome} {action!r} entry; new entries: {shown(new)}"
        wrong = [e for e in found if not actor(e)]
        assert not wrong, f"{action!r} names the wrong actor: {shown(wrong)}"
    return new


def by_user(user) -> Callable[[AuditEntry], bool]:
    return lambda e: e.actor_type == ActorType.USER and e.actor_id == str(user.pk)


def by_label(prefix: str) -> Callable[[AuditEntry], bool]:
    return lambda e: e.actor_label == prefix or e.actor_label.startswith(f"{prefix}:")


class AuditInsertRefused(Exception):
    """Raised instead of writing an audit entry (``audit_inserts_fail``)."""


@contextlib.contextmanager
def audit_inserts_fail():
    """Make every INSERT into the audit table fail, on the real database connection: a
    change that commits with its entry must then not happen at all."""

    def refuse(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("INSERT") and "audit_auditentry" in sql:
            raise AuditInsertRefused(sql[:100])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(refuse):
        yield


# -- shared set-up ----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _own_stores(settings, tmp_path):
    """This test's own blob store (no replica unless a scenario adds one) and profile
    folder: `fixity --all` must not meet other tests' objects."""
    settings.WITNESS_STORAGE = f"file://{tmp_path / 'store'}"
    settings.WITNESS_REPLICA = ""
    settings.WITNESS_PROFILE_DIR = str(tmp_path / "profiles")


class Ctx:
    """What a scenario gets: the agency (made on first use, so that `demo` starts from an
    empty database), a private folder, and the settings."""

    def __init__(self, site, tmp_path: Path, settings):
        self._site, self.tmp, self.settings = site, tmp_path, settings

    @cached_property
    def ns(self):
        return self._site()

    def person(self, role: str) -> Person:
        return self.ns.people[role]

    def replica_store(self):
        self.settings.WITNESS_REPLICA = f"file://{self.tmp / 'replica'}"


@pytest.fixture
def ctx(site, tmp_path, settings):
    return Ctx(site, tmp_path, settings)


def need_ffmpeg():
    if not ffmpeg_available():
        pytest.fail("ffmpeg/ffprobe missing; `make install` installs them")


def local_minute(dt) -> str:
    """A local time as the CLI and the datetime-local inputs take it."""
    return timezone.localtime(dt).strftime("%Y-%m-%dT%H:%M")


def local_second(dt) -> str:
    return timezone.localtime(dt).strftime("%Y-%m-%dT%H:%M:%S")


def wav_folder(ctx: Ctx, name: str = "volume") -> Path:
    need_ffmpeg()
    folder = ctx.tmp / name
    folder.mkdir()
    make_wav(folder / "REC_0001.WAV", 1)
    return folder


def ingested_recording(ctx: Ctx) -> Recording:
    """A real recording: a WAV stored, verified and registered by the ingest pipeline."""
    device = f.DeviceFactory(unit=ctx.ns.field, serial="DSJ-COV-ING")
    run = ingest_volume(wav_folder(ctx, "ingested"), device_serial=device.serial, actor="test")
    return Recording.objects.get(ingest_run=run)


def stored_blob(ctx: Ctx) -> Blob:
    source = ctx.tmp / "original.bin"
    source.write_bytes(os.urandom(4096))
    return store_file(source, get_backend(), actor="test").blob


def issued_device(ctx: Ctx, serial: str = "DSJ-COV-OUT") -> Device:
    device = f.DeviceFactory(unit=ctx.ns.field, serial=serial)
    devices.issue_device(device, ctx.person("officer"), no_check_reason="test", actor="test")
    return device


# == 1. web views ============================================================================


@dataclass
class ViewPost:
    """A valid POST to one view, and what it must change and write."""

    role: str  # who posts (a person of make_agency, with a login)
    data: dict
    actions: tuple[str, ...]  # success entries it must write, naming the user
    changed: Callable  # changed(client) -> whether the change is there
    args: tuple = ()
    headers: dict = field(default_factory=dict)
    logged_in: bool = True  # logged in before the POST (not for the login itself)
    # a POST the view refuses (input errors, wrong password): no change, no success entry;
    # None where every POST is valid
    bad_data: dict | None = field(default_factory=dict)
    bad_outcome: str | None = None  # the entry the refused POST itself must write


def login_view(ctx: Ctx) -> ViewPost:
    user = ctx.person("officer").user
    return ViewPost("officer", {"username": user.username, "password": PASSWORD},
                    ("auth.login",), lambda c: c.session.get("_auth_user_id") == str(user.pk),
                    logged_in=False,
                    bad_data={"username": user.username, "password": "wrong-password"},
                    bad_outcome=Outcome.FAILURE)


def logout_view(ctx: Ctx) -> ViewPost:
    return ViewPost("custodian", {}, ("auth.logout",),
                    lambda c: "_auth_user_id" not in c.session, bad_data=None)


def device_register_view(ctx: Ctx) -> ViewPost:
    custodian = ctx.person("custodian")
    return ViewPost("custodian", {
        "kind": "body_camera", "serial": "DSJ-COV-NEW", "model": "DSJ-V9",
        "manufacturer": "某电子", "unit": ctx.ns.field.pk, "custodian": custodian.pk,
        "records_video": "unknown", "records_audio": "unknown", "takes_photos": "unknown",
        "notes": ""}, ("device.register",),
        lambda c: Device.objects.filter(serial="DSJ-COV-NEW").exists())


def check_fields(**extra) -> dict:
    return {"battery_percent": 90, "free_storage_mb": 4096, "working": "on",
            "device_time": local_second(timezone.now()), **extra}


def device_issue_view(ctx: Ctx) -> ViewPost:
    device = f.DeviceFactory(unit=ctx.ns.field)
    return ViewPost("custodian", {"holder": ctx.person("officer").pk, "purpose": "现场检查",
                                  **check_fields()},
                    ("device.issue", "device.check"),
                    lambda c: DeviceIssue.objects.filter(device=device).exists(),
                    args=(device.pk,))


def device_return_view(ctx: Ctx) -> ViewPost:
    device = issued_device(ctx)
    return ViewPost("custodian", {"notes": "完好"}, ("device.return",),
                    lambda c: DeviceIssue.objects.filter(device=device,
                                                         returned_at__isnull=False).exists(),
                    args=(device.pk,), bad_data=None)


def device_check_view(ctx: Ctx) -> ViewPost:
    device = issued_device(ctx)
    return ViewPost("custodian", check_fields(), ("device.check",),
                    lambda c: PreUseCheck.objects.filter(device=device).exists(),
                    args=(device.pk,))


def device_event_view(ctx: Ctx) -> ViewPost:
    device = f.DeviceFactory(unit=ctx.ns.field)
    return ViewPost("custodian", {
        "kind": "repair", "description": "屏幕碎裂，送厂维修",
        "responsible": ctx.person("officer").pk, "amount_yuan": "350.50",
        "occurred_at": local_minute(timezone.now() - timedelta(hours=1))},
        ("device.event",), lambda c: DeviceEvent.objects.filter(device=device).exists(),
        args=(device.pk,))


def case_create_view(ctx: Ctx) -> ViewPost:
    return ViewPost("unit_head", {"number": "鲁市监立〔2026〕901号", "name": "覆盖测试案",
                                  "leader_in_charge": ctx.person("leader").pk,
                                  "retention_class": "10y"},
                    ("case.create",),
                    lambda c: Case.objects.filter(number="鲁市监立〔2026〕901号").exists())


def activity_create_view(ctx: Ctx) -> ViewPost:
    officer, head = ctx.person("officer"), ctx.person("unit_head")
    arrived = timezone.now() - timedelta(hours=4)
    return ViewPost("officer", {
        "activity_type": "investigation", "unit": ctx.ns.field.pk,
        "place": "鲁山县覆盖路1号", "arrived_at": local_minute(arrived),
        "departed_at": local_minute(arrived + timedelta(hours=1)),
        "officers": [officer.pk, head.pk], "recorder": head.pk, "party": "某超市",
        "scene": "冷柜温度异常", "evidence_items": "冷柜温度计读数"},
        ("activity.create",), lambda c: Activity.objects.filter(place="鲁山县覆盖路1号").exists())


def activity_edit_view(ctx: Ctx) -> ViewPost:
    officer, head = ctx.person("officer"), ctx.person("unit_head")
    activity = f.ActivityFactory(unit=ctx.ns.field, activity_type="investigation")
    f.ActivityOfficerFactory(activity=activity, person=officer, is_recorder=True)
    return ViewPost("officer", {
        "activity_type": "investigation", "unit": ctx.ns.field.pk, "place": "鲁山县改正路2号",
        "arrived_at": local_minute(activity.arrived_at),
        "departed_at": local_minute(activity.departed_at),
        "officers": [officer.pk, head.pk], "recorder": officer.pk},
        ("activity.update",),
        lambda c: Activity.objects.filter(pk=activity.pk, place="鲁山县改正路2号").exists(),
        args=(activity.pk,))


def recording_assign_view(ctx: Ctx) -> ViewPost:
    device = f.DeviceFactory(unit=ctx.ns.field)
    rec = f.RecordingFactory(device=device, holder=ctx.person("officer"))
    activity = f.ActivityFactory(unit=ctx.ns.field,
                                 arrived_at=rec.started_at - timedelta(minutes=40))
    return ViewPost("custodian", {"activity": activity.pk}, ("recording.assign",),
                    lambda c: Recording.objects.filter(pk=rec.pk, activity=activity).exists(),
                    args=(rec.pk,), headers={"HTTP_HX_REQUEST": "true"},
                    bad_data={"activity": "", "note": ""})  # outside any: a reason is needed


def station_retry_view(ctx: Ctx) -> ViewPost:
    failed = StationVolume.objects.create(
        agency=ctx.ns.agency, host="station-1", watch_dir="/media/station",
        path="/media/station/B", serial="UNKNOWN-9", state=VolumeState.FAILED,
        error="未登记\nNot registered")
    return ViewPost("custodian", {}, ("station.retry",),
                    lambda c: StationVolume.objects.filter(path=failed.path,
                                                           state=VolumeState.QUEUED).exists(),
                    args=(failed.pk,), bad_data=None)


def ingest_upload_view(ctx: Ctx) -> ViewPost:
    device = f.DeviceFactory(unit=ctx.ns.field, serial="DSJ-COV-UP")
    wav = wav_folder(ctx, "upload") / "REC_0001.WAV"
    return ViewPost("custodian", {
        "device": device.pk, "files": [SimpleUploadedFile("REC_0001.WAV", wav.read_bytes())]},
        ("ingest.start", "blob.store", "recording.ingest", "ingest.finish"),
        lambda c: Recording.objects.filter(device=device).exists())


# -- confidentiality labels and the state-secret hand-off (issue 5 item 4, EVD-4) --


def as_subject(ctx: Ctx, role: str):
    from witness.access import authz

    return authz.subject_of(get_user_model().objects.get(pk=ctx.person(role).user.pk))


def labelled_recording(ctx: Ctx, blob=None) -> Recording:
    return f.RecordingFactory(blob=blob or f.BlobFactory(), holder=ctx.person("officer"),
                              device=f.DeviceFactory(unit=ctx.ns.field))


def pending_label_change(ctx: Ctx, label: str = "privacy"):
    from witness.confidentiality import services as labels

    rec = labelled_recording(ctx, stored_blob(ctx) if label == "state_secret" else None)
    return labels.request_change(as_subject(ctx, "officer"), rec, label, "覆盖测试")


def secret_handoff(ctx: Ctx, upto: str):
    """A recording with really stored bytes marked 国家秘密, its hand-off taken up to
    ``upto`` ("marked", "exported" or "removal_approved")."""
    from witness.confidentiality import services as labels

    change = pending_label_change(ctx, "state_secret")
    labels.decide(as_subject(ctx, "leader"), change, approve=True)
    handoff = change.handoffs.get()
    if upto in ("exported", "removal_approved"):
        labels.record_export(as_subject(ctx, "custodian"), handoff, medium="DVD-R",
                             medium_id="MM-COV", held_at="保密室", held_by="张保密",
                             exported_at=timezone.now())
    if upto == "removal_approved":
        labels.approve_removal(as_subject(ctx, "leader"), handoff, "同意移除")
    handoff.refresh_from_db()
    return handoff


def label_change_new_view(ctx: Ctx) -> ViewPost:
    from witness.confidentiality.models import LabelChange

    rec = labelled_recording(ctx)
    return ViewPost("officer", {"recording": rec.pk, "label": "privacy", "reason": "面部"},
                    ("label.request",),
                    lambda c: LabelChange.objects.filter(recording=rec).exists(),
                    bad_data={"recording": rec.pk, "label": "privacy", "reason": ""})


def label_change_decide_view(ctx: Ctx) -> ViewPost:
    change = pending_label_change(ctx)
    return ViewPost("leader", {"decision": "approve"}, ("label.approve", "label.set"),
                    lambda c: Recording.objects.filter(pk=change.recording_id,
                                                       label="privacy").exists(),
                    args=(change.pk,), headers={"HTTP_HX_REQUEST": "true"},
                    bad_data={"decision": "reject", "note": ""})  # a rejection needs a reason


def secret_handoff_view(ctx: Ctx) -> ViewPost:
    from witness.confidentiality.models import SecretHandoff

    handoff = secret_handoff(ctx, "removal_approved")
    return ViewPost("custodian", {"step": "remove"}, ("secret.remove_start", "secret.remove"),
                    lambda c: SecretHandoff.objects.filter(pk=handoff.pk,
                                                           state="removed").exists()
                    and not get_backend().exists(handoff.recording.blob.key),
                    args=(handoff.pk,), bad_data={"step": "approve", "reason": "x"})


VIEW_SCENARIOS: dict[str, Callable[[Ctx], ViewPost]] = {
    "login": login_view,
    "logout": logout_view,
    "device_register": device_register_view,
    "device_issue": device_issue_view,
    "device_return": device_return_view,
    "device_check": device_check_view,
    "device_event": device_event_view,
    "case_create": case_create_view,
    "activity_create": activity_create_view,
    "activity_edit": activity_edit_view,
    "recording_assign": recording_assign_view,
    "station_retry": station_retry_view,
    "ingest_upload": ingest_upload_view,
    "label_change_new": label_change_new_view,
    "label_change_decide": label_change_decide_view,
    "secret_handoff": secret_handoff_view,
}

# Views that handle POST and change nothing that the audit log records.
POST_WITHOUT_STATE = {
    "set_language": "Django's language switch: sets the browser's language cookie only",
}


def url_patterns(patterns=None, prefix: str = ""):
    """(url name, view callable) of every pattern of the project's URLconf."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from url_patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield pattern.name or f"{prefix}{pattern.pattern}", pattern.callback


POST_MARKERS = ("request.POST", "request.FILES", "request.method")


def handles_post(view) -> bool:
    """Whether a view does something with a POST: a class-based view with ``post``; a
    function whose code reads the POST or the method, or which is wrapped by
    ``require_POST`` / ``require_http_methods([... "POST" ...])``."""
    if is_api_view(view):
        return "post" in view.actions
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        return "post" in view_class.http_method_names and hasattr(view_class, "post")
    layer = view
    while layer is not None:
        for cell in getattr(layer, "__closure__", None) or ():
            with contextlib.suppress(ValueError):
                value = cell.cell_contents
                if isinstance(value, list | tuple | set | frozenset) and "POST" in value:
                    return True
        layer = getattr(layer, "__wrapped__", None)
    source = inspect.getsource(inspect.unwrap(view))
    return any(marker in source for marker in POST_MARKERS)


def is_api_view(view) -> bool:
    """A view of the REST API (a DRF viewset bound to its HTTP methods)."""
    return getattr(view, "cls", None) is not None and isinstance(getattr(view, "actions", None),
                                                                 dict)


def test_every_view_that_handles_post_has_a_scenario_or_a_reason():
    handling = {name for name, view in url_patterns()
                if not is_api_view(view) and handles_post(view)}
    tables = set(VIEW_SCENARIOS) | set(POST_WITHOUT_STATE)
    assert set(VIEW_SCENARIOS).isdisjoint(POST_WITHOUT_STATE)
    assert handling == tables, (
        f"without a scenario: {sorted(handling - tables)}"
        f"; in the table but not handling POST: {sorted(tables - handling)}")
    # the inspection tells the pages that only show apart from the forms
    assert {"device_list", "audit_log", "home"}.isdisjoint(handling)


def prepared_post(name: str, ctx: Ctx, client):
    post = VIEW_SCENARIOS[name](ctx)
    user = ctx.person(post.role).user
    if post.logged_in:
        verified_login(client, user)  # password and, where required, the second factor
    assert not post.changed(client), "the change is there before the POST"
    return post, user


def send(client, name: str, post: ViewPost, data: dict):
    for value in data.values():  # uploaded files are read again from their start
        for upload in value if isinstance(value, list) else [value]:
            if hasattr(upload, "seek"):
                upload.seek(0)
    return client.post(reverse(name, args=post.args), data, **post.headers)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(VIEW_SCENARIOS))
def test_a_state_changing_view_writes_its_entries(name, ctx, client):
    post, user = prepared_post(name, ctx, client)

    if post.bad_data is not None:  # refused: nothing changes, no success entry
        since = last_entry_id()
        send(client, name, post, post.bad_data)
        assert not post.changed(client)
        new = entries_since(since)
        assert not [e for e in new if e.action in post.actions
                    and e.outcome == Outcome.SUCCESS], shown(new)
        if post.bad_outcome:
            assert [e for e in new if e.action == post.actions[0]
                    and e.outcome == post.bad_outcome], shown(new)

    if name in PAGES:  # someone the page is not for: 403, nothing changes, no entry
        verified_login(client, ctx.person(OUTSIDER).user)
        since = last_entry_id()
        assert send(client, name, post, post.data).status_code == 403
        assert not post.changed(client)
        refused = entries_since(since)
        assert not [e for e in refused if e.action in post.actions
                    and e.outcome != Outcome.DENIED]
        # the refusal itself is on record: one denied entry (issue 5; GB/T 22239 audit)
        assert [e.outcome for e in refused] == [Outcome.DENIED], shown(refused)
        verified_login(client, user)

    since = last_entry_id()
    response = send(client, name, post, post.data)
    assert response.status_code in (200, 302), response.content.decode()[-3000:]
    assert post.changed(client)
    assert_entries(since, post.actions, by_user(user))


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(VIEW_SCENARIOS))
def test_a_views_change_does_not_happen_without_its_entry(name, ctx, client):
    """The entry is written in the transaction of the change: when the entry cannot be
    written, the change is not made either."""
    post, _user = prepared_post(name, ctx, client)
    since = last_entry_id()
    with audit_inserts_fail(), pytest.raises(AuditInsertRefused):
        send(client, name, post, post.data)
    assert not post.changed(client)
    assert last_entry_id() == since


@pytest.mark.django_db
def test_a_refused_issue_is_audited_as_refused_and_issues_nothing(site, client):
    """DEV-3: profile B issues within the unit only; the refusal is recorded (its own
    transaction: the refusal must outlive the rollback of the issue)."""
    ns = site("full-process-b")
    device = f.DeviceFactory(unit=ns.field)
    outsider = f.PersonFactory(unit=ns.field2)
    custodian = ns.people["custodian"].user
    verified_login(client, custodian)
    since = last_entry_id()
    response = client.post(reverse("device_issue", args=[device.pk]),
                           {"holder": outsider.pk, **check_fields()})
    assert response.status_code == 409
    assert not DeviceIssue.objects.filter(device=device).exists()
    assert RefusedIssue.objects.filter(device=device, person=outsider).exists()
    new = assert_entries(since, ["device.issue"], by_user(custodian), outcome=Outcome.REFUSED)
    assert not [e for e in new if e.outcome == Outcome.SUCCESS and e.action == "device.issue"]


@pytest.mark.django_db
def test_a_failed_login_is_audited_as_failure_without_the_password(site, client):
    ns = site()
    username = ns.people["officer"].user.username
    since = last_entry_id()
    client.post(reverse("login"), {"username": username, "password": "wrong-password"})
    [entry] = entries_since(since)
    assert (entry.action, entry.outcome, entry.actor_type) == (
        "auth.login", Outcome.FAILURE, ActorType.ANONYMOUS)
    assert entry.details == {"username": username} and entry.client_addr == "127.0.0.1"


def post_login(client, username: str, password: str):
    return client.post(reverse("login"), {"username": username, "password": password})


@pytest.mark.django_db
def test_the_failure_that_locks_a_user_name_writes_auth_lockout(site, client):
    """GB/T 22239-2019 login failure handling: the fifth failure in a row locks the user
    name (auth.lockout); an attempt while it is locked, even with the right password, is
    denied and says why (witness/web/tests/test_lockout.py has the rules)."""
    username = site().people["officer"].user.username
    for _ in range(4):
        post_login(client, username, "wrong-password")
    since = last_entry_id()
    post_login(client, username, "wrong-password")
    failure, lock = entries_since(since)
    assert [(e.action, e.outcome, e.actor_type) for e in (failure, lock)] == [
        ("auth.login", Outcome.FAILURE, ActorType.ANONYMOUS),
        ("auth.lockout", Outcome.SUCCESS, ActorType.ANONYMOUS)]
    assert lock.details["username"] == username and lock.details["failures"] == 5
    since = last_entry_id()
    post_login(client, username, PASSWORD)
    [denied] = entries_since(since)
    assert (denied.action, denied.outcome) == ("auth.login", Outcome.DENIED)
    assert denied.details == {"username": username, "reason": "locked",
                              "until": lock.details["until"]}
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_lock_does_not_happen_without_its_entry(site, client):
    """The count and the lock are written in the transaction of their entries."""
    username = site().people["officer"].user.username
    for _ in range(4):
        post_login(client, username, "wrong-password")
    since = last_entry_id()
    with audit_inserts_fail(), pytest.raises(AuditInsertRefused):
        post_login(client, username, "wrong-password")
    assert last_entry_id() == since
    assert lockout.locked_until(username) is None
    assert LoginLock.objects.get(username=username).failures == 4


# == 2. CLI commands =========================================================================


@dataclass
class CliRun:
    """One `witness` command line, and what it must change and write."""

    args: tuple
    actions: tuple[str, ...]  # success entries it must write
    changed: Callable[[], bool]
    actor: str = "cli"  # the entries' actor: "cli:<os user>", or a system job's label
    failures: tuple[str, ...] = ()  # failure entries it must write too
    child: bool = False  # run as a child process (a transactional test)
    env: dict[str, str] = field(default_factory=dict)  # extra environment of the child
    exit_code: int = 0
    afterwards: Callable[[int], None] | None = None  # further checks, given the entry id before


def run_cli(run: CliRun) -> int:
    args = [str(a) for a in run.args]
    if run.child:
        env = child_env(**run.env)
        assert env is not None, "the test database must be reachable from a child"
        done = subprocess.run([sys.executable, "-m", "witness", *args], env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == run.exit_code, done.stdout[-3000:] + done.stderr[-3000:]
        return done.returncode
    try:
        call_command(*args, stdout=io.StringIO(), stderr=io.StringIO())
    except SystemExit as exc:
        assert exc.code == run.exit_code
        return exc.code
    assert run.exit_code == 0
    return 0


def person_args(person: Person) -> str:
    return person.badge_number


def cli_activity_add(ctx: Ctx) -> CliRun:
    arrived = timezone.now() - timedelta(hours=5)
    officer, head = ctx.person("officer"), ctx.person("unit_head")
    return CliRun(("activity", "add", "--type", "investigation", "--unit", ctx.ns.field.code,
                   "--place", "鲁山县命令行路1号", "--arrived", local_minute(arrived),
                   "--departed", local_minute(arrived + timedelta(hours=1)),
                   "--officer", person_args(officer), "--officer", person_args(head),
                   "--recorder", person_args(officer)),
                  ("activity.create",),
                  lambda: Activity.objects.filter(place="鲁山县命令行路1号").exists())


def cli_activity_update(ctx: Ctx) -> CliRun:
    arrived = timezone.now() - timedelta(hours=5)
    activity = activities.create_activity(
        ctx.ns.agency, unit=ctx.ns.field, activity_type="investigation", place="旧地点",
        arrived_at=arrived, departed_at=arrived + timedelta(hours=1),
        officers=[ctx.person("officer"), ctx.person("unit_head")],
        recorder=ctx.person("officer"), actor="test")
    return CliRun(("activity", "update", activity.pk, "--place", "新地点"), ("activity.update",),
                  lambda: Activity.objects.filter(pk=activity.pk, place="新地点").exists())


def cli_case_add(ctx: Ctx) -> CliRun:
    return CliRun(("case", "add", "--number", "覆盖-CLI-1", "--name", "某案",
                   "--leader", person_args(ctx.person("leader"))),
                  ("case.create",), lambda: Case.objects.filter(number="覆盖-CLI-1").exists())


def cli_case_close(ctx: Ctx) -> CliRun:
    f.CaseFactory(agency=ctx.ns.agency, leader_in_charge=ctx.person("leader"),
                  number="覆盖-CLI-2")
    return CliRun(("case", "close", "覆盖-CLI-2"), ("case.close",),
                  lambda: Case.objects.filter(number="覆盖-CLI-2",
                                              closed_at__isnull=False).exists())


def cli_audit_checkpoint(ctx: Ctx) -> CliRun:
    ctx.ns  # some entries to sign  # noqa: B018
    before = Checkpoint.objects.count()
    return CliRun(("audit", "checkpoint"), ("audit.checkpoint",),
                  lambda: Checkpoint.objects.count() > before)


def cli_audit_export(ctx: Ctx) -> CliRun:
    """An export signs a checkpoint when none covers the range: that checkpoint is audited,
    under the person who exported."""
    ctx.ns  # entries past every existing checkpoint  # noqa: B018
    Sequencer().drain()
    size = tree_size()
    assert not Checkpoint.objects.filter(tree_size__gte=size).exists()
    return CliRun(("audit", "export", "--from", size - 1, "--out", ctx.tmp / "export.jsonl"),
                  ("audit.checkpoint",),
                  lambda: Checkpoint.objects.filter(tree_size__gte=size).exists())


def cli_custody(ctx: Ctx) -> CliRun:
    rec = f.RecordingFactory(device=f.DeviceFactory(unit=ctx.ns.field))
    out = ctx.tmp / "custody.json"
    return CliRun(("custody", f"recording:{rec.pk}", "--out", out), ("custody.report",),
                  out.exists)


def write_csv(path: Path, rows) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def cli_import_people(ctx: Ctx) -> CliRun:
    path = write_csv(ctx.tmp / "人员.csv", [
        ["姓名", "执法证号", "单位", "角色", "电话", "用户名", "在职"],
        ["王覆盖", "41099001", ctx.ns.field.name, "执法人员", "", "wangfugai", ""]])
    return CliRun(("import", "people", path),
                  ("import.people", "person.create", "role.assign", "user.create"),
                  lambda: Person.objects.filter(badge_number="41099001").exists())


def cli_import_devices(ctx: Ctx) -> CliRun:
    path = write_csv(ctx.tmp / "设备.csv", [
        ["类型", "序列号", "型号", "厂商", "所属单位", "保管人", "状态"],
        ["执法记录仪", "ZF-COV-1", "DSJ-A9", "海康", ctx.ns.field.name, "", ""]])
    return CliRun(("import", "devices", path), ("import.devices", "device.register"),
                  lambda: Device.objects.filter(serial="ZF-COV-1").exists())


def cli_scheduler(ctx: Ctx) -> CliRun:
    assert not DBTaskResult.objects.exists()
    return CliRun(("scheduler",), ("job.enqueue",), DBTaskResult.objects.exists)


DEMO_MODELS = (Agency, Unit, Person, get_user_model(), Device, Case, Activity)


def every_demo_row_has_an_entry(since: int) -> None:
    """Each agency, unit, person, login, device, case and activity the demo made is the
    object of an entry of the demo's."""
    about = {(e.object_type, e.object_id) for e in entries_since(since)}
    for model in DEMO_MODELS:
        label = model._meta.label_lower
        missing = [pk for pk in model.objects.values_list("pk", flat=True)
                   if (label, str(pk)) not in about]
        assert not missing, f"{label} rows without an entry: {missing}"


def cli_demo(ctx: Ctx) -> CliRun:
    assert not Agency.objects.exists()
    return CliRun(("demo", "--no-recordings"),
                  ("agency.create", "unit.create", "user.create", "person.create",
                   "role.assign", "profile.apply", "device.register", "case.create",
                   "activity.create", "device.issue", "device.check", "device.return",
                   "agency.update"),
                  Agency.objects.exists, actor="system:demo",
                  afterwards=every_demo_row_has_an_entry)


def cli_derivatives(ctx: Ctx) -> CliRun:
    rec = ingested_recording(ctx)
    return CliRun(("derivatives", "--recording", rec.pk), ("derivative.make",),
                  lambda: Derivative.objects.filter(recording=rec, status=Status.DONE).exists())


def cli_device_add(ctx: Ctx) -> CliRun:
    return CliRun(("device", "add", "--kind", "body_camera", "--serial", "DSJ-CLI-NEW",
                   "--unit", ctx.ns.field.code), ("device.register",),
                  lambda: Device.objects.filter(serial="DSJ-CLI-NEW").exists())


def cli_device_issue(ctx: Ctx) -> CliRun:
    device = f.DeviceFactory(unit=ctx.ns.field, serial="DSJ-CLI-ISS")
    return CliRun(("device", "issue", device.serial, "--to", person_args(ctx.person("officer")),
                   "--battery", 90, "--free-mb", 4096,
                   "--device-time", local_minute(timezone.now())),
                  ("device.issue", "device.check"),
                  lambda: DeviceIssue.objects.filter(device=device).exists())


def cli_device_return(ctx: Ctx) -> CliRun:
    device = issued_device(ctx)
    return CliRun(("device", "return", device.serial), ("device.return",),
                  lambda: DeviceIssue.objects.filter(device=device,
                                                     returned_at__isnull=False).exists())


def cli_device_check(ctx: Ctx) -> CliRun:
    device = issued_device(ctx)
    return CliRun(("device", "check", device.serial, "--by", person_args(ctx.person("officer")),
                   "--battery", 80, "--free-mb", 2048,
                   "--device-time", local_minute(timezone.now())),
                  ("device.check",), lambda: PreUseCheck.objects.filter(device=device).exists())


def cli_device_event(ctx: Ctx) -> CliRun:
    device = f.DeviceFactory(unit=ctx.ns.field, serial="DSJ-CLI-EVT")
    return CliRun(("device", "event", device.serial, "--kind", "repair", "--description",
                   "送厂维修"), ("device.event",),
                  lambda: DeviceEvent.objects.filter(device=device).exists())


def cli_ingest(ctx: Ctx) -> CliRun:
    device = f.DeviceFactory(unit=ctx.ns.field, serial="DSJ-CLI-ING")
    return CliRun(("ingest", wav_folder(ctx), "--device", device.serial),
                  ("ingest.start", "blob.store", "recording.ingest", "ingest.finish"),
                  lambda: Recording.objects.filter(device=device).exists())


def cli_naming_add(ctx: Ctx) -> CliRun:
    ctx.ns  # noqa: B018
    return CliRun(("naming", "add", "cov-recorder", r"REC(?P<start>[0-9]{14})N(?P<seq>[0-9]{1,6})",
                   "--example", "REC20261120093005N12.WAV"), ("naming.pattern_add",),
                  CustomNamePattern.objects.filter(name="cov-recorder").exists)


def cli_naming_assign(ctx: Ctx) -> CliRun:
    ctx.ns  # noqa: B018
    return CliRun(("naming", "assign", "DSJ-COV", "date-time-seq", "serial-badge-time-seq"),
                  ("naming.assign",), ModelNaming.objects.filter(model="DSJ-COV").exists)


def cli_person_add(ctx: Ctx) -> CliRun:
    return CliRun(("person", "add", "--name", "李覆盖", "--unit", ctx.ns.field.code,
                   "--badge", "41098001", "--role", "officer"),
                  ("person.create", "role.assign"),
                  lambda: Person.objects.filter(badge_number="41098001").exists())


def cli_person_move(ctx: Ctx) -> CliRun:
    officer = ctx.person("officer")
    return CliRun(("person", "move", person_args(officer), "--unit", ctx.ns.field2.code,
                   "--effective-from", local_minute(timezone.now())), ("person.move",),
                  lambda: PersonUnitHistory.objects.filter(person=officer,
                                                           unit=ctx.ns.field2).exists())


def cli_person_role_add(ctx: Ctx) -> CliRun:
    officer = ctx.person("officer")
    return CliRun(("person", "role-add", person_args(officer), "custodian"), ("role.assign",),
                  lambda: officer.roles.filter(role="custodian").exists())


def cli_person_role_end(ctx: Ctx) -> CliRun:
    officer = ctx.person("officer")
    return CliRun(("person", "role-end", person_args(officer), "officer"), ("role.end",),
                  lambda: officer.roles.filter(role="officer",
                                               effective_to__isnull=False).exists())


def cli_profile_apply(ctx: Ctx) -> CliRun:
    agency = ctx.ns.agency
    return CliRun(("profile", "apply", "full-process-b"), ("profile.apply", "profile.version"),
                  ProfileActivation.objects.filter(agency=agency,
                                                   version__name="full-process-b").exists)


def cli_station(ctx: Ctx) -> CliRun:
    """The station as it runs: a `witness station` process that forks a child per
    volume; the ingest's entries name the station."""
    need_ffmpeg()
    start = (timezone.localtime() - timedelta(days=1)).replace(hour=10, minute=0, second=0,
                                                               microsecond=0)
    device = f.DeviceFactory(unit=ctx.ns.field, serial="DSJ-COV-ST")
    devices.issue_device(device, ctx.person("officer"), at=start - timedelta(hours=1),
                         no_check_reason="test", actor="test")
    watch = ctx.tmp / "media"
    watch.mkdir()
    cam = docked_camera(watch / "A", device.serial, "B7", start.replace(tzinfo=None), count=1)
    return CliRun(("station", "--watch", watch, "--once", "--settle", 0, "--interval", 0.2),
                  ("ingest.start", "blob.store", "recording.ingest", "ingest.finish"),
                  StationVolume.objects.filter(path=str(cam.root),
                                               state=VolumeState.DONE).exists,
                  actor="system:station", child=True,
                  env={"WITNESS_STORAGE": ctx.settings.WITNESS_STORAGE})


def cli_fixity(ctx: Ctx) -> CliRun:
    blob = stored_blob(ctx)
    return CliRun(("fixity", "--all"), ("fixity.record", "fixity.run"),
                  FixityCheck.objects.filter(blob=blob).exists)


def cli_fixity_replicate_missing(ctx: Ctx) -> CliRun:
    ctx.replica_store()
    blob = stored_blob(ctx)
    return CliRun(("fixity", "--replicate-missing"), ("blob.replicate",),
                  Replica.objects.filter(blob=blob).exists)


def cli_fixity_repair(ctx: Ctx) -> CliRun:
    ctx.replica_store()
    blob = stored_blob(ctx)
    replica.replicate(blob.pk, actor="test")
    good = b"".join(get_backend().read(blob.key))
    flip(get_backend(), blob.key)

    def repaired() -> bool:
        data = b"".join(get_backend().read(blob.key))
        return hashlib.sha256(data).hexdigest() == blob.sha256 == hashlib.sha256(
            good).hexdigest()

    return CliRun(("fixity", "--all", "--repair"),
                  ("blob.repair", "finding.raise", "fixity.record"), repaired,
                  failures=("blob.fixity", "fixity.run"))


# -- confidentiality labels and the state-secret hand-off (issue 5 item 4, EVD-4) --


def cli_label_request(ctx: Ctx) -> CliRun:
    from witness.confidentiality.models import LabelChange

    rec = labelled_recording(ctx)
    user = ctx.person("officer").user.username
    return CliRun(("label", "request", "--as", user, "--recording", rec.pk, "--label",
                   "internal", "--reason", "内部"), ("label.request",),
                  lambda: LabelChange.objects.filter(recording=rec).exists(), actor=user)


def cli_label_decide(ctx: Ctx) -> CliRun:
    change = pending_label_change(ctx)
    user = ctx.person("leader").user.username
    return CliRun(("label", "decide", "--as", user, change.pk, "--approve"),
                  ("label.approve", "label.set"),
                  lambda: Recording.objects.filter(pk=change.recording_id,
                                                   label="privacy").exists(), actor=user)


def cli_secret_export_recorded(ctx: Ctx) -> CliRun:
    from witness.confidentiality.models import SecretHandoff

    handoff = secret_handoff(ctx, "marked")
    user = ctx.person("custodian").user.username
    return CliRun(("secret", "export-recorded", "--as", user, handoff.pk, "--medium", "DVD-R",
                   "--medium-id", "MM-CLI", "--held-at", "保密室", "--held-by", "张保密",
                   "--exported-at", local_minute(timezone.now())), ("secret.export",),
                  lambda: SecretHandoff.objects.filter(pk=handoff.pk,
                                                       state="exported").exists(), actor=user)


def cli_secret_approve_removal(ctx: Ctx) -> CliRun:
    from witness.confidentiality.models import SecretHandoff

    handoff = secret_handoff(ctx, "exported")
    user = ctx.person("leader").user.username
    return CliRun(("secret", "approve-removal", "--as", user, handoff.pk, "--reason", "同意"),
                  ("secret.approve_removal",),
                  lambda: SecretHandoff.objects.filter(
                      pk=handoff.pk, state="removal_approved").exists(), actor=user)


def cli_secret_remove(ctx: Ctx) -> CliRun:
    from witness.confidentiality.models import SecretHandoff

    handoff = secret_handoff(ctx, "removal_approved")
    user = ctx.person("custodian").user.username
    return CliRun(("secret", "remove", "--as", user, handoff.pk),
                  ("secret.remove_start", "secret.remove"),
                  lambda: SecretHandoff.objects.filter(pk=handoff.pk, state="removed").exists()
                  and not get_backend().exists(handoff.recording.blob.key), actor=user)


CLI_SCENARIOS: dict[str, Callable[[Ctx], CliRun]] = {
    "activity add": cli_activity_add,
    "activity update": cli_activity_update,
    "case add": cli_case_add,
    "case close": cli_case_close,
    "audit checkpoint": cli_audit_checkpoint,
    "audit export": cli_audit_export,
    "custody": cli_custody,
    "import people": cli_import_people,
    "import devices": cli_import_devices,
    "scheduler": cli_scheduler,
    "demo": cli_demo,
    "derivatives": cli_derivatives,
    "device add": cli_device_add,
    "device issue": cli_device_issue,
    "device return": cli_device_return,
    "device check": cli_device_check,
    "device event": cli_device_event,
    "ingest": cli_ingest,
    "naming add": cli_naming_add,
    "naming assign": cli_naming_assign,
    "person add": cli_person_add,
    "person move": cli_person_move,
    "person role-add": cli_person_role_add,
    "person role-end": cli_person_role_end,
    "profile apply": cli_profile_apply,
    "station": cli_station,
    "fixity": cli_fixity,
    "fixity[--replicate-missing]": cli_fixity_replicate_missing,
    "fixity[--repair]": cli_fixity_repair,
    "label request": cli_label_request,
    "label decide": cli_label_decide,
    "secret export-recorded": cli_secret_export_recorded,
    "secret approve-removal": cli_secret_approve_removal,
    "secret remove": cli_secret_remove,
}

# Subcommands that only read (what they print is all they do).
CLI_READ_ONLY = {
    "activity list", "activity show", "activity types",
    "case list", "case show",
    "audit verify", "audit prove", "audit consistency", "audit check-proof",
    "audit public-key",  # making the key on first use: test_making_the_signing_key_is_audited
    "device list", "device show", "device ratio",
    "naming list", "naming test",
    "person list", "person show",
    "profile list", "profile show",
    "label list", "secret status",
    "verify-package",  # reads a package folder; nothing in the database
}

# Subcommands that change state yet write no entry of their own, and why.
CLI_NO_ENTRY = {
    "audit sequence": "the audit log's own machinery: it gives committed entries their "
                      "Merkle leaves, which are the record (checked by `audit verify`); an "
                      "entry per pass would itself need a leaf, and never reach a fixed "
                      "point. Its periodic checkpoints (--follow) are audited. See "
                      "test_audit_sequence_gives_every_entry_its_leaf_and_writes_none.",
    "profile new": "writes a draft profile file for editing in WITNESS_HOME/profiles; nothing "
                   "takes effect until `profile apply`, which is audited with the content's "
                   "SHA-256 (profile.version), as is every later edit that is applied",
    "serve": "a launcher: runs gunicorn, db_worker, `audit sequence --follow` and "
             "`scheduler --follow`, whose changes are covered by their own scenarios",
}


def test_every_api_write_has_its_scenario_in_the_api_audit_test():
    """The API's writes (issue 5 item 7) are covered operation by operation in
    witness/api/tests/test_api_audit.py, which calls them with a token and checks their
    entries name the calling account; every API route that takes a POST is one of them."""
    from witness.api import policy_map
    from witness.api.tests.test_api_audit import SCENARIOS as API_SCENARIOS

    posting = {name for name, view in url_patterns() if is_api_view(view)
               and handles_post(view)}
    assert posting, "no API route takes a POST: is the API mounted?"
    writes = {op for op in policy_map() if op[1] != "GET"}
    assert writes == set(API_SCENARIOS)


def witness_subcommands() -> set[str]:
    """Every subcommand of every management command of a witness app ("device issue"), or
    the command itself where it has none ("ingest")."""
    found = set()
    for name, app in get_commands().items():
        if not app.startswith("witness"):
            continue
        subcommands = getattr(load_command_class(app, name), "subcommands", None) or {}
        found |= {f"{name} {sub}" for sub in subcommands} if subcommands else {name}
    return found


def test_every_witness_subcommand_is_classified():
    with_scenario = {key.split("[")[0] for key in CLI_SCENARIOS}
    tables = [with_scenario, CLI_READ_ONLY, set(CLI_NO_ENTRY)]
    for i, a in enumerate(tables):
        for b in tables[i + 1:]:
            assert a.isdisjoint(b), a & b
    classified = with_scenario | CLI_READ_ONLY | set(CLI_NO_ENTRY)
    found = witness_subcommands()
    assert found == classified, (f"not classified: {sorted(found - classified)}; "
                                 f"no such subcommand: {sorted(classified - found)}")


def check_cli(key: str, ctx: Ctx) -> None:
    run = CLI_SCENARIOS[key](ctx)
    assert not run.changed(), "the change is there before the command"
    since = last_entry_id()
    run_cli(run)
    assert run.changed()
    assert_entries(since, run.actions, by_label(run.actor))
    assert_entries(since, run.failures, by_label(run.actor), outcome=Outcome.FAILURE)
    if run.afterwards is not None:
        run.afterwards(since)


IN_A_CHILD = {"station"}  # run as `witness …` in a child process: transactional tests


@pytest.mark.django_db
@pytest.mark.parametrize("key", sorted(set(CLI_SCENARIOS) - IN_A_CHILD))
def test_a_state_changing_subcommand_writes_its_entries(key, ctx):
    check_cli(key, ctx)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("key", sorted(IN_A_CHILD))
def test_a_state_changing_command_in_its_own_process_writes_its_entries(key, ctx):
    check_cli(key, ctx)


@pytest.mark.django_db
def test_audit_sequence_gives_every_entry_its_leaf_and_writes_none(ctx):
    ctx.ns  # noqa: B018
    pending = AuditEntry.objects.filter(leaf__isnull=True)
    assert pending.exists()
    since = last_entry_id()
    call_command("audit", "sequence", stdout=io.StringIO())
    assert not pending.exists()
    assert last_entry_id() == since
    assert AuditLeaf.objects.filter(entry_id=since).exists()


@pytest.mark.django_db
def test_making_the_signing_key_is_audited(ctx):
    ctx.settings.WITNESS_AUDIT_KEY = str(ctx.tmp / "new-signing.key")
    since = last_entry_id()
    call_command("audit", "public-key", stdout=io.StringIO())
    assert (ctx.tmp / "new-signing.key").exists()
    assert_entries(since, ["audit.key"], by_label("system"))  # made on first use


# == 3. background tasks =====================================================================


@dataclass
class TaskRun:
    args: tuple
    actions: tuple[str, ...]
    changed: Callable[[], bool]
    actor: str  # the job's label in the log


def task_make_derivatives(ctx: Ctx) -> TaskRun:
    rec = ingested_recording(ctx)
    return TaskRun((rec.pk,), ("derivative.make",),
                   lambda: Derivative.objects.filter(recording=rec, status=Status.DONE).exists(),
                   "system:derivatives")


def task_replicate_blob(ctx: Ctx) -> TaskRun:
    ctx.replica_store()
    blob = stored_blob(ctx)
    return TaskRun((blob.pk,), ("blob.replicate",), Replica.objects.filter(blob=blob).exists,
                   "system:replicate")


def task_fixity_batch(ctx: Ctx) -> TaskRun:
    blob = stored_blob(ctx)
    return TaskRun((), ("fixity.record", "fixity.run"),
                   FixityCheck.objects.filter(blob=blob).exists, "system:fixity")


TASK_SCENARIOS: dict[str, Callable[[Ctx], TaskRun]] = {
    "witness.derivatives.tasks.make_derivatives": task_make_derivatives,
    "witness.storage.tasks.replicate_blob": task_replicate_blob,
    "witness.storage.tasks.fixity_batch": task_fixity_batch,
}


def witness_tasks() -> dict[str, Task]:
    """Every django-tasks task defined in a tasks.py under witness/, by dotted path."""
    root = Path(witness.__file__).parent
    found = {}
    for path in sorted(root.rglob("tasks.py")):
        module = import_module(".".join(("witness", *path.relative_to(root).with_suffix("").parts)))
        for value in vars(module).values():
            if isinstance(value, Task) and value.func.__module__ == module.__name__:
                found[value.module_path] = value
    return found


def test_every_task_has_a_scenario():
    found = witness_tasks()
    assert found, "no tasks found: the discovery is broken"
    assert set(found) == set(TASK_SCENARIOS), (
        f"without a scenario: {sorted(set(found) - set(TASK_SCENARIOS))}; "
        f"no such task: {sorted(set(TASK_SCENARIOS) - set(found))}")


@pytest.mark.django_db
@pytest.mark.parametrize("path", sorted(TASK_SCENARIOS))
def test_a_task_writes_its_entries(path, ctx):
    run = TASK_SCENARIOS[path](ctx)
    assert not run.changed()
    since = last_entry_id()
    witness_tasks()[path].call(*run.args)
    assert run.changed()
    assert_entries(since, run.actions, by_label(run.actor))


# == viewing requests, approvals, inbox, register (issue 5 item 3; EVD-2, EVD-3) ============
# Appended to the tables above; the meta-tests read them when they run, and the tests below
# run the same checks for these scenarios.


def _viewing_request(ctx: Ctx, *, at_step: int = 0):
    """A request by the officer for one recording of theirs, its first ``at_step`` steps
    approved (review, approval; then registration)."""
    from witness.access import chain
    from witness.access.models import StepState
    from witness.recordings.models import Attribution

    officer = ctx.person("officer")
    rec = f.RecordingFactory(device=f.DeviceFactory(unit=ctx.ns.field), holder=officer,
                             activity=None, attribution=Attribution.NO_ACTIVITY)
    now = timezone.now()
    req = chain.submit(officer, recordings=[rec], reason="覆盖测试查阅", wanted_from=now,
                       wanted_until=now + timedelta(days=2), actor="test")
    for _i in range(at_step):
        step = req.steps.get(state=StepState.OPEN)
        chain.decide(step, chain.deciders(step).first(), True, "", actor="test")
    return req, rec


def _request_form(rec, **extra) -> dict:
    now = timezone.now()
    return {"recording": rec.pk, "reason": "覆盖查阅", "wanted_from": local_minute(now),
            "wanted_until": local_minute(now + timedelta(days=2)), **extra}


def request_new_view(ctx: Ctx) -> ViewPost:
    from witness.access.models import AccessRequest
    from witness.recordings.models import Attribution

    rec = f.RecordingFactory(device=f.DeviceFactory(unit=ctx.ns.field),
                             holder=ctx.person("officer"), activity=None,
                             attribution=Attribution.NO_ACTIVITY)
    return ViewPost("officer", _request_form(rec), ("request.submit", "request.step_open"),
                    lambda c: AccessRequest.objects.filter(reason="覆盖查阅").exists(),
                    bad_data=_request_form(rec, reason=""))


def disclosure_new_view(ctx: Ctx) -> ViewPost:
    from witness.access.models import AccessRequest
    from witness.recordings.models import Attribution

    rec = f.RecordingFactory(device=f.DeviceFactory(unit=ctx.ns.field),
                             holder=ctx.person("officer"), activity=None,
                             attribution=Attribution.NO_ACTIVITY)
    recipient = {"recipient_kind": "court", "recipient_name": "鲁山县人民法院",
                 "recipient_org": "", "delivery": "package"}
    return ViewPost("officer", _request_form(rec, **recipient), ("request.submit",),
                    lambda c: AccessRequest.objects.filter(kind="disclosure").exists(),
                    bad_data=_request_form(rec, **{**recipient, "recipient_name": ""}))


def request_withdraw_view(ctx: Ctx) -> ViewPost:
    req, _rec = _viewing_request(ctx)
    return ViewPost("officer", {}, ("request.withdraw",),
                    lambda c: type(req).objects.filter(pk=req.pk, status="withdrawn").exists(),
                    args=(req.pk,), bad_data=None)


def step_decide_view(ctx: Ctx) -> ViewPost:
    req, _rec = _viewing_request(ctx)
    step = req.steps.get(state="open")
    return ViewPost("unit_head", {"decision": "approve", "note": "同意"},
                    ("request.decide", "request.step_open"),
                    lambda c: type(step).objects.filter(pk=step.pk, state="approved").exists(),
                    args=(step.pk,), headers={"HTTP_HX_REQUEST": "true"},
                    bad_data={"decision": "reject", "note": ""})  # a rejection needs a reason


def step_register_view(ctx: Ctx) -> ViewPost:
    from witness.access.models import Grant

    req, _rec = _viewing_request(ctx, at_step=2)
    step = req.steps.get(state="open")
    return ViewPost("custodian", {"decision": "approve", "note": ""},
                    ("request.register", "grant.create"),
                    lambda c: Grant.objects.filter(request=req).exists(), args=(step.pk,),
                    bad_data={"decision": "reject", "note": ""})


def _granted(ctx: Ctx):
    req, rec = _viewing_request(ctx, at_step=3)
    return req, req.grants.get(recording=rec)


def grant_revoke_view(ctx: Ctx) -> ViewPost:
    _req, grant = _granted(ctx)
    return ViewPost("unit_head", {"reason": "覆盖撤销"}, ("grant.revoke",),
                    lambda c: type(grant).objects.filter(pk=grant.pk,
                                                         revoked_at__isnull=False).exists(),
                    args=(grant.pk,), bad_data={"reason": ""})


def request_revoke_view(ctx: Ctx) -> ViewPost:
    req, grant = _granted(ctx)
    return ViewPost("unit_head", {"reason": "覆盖撤销"}, ("grant.revoke",),
                    lambda c: type(grant).objects.filter(pk=grant.pk,
                                                         revoked_at__isnull=False).exists(),
                    args=(req.pk,), bad_data={"reason": ""})


REQUEST_VIEW_SCENARIOS: dict[str, Callable[[Ctx], ViewPost]] = {
    "request_new": request_new_view,
    "disclosure_new": disclosure_new_view,
    "request_withdraw": request_withdraw_view,
    "step_decide": step_decide_view,
    "step_register": step_register_view,
    "grant_revoke": grant_revoke_view,
    "request_revoke": request_revoke_view,
}
VIEW_SCENARIOS.update(REQUEST_VIEW_SCENARIOS)
POST_WITHOUT_STATE["notification_read"] = (
    "marks the person's own inbox entries as read: a display state of their inbox; the "
    "entries announce changes that were audited when they were made")


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(REQUEST_VIEW_SCENARIOS))
def test_a_request_view_writes_its_entries(name, ctx, client):
    test_a_state_changing_view_writes_its_entries(name, ctx, client)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(REQUEST_VIEW_SCENARIOS))
def test_a_request_views_change_does_not_happen_without_its_entry(name, ctx, client):
    test_a_views_change_does_not_happen_without_its_entry(name, ctx, client)


def cli_requests_register(ctx: Ctx) -> CliRun:
    _viewing_request(ctx, at_step=3)
    out = ctx.tmp / "register.csv"
    return CliRun(("requests", "register", "--csv", out), ("register.export",), out.exists)


CLI_SCENARIOS["requests register"] = cli_requests_register
CLI_READ_ONLY.add("requests list")


def cli_api_token_create(ctx: Ctx) -> CliRun:
    from witness.api.models import ApiToken

    user = ctx.person("officer").user
    return CliRun(("api-token", "create", user.username), ("api.token.create",),
                  lambda: ApiToken.objects.filter(user=user).exists())


def cli_api_token_revoke(ctx: Ctx) -> CliRun:
    from witness.api import services as api_services
    from witness.api.models import ApiToken

    row, _token = api_services.create_token(ctx.person("officer").user, actor="test")
    return CliRun(("api-token", "revoke", row.pk), ("api.token.revoke",),
                  lambda: ApiToken.objects.filter(pk=row.pk, revoked_at__isnull=False).exists())


CLI_SCENARIOS["api-token create"] = cli_api_token_create
CLI_SCENARIOS["api-token revoke"] = cli_api_token_revoke
CLI_READ_ONLY.add("api-token list")


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["api-token create", "api-token revoke"])
def test_an_api_token_subcommand_writes_its_entries(key, ctx):
    check_cli(key, ctx)


@pytest.mark.django_db
def test_requests_register_writes_its_entry(ctx):
    check_cli("requests register", ctx)


# -- accounts, second factor, administrator consoles (issue 5 items 1, 6) --


def _code_of(device, *, wrong: bool = False) -> str:
    from witness.accounts.testing import current_code

    code = current_code(device)
    return f"{(int(code) + 500000) % 1000000:06d}" if wrong else code


def otp_verify_view(ctx: Ctx) -> ViewPost:
    """After the password (not verified yet): a right code verifies the session."""
    from witness.accounts.testing import confirmed_device

    device = confirmed_device(ctx.person("leader").user)
    return ViewPost("leader", {"code": _code_of(device)}, ("auth.otp",),
                    lambda c: c.session.get("otp_device_id") == device.persistent_id,
                    bad_data={"code": _code_of(device, wrong=True)},
                    bad_outcome=Outcome.FAILURE)


def otp_enrol_view(ctx: Ctx) -> ViewPost:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from witness.accounts import otp

    user = ctx.person("custodian").user
    device = otp.pending_device(user)
    return ViewPost("custodian", {"code": _code_of(device)}, ("auth.otp.enrol",),
                    lambda c: TOTPDevice.objects.filter(pk=device.pk, confirmed=True).exists(),
                    bad_data={"code": _code_of(device, wrong=True)},
                    bad_outcome=Outcome.FAILURE)


ACCOUNTS_NEW_PASSWORD = "Neue-Kennung-2026"


def password_change_view(ctx: Ctx) -> ViewPost:
    user = ctx.person("officer").user
    return ViewPost("officer", {"old_password": PASSWORD,
                                "new_password1": ACCOUNTS_NEW_PASSWORD,
                                "new_password2": ACCOUNTS_NEW_PASSWORD},
                    ("auth.password.change",),
                    lambda c: get_user_model().objects.get(pk=user.pk).check_password(
                        ACCOUNTS_NEW_PASSWORD),
                    bad_data={"old_password": PASSWORD, "new_password1": "weakpassword",
                              "new_password2": "weakpassword"})


def role_assign_view(ctx: Ctx) -> ViewPost:
    officer = ctx.person("officer")
    return ViewPost("secadmin", {"person": officer.pk, "role": "custodian", "unit": "",
                                 "effective_from": ""}, ("role.assign",),
                    lambda c: officer.roles.filter(role="custodian").exists(),
                    bad_data={"person": officer.pk, "role": "king"})


def role_end_view(ctx: Ctx) -> ViewPost:
    assignment = ctx.person("officer").roles.get()
    before = timezone.localtime(assignment.effective_from - timedelta(days=1))
    return ViewPost("secadmin", {"at": ""}, ("role.end",),
                    lambda c: type(assignment).objects.filter(
                        pk=assignment.pk, effective_to__isnull=False).exists(),
                    args=(assignment.pk,), bad_data={"at": before.strftime("%Y-%m-%dT%H:%M")})


def user_settings_view(ctx: Ctx) -> ViewPost:
    user = ctx.person("officer").user
    return ViewPost("sysadmin", {"action": "deactivate"}, ("user.deactivate",),
                    lambda c: not get_user_model().objects.get(pk=user.pk).is_active,
                    args=(user.pk,), bad_data={"action": "explode"})


ACCOUNTS_VIEW_SCENARIOS: dict[str, Callable[[Ctx], ViewPost]] = {
    "otp_verify": otp_verify_view,
    "otp_enrol": otp_enrol_view,
    "password_change": password_change_view,
    "role_assign": role_assign_view,
    "role_end": role_end_view,
    "user_settings": user_settings_view,
}
VIEW_SCENARIOS.update(ACCOUNTS_VIEW_SCENARIOS)
# The second factor's own pages are posted after the password alone.
PASSWORD_STEP_ONLY = {"otp_verify", "otp_enrol"}
# Who else must be refused (403, nothing changed, no entry): 三员分立 between the consoles.
ACCOUNTS_OUTSIDERS = {"role_assign": "sysadmin", "role_end": "sysadmin",
                      "user_settings": "secadmin"}


def prepared_accounts_post(name: str, ctx: Ctx, client):
    post = VIEW_SCENARIOS[name](ctx)
    user = ctx.person(post.role).user
    if name in PASSWORD_STEP_ONLY:
        client.force_login(user)
    else:
        verified_login(client, user)
    assert not post.changed(client), "the change is there before the POST"
    return post, user


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(ACCOUNTS_VIEW_SCENARIOS))
def test_an_accounts_view_writes_its_entries(name, ctx, client):
    post, user = prepared_accounts_post(name, ctx, client)
    since = last_entry_id()
    send(client, name, post, post.bad_data)
    assert not post.changed(client)
    new = entries_since(since)
    assert not [e for e in new if e.action in post.actions and e.outcome == Outcome.SUCCESS]
    if post.bad_outcome:
        assert [e for e in new if e.action == "auth.otp" and e.outcome == post.bad_outcome], \
            shown(new)
    if name in ACCOUNTS_OUTSIDERS:
        verified_login(client, ctx.person(ACCOUNTS_OUTSIDERS[name]).user)
        since = last_entry_id()
        assert send(client, name, post, post.data).status_code == 403
        assert not post.changed(client)
        assert not [e for e in entries_since(since) if e.action in post.actions
                    and e.outcome == Outcome.SUCCESS]  # the gate's own entry is "denied"
        verified_login(client, user)
    since = last_entry_id()
    response = send(client, name, post, post.data)
    assert response.status_code in (200, 302), response.content.decode()[-3000:]
    assert post.changed(client)
    assert_entries(since, post.actions, by_user(user))


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(ACCOUNTS_VIEW_SCENARIOS))
def test_an_accounts_views_change_does_not_happen_without_its_entry(name, ctx, client):
    post, _user = prepared_accounts_post(name, ctx, client)
    since = last_entry_id()
    with audit_inserts_fail(), pytest.raises(AuditInsertRefused):
        send(client, name, post, post.data)
    assert not post.changed(client)
    assert last_entry_id() == since


def cli_otp_reset(ctx: Ctx) -> CliRun:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from witness.accounts.testing import confirmed_device

    user = ctx.person("leader").user
    confirmed_device(user)
    return CliRun(("otp", "reset", user.username), ("auth.otp.reset",),
                  lambda: not TOTPDevice.objects.filter(user=user).exists())


CLI_SCENARIOS["otp reset"] = cli_otp_reset
CLI_READ_ONLY.add("otp status")


@pytest.mark.django_db
def test_otp_reset_writes_its_entry(ctx):
    check_cli("otp reset", ctx)


# -- the policy table and the walk of every page (issue 5 item 1) --

CLI_READ_ONLY.add("policy")  # `witness policy`: prints the policy table and the page map


# -- streaming, player, downloads, disclosure links (issue 5 items 2, 5) --


def _granted_link_request(ctx: Ctx):
    """A disclosure request delivered as a link, granted (its grant names no person), as
    the approval chain leaves it."""
    from witness.access.models import AccessRequest, Grant, RequestItem

    rec = f.RecordingFactory(device=f.DeviceFactory(unit=ctx.ns.field))
    now = timezone.now()
    req = AccessRequest.objects.create(
        agency=ctx.ns.agency, kind="disclosure", requester=ctx.person("officer"),
        reason="覆盖测试对外提供", wanted_from=now - timedelta(minutes=5),
        wanted_until=now + timedelta(days=2), status="granted", recipient_kind="party",
        recipient_name="张三", delivery="link")
    RequestItem.objects.create(request=req, recording=rec)
    Grant.objects.create(request=req, person=None, recording=rec,
                         valid_from=now - timedelta(minutes=5),
                         valid_until=now + timedelta(days=2))
    return req


def disclosure_link_issue_view(ctx: Ctx) -> ViewPost:
    from witness.access.models import DisclosureLink

    req = _granted_link_request(ctx)
    until = local_minute(timezone.now() + timedelta(hours=5))
    return ViewPost("custodian", {"recipient_name": "张三", "valid_until": until},
                    ("disclosure.link_issue",),
                    lambda c: DisclosureLink.objects.filter(request=req).exists(),
                    args=(req.pk,), bad_data={"recipient_name": "", "valid_until": until})


def disclosure_link_revoke_view(ctx: Ctx) -> ViewPost:
    from witness.access import disclosure

    req = _granted_link_request(ctx)
    link, _token = disclosure.issue_link(req, ctx.person("custodian"), "张三",
                                         timezone.now() + timedelta(hours=5), actor="test")
    return ViewPost("custodian", {}, ("disclosure.link_revoke",),
                    lambda c: type(link).objects.filter(pk=link.pk,
                                                        revoked_at__isnull=False).exists(),
                    args=(link.pk,), bad_data=None)


STREAM_VIEW_SCENARIOS: dict[str, Callable[[Ctx], ViewPost]] = {
    "disclosure_link_issue": disclosure_link_issue_view,
    "disclosure_link_revoke": disclosure_link_revoke_view,
}
VIEW_SCENARIOS.update(STREAM_VIEW_SCENARIOS)
# The player, the stream and downloads answer GET/HEAD only; each play start and download
# writes its entry there (witness/web/tests/test_player.py, test_disclosure_link.py).


def _granted_recording(ctx: Ctx):
    """A recording the unit head may play (a grant in force), as the chain leaves it."""
    from witness.access.models import AccessRequest, Grant, RequestItem

    rec = f.RecordingFactory(device=f.DeviceFactory(unit=ctx.ns.field), duration=60)
    now, head = timezone.now(), ctx.person("unit_head")
    req = AccessRequest.objects.create(
        agency=ctx.ns.agency, kind="viewing", requester=head, reason="覆盖测试标记",
        wanted_from=now - timedelta(minutes=5), wanted_until=now + timedelta(hours=2),
        status="granted")
    RequestItem.objects.create(request=req, recording=rec)
    Grant.objects.create(request=req, person=head, recording=rec,
                         valid_from=now - timedelta(minutes=5),
                         valid_until=now + timedelta(hours=2))
    return rec


def marker_add_view(ctx: Ctx) -> ViewPost:
    from witness.recordings.models import Marker

    rec = _granted_recording(ctx)
    return ViewPost("unit_head", {"position": "12.5", "note": "覆盖测试"},
                    ("recording.marker_add",),
                    lambda c: Marker.objects.filter(recording=rec, note="覆盖测试").exists(),
                    args=(rec.pk,), bad_data={"position": "-1", "note": ""})


def marker_delete_view(ctx: Ctx) -> ViewPost:
    from witness.recordings.models import Marker

    rec = _granted_recording(ctx)
    marker = Marker.objects.create(recording=rec, person=ctx.person("unit_head"), position=3)
    return ViewPost("unit_head", {}, ("recording.marker_delete",),
                    lambda c: not Marker.objects.filter(pk=marker.pk).exists(),
                    args=(marker.pk,), bad_data=None)


MARKER_VIEW_SCENARIOS: dict[str, Callable[[Ctx], ViewPost]] = {
    "marker_add": marker_add_view,  # the player's markers (issue 8 item 3)
    "marker_delete": marker_delete_view,
}
VIEW_SCENARIOS.update(MARKER_VIEW_SCENARIOS)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(MARKER_VIEW_SCENARIOS))
def test_a_marker_view_writes_its_entries(name, ctx, client):
    test_a_state_changing_view_writes_its_entries(name, ctx, client)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(MARKER_VIEW_SCENARIOS))
def test_a_marker_change_does_not_happen_without_its_entry(name, ctx, client):
    test_a_views_change_does_not_happen_without_its_entry(name, ctx, client)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(STREAM_VIEW_SCENARIOS))
def test_a_disclosure_link_view_writes_its_entries(name, ctx, client):
    test_a_state_changing_view_writes_its_entries(name, ctx, client)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(STREAM_VIEW_SCENARIOS))
def test_a_disclosure_link_change_does_not_happen_without_its_entry(name, ctx, client):
    test_a_views_change_does_not_happen_without_its_entry(name, ctx, client)


# -- compliance dashboard (issue 6 item 4) --


def cli_dashboard_csv(ctx: Ctx) -> CliRun:
    assert ctx.ns.agency  # the agency whose figures are written
    out = ctx.tmp / "dashboard.csv"
    return CliRun(("dashboard", "--csv", out), ("compliance.dashboard.export",), out.exists)


CLI_SCENARIOS["dashboard"] = cli_dashboard_csv


@pytest.mark.django_db
def test_dashboard_csv_writes_its_entry(ctx):
    check_cli("dashboard", ctx)


# -- compliance checks (issue 6 item 1; `witness check`, the nightly and the queued check) --


def _short_unit_finding():
    from witness.findings.models import Finding

    # the agency's field units have no devices: DEV-2 (A3, B5) finds them
    return Finding.objects.filter(rule_id="DEV-2.too_few_devices").exists


def cli_check(ctx: Ctx) -> CliRun:
    assert ctx.ns.agency
    return CliRun(("check",), ("compliance.check.start", "finding.raise",
                               "compliance.check.finish"), _short_unit_finding())


def _unchecked_use(ctx: Ctx) -> Activity:
    """An activity recorded with a device issued without a pre-use check (DEV-4)."""
    device = issued_device(ctx, serial="DSJ-COV-CHK")
    activity = f.ActivityFactory(unit=ctx.ns.field)
    f.RecordingFactory(device=device, issue=device.issues.get(), activity=activity,
                       holder=ctx.person("officer"), attribution="attributed")
    return activity


def task_full_check(ctx: Ctx) -> TaskRun:
    assert ctx.ns.agency
    return TaskRun((), ("compliance.check.start", "finding.raise", "compliance.check.finish"),
                   _short_unit_finding(), "system:compliance")


def task_check_activities(ctx: Ctx) -> TaskRun:
    from witness.findings.models import Finding

    activity = _unchecked_use(ctx)
    return TaskRun(([activity.pk],), ("compliance.check.start", "finding.raise",
                                      "compliance.check.finish"),
                   Finding.objects.filter(rule_id="DEV-4.no_check").exists,
                   "system:compliance")


CLI_SCENARIOS["check"] = cli_check
TASK_SCENARIOS["witness.compliance.tasks.full_check"] = task_full_check
TASK_SCENARIOS["witness.compliance.tasks.check_activities"] = task_check_activities


# -- findings workflow and the violation register (issue 6 item 2; ACT-5 B16, SUP-2) --


def _finding_on_activity(ctx: Ctx, status: str = "open"):
    """An ACT-5 gap finding on an activity of the field unit, the officer responsible,
    taken up to ``status`` (open, explained) through the workflow."""
    from witness.findings import workflow
    from witness.findings.services import raise_finding

    activity = f.ActivityFactory(unit=ctx.ns.field)
    f.ActivityOfficerFactory(activity=activity, person=ctx.person("officer"), is_recorder=True)
    finding, _created = raise_finding("ACT-5.gap", activity, {"gap_seconds": 120},
                                      key="cov", unit=ctx.ns.field,
                                      responsible=ctx.person("officer"))
    if status == "explained":
        workflow.explain(as_subject(ctx, "officer"), finding, "电池耗尽")
    return finding


def _finding_status(finding, status: str) -> Callable:
    from witness.findings.models import Finding

    return lambda *_a: Finding.objects.filter(pk=finding.pk, status=status).exists()


def _pending_violation(ctx: Ctx):
    from witness.findings import workflow

    finding = _finding_on_activity(ctx)
    return workflow.escalate(as_subject(ctx, "unit_head"), finding, kind="not_recorded",
                             description="未按规定录制")


def _violation_outcome(violation, outcome: str) -> Callable:
    from witness.findings.models import Violation

    return lambda *_a: Violation.objects.filter(pk=violation.pk, outcome=outcome).exists()


def finding_explain_view(ctx: Ctx) -> ViewPost:
    finding = _finding_on_activity(ctx)
    return ViewPost("officer", {"text": "电池耗尽，更换后继续录制"}, ("finding.explain",),
                    _finding_status(finding, "explained"), args=(finding.pk,),
                    headers={"HTTP_HX_REQUEST": "true"}, bad_data={"text": ""})


def finding_decide_view(ctx: Ctx) -> ViewPost:
    finding = _finding_on_activity(ctx, "explained")
    return ViewPost("unit_head", {"decision": "accept"}, ("finding.accept",),
                    _finding_status(finding, "accepted"), args=(finding.pk,),
                    headers={"HTTP_HX_REQUEST": "true"},
                    bad_data={"decision": "reject", "reason": ""})


def finding_escalate_view(ctx: Ctx) -> ViewPost:
    finding = _finding_on_activity(ctx)
    return ViewPost("legal", {"kind": "not_recorded", "description": "未全程录制"},
                    ("violation.register", "finding.escalate"),
                    _finding_status(finding, "escalated"), args=(finding.pk,),
                    headers={"HTTP_HX_REQUEST": "true"},
                    bad_data={"kind": "not_recorded", "description": ""})


def violation_decide_view(ctx: Ctx) -> ViewPost:
    violation = _pending_violation(ctx)
    return ViewPost("leader", {"outcome": "circulated", "note": "通报"}, ("violation.decide",),
                    _violation_outcome(violation, "circulated"), args=(violation.pk,),
                    headers={"HTTP_HX_REQUEST": "true"}, bad_data={"outcome": "pending"})


FINDINGS_VIEW_SCENARIOS: dict[str, Callable[[Ctx], ViewPost]] = {
    "finding_explain": finding_explain_view,
    "finding_decide": finding_decide_view,
    "finding_escalate": finding_escalate_view,
    "violation_decide": violation_decide_view,
}
VIEW_SCENARIOS.update(FINDINGS_VIEW_SCENARIOS)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(FINDINGS_VIEW_SCENARIOS))
def test_a_findings_view_writes_its_entries(name, ctx, client):
    test_a_state_changing_view_writes_its_entries(name, ctx, client)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(FINDINGS_VIEW_SCENARIOS))
def test_a_findings_views_change_does_not_happen_without_its_entry(name, ctx, client):
    test_a_views_change_does_not_happen_without_its_entry(name, ctx, client)


def cli_finding_explain(ctx: Ctx) -> CliRun:
    finding = _finding_on_activity(ctx)
    user = ctx.person("officer").user.username
    return CliRun(("finding", "explain", finding.pk, "--as", user, "--text", "电池耗尽"),
                  ("finding.explain",), _finding_status(finding, "explained"), actor=user)


def cli_finding_decide(ctx: Ctx) -> CliRun:
    finding = _finding_on_activity(ctx, "explained")
    user = ctx.person("unit_head").user.username
    return CliRun(("finding", "decide", finding.pk, "--as", user, "--reject", "--reason",
                   "理由不充分"), ("finding.reject",), _finding_status(finding, "rejected"),
                  actor=user)


def cli_finding_escalate(ctx: Ctx) -> CliRun:
    finding = _finding_on_activity(ctx)
    user = ctx.person("unit_head").user.username
    return CliRun(("finding", "escalate", finding.pk, "--as", user, "--kind", "not_recorded",
                   "--description", "未录制"), ("violation.register", "finding.escalate"),
                  _finding_status(finding, "escalated"), actor=user)


def cli_violation_decide(ctx: Ctx) -> CliRun:
    violation = _pending_violation(ctx)
    user = ctx.person("legal").user.username
    return CliRun(("violation", "decide", violation.pk, "--as", user, "--outcome",
                   "accountability"), ("violation.decide",),
                  _violation_outcome(violation, "accountability"), actor=user)


CLI_SCENARIOS["finding explain"] = cli_finding_explain
CLI_SCENARIOS["finding decide"] = cli_finding_decide
CLI_SCENARIOS["finding escalate"] = cli_finding_escalate
CLI_SCENARIOS["violation decide"] = cli_violation_decide
CLI_READ_ONLY.update({"finding list", "finding show", "violation list"})


FINDINGS_CLI = ["finding explain", "finding decide", "finding escalate", "violation decide"]


@pytest.mark.django_db
@pytest.mark.parametrize("key", FINDINGS_CLI)
def test_a_findings_subcommand_writes_its_entries(key, ctx):
    check_cli(key, ctx)


# -- work records (issue 6 item 1, ACT-4) ------------------------------------------------------


def _work_record_activity(ctx: Ctx) -> Activity:
    arrived = timezone.now() - timedelta(hours=5)
    return activities.create_activity(
        ctx.ns.agency, unit=ctx.ns.field, activity_type="investigation", place="工作记录地点",
        arrived_at=arrived, departed_at=arrived + timedelta(hours=1),
        officers=[ctx.person("officer")], recorder=ctx.person("officer"), actor="test")


def cli_activity_work_record(ctx: Ctx) -> CliRun:
    from witness.activities.models import WorkRecord

    activity = _work_record_activity(ctx)
    user = ctx.person("officer").user.username
    return CliRun(("activity", "work-record", activity.pk, "--as", user, "--kind", "stop",
                   "--reason", "weather", "--basis", "暴雨无法继续录制"),
                  ("activity.work_record.file",),
                  lambda: WorkRecord.objects.filter(activity=activity).exists(), actor=user)


def cli_activity_work_record_review(ctx: Ctx) -> CliRun:
    from witness.activities import work_records
    from witness.activities.models import WorkRecord

    record = work_records.file_work_record(
        _work_record_activity(ctx), kind="exemption", reason="privacy", basis="涉及个人隐私",
        written_by=ctx.person("officer"), actor="test")
    user = ctx.person("leader").user.username  # the principal leader (lushan-2019, A12)
    return CliRun(("activity", "work-record-review", record.pk, "--as", user, "--note", "同意"),
                  ("activity.work_record.review",),
                  lambda: WorkRecord.objects.filter(pk=record.pk,
                                                    reviewed_at__isnull=False).exists(),
                  actor=user)


CLI_SCENARIOS["activity work-record"] = cli_activity_work_record
CLI_SCENARIOS["activity work-record-review"] = cli_activity_work_record_review


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["activity work-record", "activity work-record-review"])
def test_a_work_record_subcommand_writes_its_entries(key, ctx):
    check_cli(key, ctx)


@pytest.mark.django_db
def test_check_writes_its_entries(ctx):
    check_cli("check", ctx)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["witness.compliance.tasks.full_check",
                                  "witness.compliance.tasks.check_activities"])
def test_a_compliance_task_writes_its_entries(path, ctx):
    test_a_task_writes_its_entries(path, ctx)


# -- annual review (评查) and inspections (issue 6 item 3; SUP-1, SUP-3) --


def _review_campaign(ctx: Ctx, upto: str = "draft"):
    """A campaign of the field unit over this year's activities, reviewed by the officer
    (who is on none of them), taken up to ``upto`` ("draft", "sampled" or "approved")."""
    from witness.access import authz
    from witness.review import services as review

    for hours in (30, 50, 70):
        activity = f.ActivityFactory(unit=ctx.ns.field,
                                     arrived_at=timezone.now() - timedelta(hours=hours))
        f.ActivityOfficerFactory(activity=activity, person=ctx.person("unit_head"))
        f.RecordingFactory(device=f.DeviceFactory(unit=ctx.ns.field), activity=activity,
                           started_at=activity.arrived_at)
    legal = authz.subject_of(ctx.person("legal").user)
    today = timezone.localdate()
    campaign = review.create_campaign(
        legal, name="覆盖测试评查", kind="annual", period_from=today - timedelta(days=10),
        period_to=today, units=[ctx.ns.field], reviewers=[ctx.person("officer")],
        valid_until=timezone.now() + timedelta(days=10), per_unit=2, seed=5)
    if upto in ("sampled", "approved"):
        review.sample(legal, campaign)
    if upto == "approved":
        review.approve(authz.subject_of(ctx.person("leader").user), campaign)
    return campaign


def _review_status(campaign, status: str) -> Callable:
    return lambda *a: type(campaign).objects.filter(pk=campaign.pk, status=status).exists()


def review_new_view(ctx: Ctx) -> ViewPost:
    from witness.review.models import Campaign

    today = timezone.localdate()
    data = {"name": "覆盖测试新评查", "kind": "inspection",
            "period_from": (today - timedelta(days=30)).isoformat(),
            "period_to": today.isoformat(), "units": [ctx.ns.field.pk], "per_unit": 2,
            "per_officer": 1, "seed": "", "reviewers": [ctx.person("officer").pk],
            "valid_until": local_minute(timezone.now() + timedelta(days=5)), "note": ""}
    return ViewPost("legal", data, ("review.campaign.create",),
                    lambda c: Campaign.objects.filter(name="覆盖测试新评查").exists(),
                    bad_data={**data, "period_from": today.isoformat(),
                              "period_to": (today - timedelta(days=1)).isoformat()})


def review_sample_view(ctx: Ctx) -> ViewPost:
    campaign = _review_campaign(ctx)
    return ViewPost("legal", {}, ("review.campaign.sample",),
                    lambda c: campaign.items.exists(), args=(campaign.pk,), bad_data=None)


def review_approve_view(ctx: Ctx) -> ViewPost:
    campaign = _review_campaign(ctx, "sampled")
    return ViewPost("leader", {}, ("review.campaign.approve", "grant.create"),
                    _review_status(campaign, "approved"), args=(campaign.pk,),
                    bad_data=None)


def review_close_view(ctx: Ctx) -> ViewPost:
    campaign = _review_campaign(ctx, "approved")
    return ViewPost("legal", {"note": "完成"}, ("review.campaign.close", "grant.revoke"),
                    _review_status(campaign, "closed"), args=(campaign.pk,), bad_data=None)


def review_score_view(ctx: Ctx) -> ViewPost:
    from witness.review.models import Criterion, Score

    campaign = _review_campaign(ctx, "approved")
    item = campaign.items.order_by("position").first()
    data = {f"result_{c.value}": "pass" for c in Criterion}
    return ViewPost("officer", data, ("review.score",),
                    lambda c: Score.objects.filter(item=item).exists(), args=(item.pk,),
                    bad_data={**data, "result_civil_conduct": "fail"})  # a fail needs a note


REVIEW_VIEW_SCENARIOS: dict[str, Callable[[Ctx], ViewPost]] = {
    "review_new": review_new_view,
    "review_sample": review_sample_view,
    "review_approve": review_approve_view,
    "review_close": review_close_view,
    "review_score": review_score_view,
}
VIEW_SCENARIOS.update(REVIEW_VIEW_SCENARIOS)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(REVIEW_VIEW_SCENARIOS))
def test_a_review_view_writes_its_entries(name, ctx, client):
    test_a_state_changing_view_writes_its_entries(name, ctx, client)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(REVIEW_VIEW_SCENARIOS))
def test_a_review_views_change_does_not_happen_without_its_entry(name, ctx, client):
    test_a_views_change_does_not_happen_without_its_entry(name, ctx, client)


def cli_review_create(ctx: Ctx) -> CliRun:
    from witness.review.models import Campaign

    user = ctx.person("legal").user.username
    today = timezone.localdate()
    return CliRun(("review", "create", "--as", user, "--name", "覆盖命令评查", "--from",
                   (today - timedelta(days=30)).isoformat(), "--to", today.isoformat(),
                   "--unit", ctx.ns.field.code, "--reviewer", ctx.person("officer").name,
                   "--valid-until", local_minute(timezone.now() + timedelta(days=5)),
                   "--seed", 11), ("review.campaign.create",),
                  lambda: Campaign.objects.filter(name="覆盖命令评查", seed=11).exists(),
                  actor=user)


def cli_review_sample(ctx: Ctx) -> CliRun:
    campaign = _review_campaign(ctx)
    user = ctx.person("legal").user.username
    return CliRun(("review", "sample", "--as", user, campaign.pk), ("review.campaign.sample",),
                  campaign.items.exists, actor=user)


def cli_review_approve(ctx: Ctx) -> CliRun:
    campaign = _review_campaign(ctx, "sampled")
    user = ctx.person("leader").user.username
    return CliRun(("review", "approve", "--as", user, campaign.pk),
                  ("review.campaign.approve", "grant.create"),
                  _review_status(campaign, "approved"), actor=user)


def cli_review_score(ctx: Ctx) -> CliRun:
    from witness.review.models import Score

    campaign = _review_campaign(ctx, "approved")
    item = campaign.items.order_by("position").first()
    user = ctx.person("officer").user.username
    return CliRun(("review", "score", "--as", user, item.pk, "--result", "civil_conduct=pass",
                   "--result", "opening=pass"), ("review.score",),
                  lambda: Score.objects.filter(item=item).count() == 2, actor=user)


def cli_review_close(ctx: Ctx) -> CliRun:
    campaign = _review_campaign(ctx, "approved")
    user = ctx.person("legal").user.username
    return CliRun(("review", "close", "--as", user, campaign.pk),
                  ("review.campaign.close", "grant.revoke"),
                  _review_status(campaign, "closed"), actor=user)


def cli_review_report(ctx: Ctx) -> CliRun:
    campaign = _review_campaign(ctx, "approved")
    user = ctx.person("legal").user.username
    out = ctx.tmp / "review.pdf"
    return CliRun(("review", "report", "--as", user, campaign.pk, "--pdf", out),
                  ("review.report",),
                  lambda: out.exists() and out.read_bytes().startswith(b"%PDF"), actor=user)


REVIEW_CLI_SCENARIOS = {
    "review create": cli_review_create,
    "review sample": cli_review_sample,
    "review approve": cli_review_approve,
    "review score": cli_review_score,
    "review close": cli_review_close,
    "review report": cli_review_report,
}
CLI_SCENARIOS.update(REVIEW_CLI_SCENARIOS)
CLI_READ_ONLY.update({"review show", "review list"})


@pytest.mark.django_db
@pytest.mark.parametrize("key", sorted(REVIEW_CLI_SCENARIOS))
def test_a_review_subcommand_writes_its_entries(key, ctx):
    check_cli(key, ctx)


# -- evidence packages (issue 7 item 5; EVD-1, EVD-3) --


def cli_export(ctx: Ctx) -> CliRun:
    blob = stored_blob(ctx)
    activity = f.ActivityFactory(unit=ctx.ns.field)
    f.RecordingFactory(blob=blob, device=f.DeviceFactory(unit=ctx.ns.field), activity=activity)
    ctx.settings.WITNESS_AUDIT_KEY = ctx.tmp / "audit.key"
    user = ctx.person("custodian").user.username
    out = ctx.tmp / "package"
    return CliRun(("export", f"activity:{activity.pk}", "--out", out, "--as", user),
                  ("evidence.export", "recording.export"),
                  lambda: (out / "tagmanifest-sha256.txt").exists(), actor=user)


CLI_SCENARIOS["export"] = cli_export


@pytest.mark.django_db
def test_export_writes_its_entries(ctx):
    check_cli("export", ctx)


# -- disc preservation (issue 7 item 4; RET-2, A16) --


def _preservable_activity(ctx: Ctx):
    blob = stored_blob(ctx)
    activity = f.ActivityFactory(unit=ctx.ns.field)
    f.RecordingFactory(blob=blob, device=f.DeviceFactory(unit=ctx.ns.field), activity=activity)
    ctx.settings.WITNESS_AUDIT_KEY = ctx.tmp / "audit.key"
    return activity


def cli_preserve(ctx: Ctx) -> CliRun:
    activity = _preservable_activity(ctx)
    out = ctx.tmp / "discs"
    return CliRun(("preserve", f"activity:{activity.pk}", "--out", out),
                  ("preservation.preserve", "recording.preserve"),
                  lambda: (out / "SHA256SUMS").exists())


def cli_burn_disc(ctx: Ctx) -> CliRun:
    from witness.preservation import discs

    out = ctx.tmp / "discs"
    discs.preserve(_preservable_activity(ctx), out, actor="test")
    drive = ctx.tmp / "drive.img"
    return CliRun(("burn-disc", out / "disc-1-of-1.iso", "--device", f"stdio:{drive}"),
                  ("preservation.burn",), drive.exists)


CLI_SCENARIOS["preserve"] = cli_preserve
CLI_SCENARIOS["burn-disc"] = cli_burn_disc


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["preserve", "burn-disc"])
def test_disc_preservation_writes_its_entries(key, ctx):
    check_cli(key, ctx)


@pytest.mark.django_db
def test_export_iso_writes_its_entries(ctx):
    activity = _preservable_activity(ctx)
    out = ctx.tmp / "package"
    user = ctx.person("custodian").user.username
    check_run = CliRun(("export", f"activity:{activity.pk}", "--out", out, "--iso", "--as",
                        user), ("evidence.export", "evidence.export_iso"),
                       lambda: out.with_name("package.iso").exists(), actor=user)
    assert not check_run.changed()
    since = last_entry_id()
    run_cli(check_run)
    assert check_run.changed()
    assert_entries(since, check_run.actions, by_label(check_run.actor))


# -- retention purge, preservation holds, complaints (issue 7 items 1-3; RET-1, RET-2) --


def _expired_recording(ctx: Ctx) -> Recording:
    """A really stored recording made long before the 24 months of lushan-2019."""
    from witness.retention import keep

    rec = f.RecordingFactory(blob=stored_blob(ctx), device=f.DeviceFactory(unit=ctx.ns.field),
                             holder=ctx.person("officer"),
                             started_at=timezone.now() - timedelta(days=1000))
    keep.recompute(actor="test")
    return rec


def _purge_batch(ctx: Ctx, upto: str = "proposed"):
    from witness.retention import purge

    batch = purge.propose(as_subject(ctx, "custodian"), [_expired_recording(ctx).pk]).batch
    if upto == "approved":
        purge.decide(as_subject(ctx, "leader"), batch, approve=True)
    return batch


def _officers_activity(ctx: Ctx) -> Activity:
    activity = f.ActivityFactory(unit=ctx.ns.field)
    f.ActivityOfficerFactory(activity=activity, person=ctx.person("officer"))
    return activity


def _hold(ctx: Ctx, upto: str = "proposed"):
    from witness.retention import holds

    hold = holds.propose(as_subject(ctx, "officer"), _officers_activity(ctx), "dispute", "异议")
    if upto == "active":
        hold = holds.decide(as_subject(ctx, "leader"), hold, approve=True)
    return hold


def _batch_in(pk: int, state: str) -> Callable:
    from witness.retention.models import PurgeBatch

    return lambda *a: PurgeBatch.objects.filter(pk=pk, state=state).exists()


def _hold_in(pk: int, state: str) -> Callable:
    from witness.retention.models import Hold

    return lambda *a: Hold.objects.filter(pk=pk, state=state).exists()


def retention_propose_view(ctx: Ctx) -> ViewPost:
    from witness.retention.models import PurgeBatch

    rec = _expired_recording(ctx)
    return ViewPost("custodian", {"recording": [rec.pk], "note": "到期"}, ("retention.propose",),
                    lambda c: PurgeBatch.objects.filter(items__recording=rec).exists(),
                    bad_data={"note": "nothing chosen"})


def retention_decide_view(ctx: Ctx) -> ViewPost:
    batch = _purge_batch(ctx)
    return ViewPost("leader", {"decision": "approve"}, ("retention.approve",),
                    _batch_in(batch.pk, "approved"), args=(batch.pk,),
                    headers={"HTTP_HX_REQUEST": "true"},
                    bad_data={"decision": "reject", "note": ""})


def hold_new_view(ctx: Ctx) -> ViewPost:
    from witness.retention.models import Hold

    activity = _officers_activity(ctx)
    return ViewPost("officer", {"activity": activity.pk, "reason": "dispute", "note": "异议"},
                    ("hold.propose",), lambda c: Hold.objects.filter(activity=activity).exists(),
                    bad_data={"activity": activity.pk, "reason": "dispute", "note": ""})


def hold_decide_view(ctx: Ctx) -> ViewPost:
    hold = _hold(ctx)
    return ViewPost("leader", {"decision": "approve"}, ("hold.approve",),
                    _hold_in(hold.pk, "active"), args=(hold.pk,),
                    headers={"HTTP_HX_REQUEST": "true"},
                    bad_data={"decision": "reject", "note": ""})


def complaint_new_view(ctx: Ctx) -> ViewPost:
    from witness.retention.models import Complaint

    activity = _officers_activity(ctx)
    data = {"activity": activity.pk, "kind": "petition", "complainant": "李某",
            "received_at": local_minute(timezone.now()), "summary": "对检查不服"}
    return ViewPost("legal", data, ("complaint.register", "hold.propose"),
                    lambda c: Complaint.objects.filter(activity=activity).exists(),
                    bad_data={**data, "summary": ""})


RETENTION_VIEW_SCENARIOS = {
    "retention_propose": retention_propose_view,
    "retention_decide": retention_decide_view,
    "hold_new": hold_new_view,
    "hold_decide": hold_decide_view,
    "complaint_new": complaint_new_view,
}
VIEW_SCENARIOS.update(RETENTION_VIEW_SCENARIOS)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(RETENTION_VIEW_SCENARIOS))
def test_a_retention_view_writes_its_entries(name, ctx, client):
    test_a_state_changing_view_writes_its_entries(name, ctx, client)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(RETENTION_VIEW_SCENARIOS))
def test_a_retention_views_change_does_not_happen_without_its_entry(name, ctx, client):
    test_a_views_change_does_not_happen_without_its_entry(name, ctx, client)


def cli_retention_propose(ctx: Ctx) -> CliRun:
    from witness.retention.models import PurgeBatch

    rec = _expired_recording(ctx)
    user = ctx.person("custodian").user.username
    return CliRun(("retention", "propose", "--as", user, "--recording", rec.pk),
                  ("retention.propose",),
                  lambda: PurgeBatch.objects.filter(items__recording=rec).exists(), actor=user)


def cli_retention_approve(ctx: Ctx) -> CliRun:
    batch = _purge_batch(ctx)
    user = ctx.person("leader").user.username
    return CliRun(("retention", "approve", "--as", user, batch.pk), ("retention.approve",),
                  _batch_in(batch.pk, "approved"), actor=user)


def cli_retention_reject(ctx: Ctx) -> CliRun:
    batch = _purge_batch(ctx)
    user = ctx.person("leader").user.username
    return CliRun(("retention", "reject", "--as", user, batch.pk, "--note", "仍有保存价值"),
                  ("retention.reject",), _batch_in(batch.pk, "rejected"), actor=user)


def cli_retention_execute(ctx: Ctx) -> CliRun:
    batch = _purge_batch(ctx, "approved")
    user = ctx.person("custodian").user.username
    return CliRun(("retention", "execute", "--as", user, batch.pk),
                  ("retention.purge_start", "retention.purge_item", "retention.purge"),
                  _batch_in(batch.pk, "executed"), actor=user)


def cli_retention_recompute(ctx: Ctx) -> CliRun:
    from witness.retention.models import RecordingRetention

    rec = f.RecordingFactory(device=f.DeviceFactory(unit=ctx.ns.field))
    return CliRun(("retention", "recompute"), ("retention.recompute",),
                  RecordingRetention.objects.filter(recording=rec,
                                                    keep_until__isnull=False).exists)


def cli_hold_propose(ctx: Ctx) -> CliRun:
    from witness.retention.models import Hold

    activity = _officers_activity(ctx)
    user = ctx.person("officer").user.username
    return CliRun(("hold", "propose", "--as", user, "--activity", activity.pk, "--reason",
                   "obstruction", "--note", "阻碍执法"), ("hold.propose",),
                  Hold.objects.filter(activity=activity).exists, actor=user)


def cli_hold_decision(step: str, upto: str, state: str, action: str, role: str = "leader"):
    def scenario(ctx: Ctx) -> CliRun:
        hold = _hold(ctx, upto)
        user = ctx.person(role).user.username  # a release is a second person's (RET-2)
        return CliRun(("hold", step, "--as", user, hold.pk, "--note", "理由"), (action,),
                      _hold_in(hold.pk, state), actor=user)
    return scenario


def cli_complaint_register(ctx: Ctx) -> CliRun:
    from witness.retention.models import Complaint

    activity = _officers_activity(ctx)
    user = ctx.person("legal").user.username
    return CliRun(("complaint", "register", "--as", user, "--activity", activity.pk, "--kind",
                   "complaint", "--complainant", "赵某", "--received-at",
                   local_minute(timezone.now()), "--summary", "对处罚不服"),
                  ("complaint.register", "hold.propose"),
                  Complaint.objects.filter(activity=activity).exists, actor=user)


RETENTION_CLI = {
    "retention propose": cli_retention_propose,
    "retention approve": cli_retention_approve,
    "retention reject": cli_retention_reject,
    "retention execute": cli_retention_execute,
    "retention recompute": cli_retention_recompute,
    "hold propose": cli_hold_propose,
    "hold approve": cli_hold_decision("approve", "proposed", "active", "hold.approve"),
    "hold reject": cli_hold_decision("reject", "proposed", "rejected", "hold.reject"),
    "hold release": cli_hold_decision("release", "active", "released", "hold.release",
                                      "legal"),
    "complaint register": cli_complaint_register,
}
CLI_SCENARIOS.update(RETENTION_CLI)
CLI_READ_ONLY |= {"retention plan", "retention show", "hold list", "complaint list"}


@pytest.mark.django_db
@pytest.mark.parametrize("key", sorted(RETENTION_CLI))
def test_a_retention_subcommand_writes_its_entries(key, ctx):
    check_cli(key, ctx)


def task_execute_purge(ctx: Ctx) -> TaskRun:
    batch = _purge_batch(ctx, "approved")
    return TaskRun((batch.pk,), ("retention.purge_start", "retention.purge_item",
                                 "retention.purge"),
                   _batch_in(batch.pk, "executed"), "system:retention")


TASK_SCENARIOS["witness.retention.tasks.execute_purge"] = task_execute_purge


def task_recompute_all(ctx: Ctx) -> TaskRun:
    """The nightly recomputation gives a recording that has none its keep-until (RET-1)."""
    from witness.retention.models import RecordingRetention

    recording = f.RecordingFactory(device=f.DeviceFactory(unit=ctx.ns.field))
    RecordingRetention.objects.filter(recording=recording).delete()
    return TaskRun((), ("retention.recompute",),
                   RecordingRetention.objects.filter(recording=recording,
                                                     keep_until__isnull=False).exists,
                   "system:retention")


TASK_SCENARIOS["witness.retention.tasks.recompute_all"] = task_recompute_all


@pytest.mark.django_db
def test_the_nightly_recompute_task_writes_its_entry(ctx):
    test_a_task_writes_its_entries("witness.retention.tasks.recompute_all", ctx)


@pytest.mark.django_db
def test_the_purge_task_writes_its_entries(ctx):
    test_a_task_writes_its_entries("witness.retention.tasks.execute_purge", ctx)


# -- the web export after approval (issue 7 item 5; EVD-1, EVD-3) ---------------------------


def _package_request(ctx: Ctx, rec: Recording | None = None):
    """A disclosure by export package of one of the officer's recordings, granted through
    the chain (review, approval, registration)."""
    from witness.access import chain
    from witness.access.models import StepState
    from witness.recordings.models import Attribution

    officer = ctx.person("officer")
    if rec is None:
        rec = f.RecordingFactory(device=f.DeviceFactory(unit=ctx.ns.field), holder=officer,
                                 activity=None, attribution=Attribution.NO_ACTIVITY)
    else:
        Recording.objects.filter(pk=rec.pk).update(holder=officer, activity=None,
                                                   attribution=Attribution.NO_ACTIVITY)
    now = timezone.now()
    req = chain.submit(officer, recordings=[rec], reason="法院调取", wanted_from=now,
                       wanted_until=now + timedelta(days=2), kind="disclosure",
                       recipient_kind="court", recipient_name="鲁山县人民法院",
                       delivery="package", actor="test")
    while req.steps.filter(state=StepState.OPEN).exists():
        step = req.steps.get(state=StepState.OPEN)
        chain.decide(step, chain.deciders(step).first(), True, "", actor="test")
    return req


def export_package_make_view(ctx: Ctx) -> ViewPost:
    from witness.preservation.models import ExportPackage

    ctx.settings.WITNESS_HOME = ctx.tmp / "home"
    req = _package_request(ctx)
    return ViewPost("custodian", {}, ("evidence.package_request",),
                    lambda c: ExportPackage.objects.filter(request=req).exists(),
                    args=(req.pk,), bad_data=None)


VIEW_SCENARIOS["export_package_make"] = export_package_make_view


def task_make_package(ctx: Ctx) -> TaskRun:
    from witness.access.chain import subject_for
    from witness.preservation import packages
    from witness.preservation.models import ExportPackage

    ctx.settings.WITNESS_HOME = ctx.tmp / "home"
    ctx.settings.WITNESS_AUDIT_KEY = ctx.tmp / "audit.key"
    req = _package_request(ctx, ingested_recording(ctx))
    packages.ask(req, subject_for(ctx.person("custodian")), actor="test")
    pkg = ExportPackage.objects.get(request=req)
    return TaskRun((pkg.pk,), ("evidence.package_start", "evidence.export",
                               "evidence.package_ready"),
                   lambda: ExportPackage.objects.filter(pk=pkg.pk, status="ready").exists(),
                   packages.ACTOR)


TASK_SCENARIOS["witness.preservation.tasks.make_package"] = task_make_package


def task_clean_packages(ctx: Ctx) -> TaskRun:
    """A made package whose grants expired is removed by the daily clean-up (EVD-3)."""
    from witness.access.models import Grant
    from witness.preservation import packages
    from witness.preservation.models import ExportPackage

    made = task_make_package(ctx)
    packages.build(*made.args)
    pkg = ExportPackage.objects.get(pk=made.args[0], status="ready")
    now = timezone.now()
    Grant.objects.filter(request=pkg.request_id).update(
        valid_from=now - timedelta(days=3), valid_until=now - timedelta(hours=1))
    return TaskRun((), ("evidence.package_remove",),
                   lambda: ExportPackage.objects.filter(pk=pkg.pk, status="removed").exists(),
                   packages.ACTOR)


TASK_SCENARIOS["witness.preservation.tasks.clean_packages"] = task_clean_packages


@pytest.mark.django_db
def test_the_package_clean_up_task_writes_its_entry(ctx):
    test_a_task_writes_its_entries("witness.preservation.tasks.clean_packages", ctx)


def _held_activity(ctx: Ctx):
    """An activity with a real stored recording, under an approved hold (RET-2, A16)."""
    from witness.access.chain import subject_for
    from witness.retention import holds

    ctx.settings.WITNESS_HOME = ctx.tmp / "home"
    ctx.settings.WITNESS_AUDIT_KEY = ctx.tmp / "audit.key"
    rec = ingested_recording(ctx)
    activity = f.ActivityFactory(unit=ctx.ns.field)
    Recording.objects.filter(pk=rec.pk).update(activity=activity)
    hold = holds.propose(subject_for(ctx.person("officer")), activity, "dispute", "当事人有异议")
    holds.decide(subject_for(ctx.person("leader")), hold, approve=True)
    return activity


def preservation_discs_view(ctx: Ctx) -> ViewPost:
    from witness.preservation.models import DiscSet

    activity = _held_activity(ctx)
    return ViewPost("custodian", {"object": f"activity:{activity.pk}", "media": "dvd"},
                    ("preservation.disc_request",),
                    lambda c: DiscSet.objects.filter(activity=activity).exists())


VIEW_SCENARIOS["preservation_discs"] = preservation_discs_view


def task_make_discs(ctx: Ctx) -> TaskRun:
    from witness.access.chain import subject_for
    from witness.preservation import web_discs
    from witness.preservation.models import DiscSet

    activity = _held_activity(ctx)
    made, _queued = web_discs.ask(activity, subject_for(ctx.person("custodian")), media="dvd",
                                  actor="test")
    return TaskRun((made.pk,), ("preservation.disc_start", "preservation.preserve",
                                "preservation.disc_ready"),
                   lambda: DiscSet.objects.filter(pk=made.pk, status="ready").exists(),
                   web_discs.ACTOR)


TASK_SCENARIOS["witness.preservation.tasks.make_discs"] = task_make_discs


@pytest.mark.django_db
def test_the_disc_images_view_writes_its_entries(ctx, client):
    test_a_state_changing_view_writes_its_entries("preservation_discs", ctx, client)


@pytest.mark.django_db
def test_the_disc_images_views_change_does_not_happen_without_its_entry(ctx, client):
    test_a_views_change_does_not_happen_without_its_entry("preservation_discs", ctx, client)


@pytest.mark.django_db
def test_the_disc_images_task_writes_its_entries(ctx):
    test_a_task_writes_its_entries("witness.preservation.tasks.make_discs", ctx)


@pytest.mark.django_db
def test_the_export_package_view_writes_its_entries(ctx, client):
    test_a_state_changing_view_writes_its_entries("export_package_make", ctx, client)


@pytest.mark.django_db
def test_the_export_package_views_change_does_not_happen_without_its_entry(ctx, client):
    test_a_views_change_does_not_happen_without_its_entry("export_package_make", ctx, client)


@pytest.mark.django_db
def test_the_package_task_writes_its_entries(ctx):
    test_a_task_writes_its_entries("witness.preservation.tasks.make_package", ctx)
