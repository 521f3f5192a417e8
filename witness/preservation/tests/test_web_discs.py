"""Disc preservation from the web (RET-2, A16; issue 8 item 4): a custodian asks for the disc
images of an activity under an approved hold, the task makes them with ``discs.preserve``
into WITNESS_HOME/preservation/<id>/, the page polls the status and gives out the label PDFs,
preservation.json and SHA256SUMS — never the ISO images, which stay for ``witness
burn-disc``. Audited, idempotent, scoped."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.urls import reverse

from witness.access.chain import subject_for
from witness.audit.models import AuditEntry, Outcome
from witness.evidence.tests.test_export import World, stores  # noqa: F401 - fixture
from witness.preservation import web_discs
from witness.preservation.models import DiscSet
from witness.retention import holds
from witness.testing import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(site, stores, settings):  # noqa: F811
    settings.WITNESS_HOME = stores / "home"
    return World(site, stores, "lushan-2019", ("sha256",))


def hold_on(world, target):
    hold = holds.propose(subject_for(world.officer), target, "dispute", "当事人有异议")
    return holds.decide(subject_for(world.p["leader"]), hold, approve=True)


def actions(since: int) -> list[str]:
    return list(AuditEntry.objects.filter(id__gt=since).order_by("id")
                .values_list("action", flat=True))


def last() -> int:
    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_RET2_A16_a_custodian_makes_disc_images_of_a_held_activity(world, login):
    hold_on(world, world.act)
    client = login(world.custodian)
    since = last()
    response = client.post(reverse("preservation_discs"),
                           {"object": f"activity:{world.act.pk}", "media": "dvd"})
    ds = DiscSet.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("preservation_disc", args=[ds.pk])
    assert ds.status == "queued" and ds.requested_by == world.custodian
    assert actions(since) == ["preservation.disc_request"]
    page = client.get(reverse("preservation_disc", args=[ds.pk]), HTTP_HX_REQUEST="true")
    assert 'hx-trigger="every 3s"' in page.content.decode()  # polled while queued

    assert web_discs.build(ds.pk)["status"] == "ready"
    assert web_discs.build(ds.pk)["skipped"]  # a second run of the task does nothing
    ds.refresh_from_db()
    folder = web_discs.folder_of(ds.pk)
    assert sorted(p.name for p in folder.iterdir()) == [
        "SHA256SUMS", "disc-1-of-1.iso", "label-copy-1.pdf", "label-copy-2.pdf",
        "preservation.json"]
    assert "preservation.disc_start" in actions(since)
    assert {"preservation.preserve", "preservation.disc_ready"} <= set(actions(since))

    html = client.get(reverse("preservation_disc", args=[ds.pk])).content.decode()
    assert 'hx-trigger' not in html and f"witness burn-disc {folder}/disc-1-of-1.iso" in html
    since = last()
    label = client.get(reverse("preservation_disc_file", args=[ds.pk, "label-copy-1.pdf"]))
    assert label.status_code == 200 and b"".join(label.streaming_content).startswith(b"%PDF")
    sums = client.get(reverse("preservation_disc_file", args=[ds.pk, "SHA256SUMS"]))
    line = b"".join(sums.streaming_content).decode()
    with open(folder / "disc-1-of-1.iso", "rb") as fh:
        assert line == f"{hashlib.file_digest(fh, 'sha256').hexdigest()}  disc-1-of-1.iso\n"
    meta = client.get(reverse("preservation_disc_file", args=[ds.pk, "preservation.json"]))
    assert json.loads(b"".join(meta.streaming_content))["object"] == f"activity:{world.act.pk}"
    assert client.get(reverse("preservation_disc_file",
                              args=[ds.pk, "disc-1-of-1.iso"])).status_code == 404
    assert actions(since) == ["preservation.disc_download"] * 3


def test_asking_twice_queues_one_set(world, login):
    hold_on(world, world.case)
    client = login(world.custodian)
    data = {"object": f"case:{world.case.number}", "media": "dvd"}
    first = client.post(reverse("preservation_discs"), data)
    second = client.post(reverse("preservation_discs"), data)
    assert first.url == second.url and DiscSet.objects.count() == 1
    assert AuditEntry.objects.filter(action="preservation.disc_request").count() == 1


def test_without_an_approved_hold_nothing_is_queued(world, login):
    hold = holds.propose(subject_for(world.officer), world.act, "dispute", "")  # not approved
    assert hold.state == "proposed"
    response = login(world.custodian).post(reverse("preservation_discs"),
                                           {"object": f"activity:{world.act.pk}",
                                            "media": "dvd"})
    assert response.status_code == 422
    assert "没有生效的长期保存决定" in response.content.decode()
    assert not DiscSet.objects.exists()


def test_a_hold_released_before_the_task_fails_the_set(world, login):
    hold = hold_on(world, world.act)
    ds, queued = web_discs.ask(world.act, subject_for(world.custodian), media="dvd",
                               actor="test")
    holds.release(subject_for(world.p["legal"]), hold, "已办结")
    assert queued and web_discs.build(ds.pk)["status"] == "failed"
    ds.refresh_from_db()
    assert ds.error["code"] == "not_held" and not web_discs.folder_of(ds.pk).exists()
    assert AuditEntry.objects.filter(action="preservation.disc_fail",
                                     outcome=Outcome.FAILURE).count() == 1


def test_only_custodians_and_only_their_agency(world, login, make_agency):
    hold_on(world, world.act)
    url = reverse("preservation_discs")
    assert login(world.officer).post(url, {"object": f"activity:{world.act.pk}",
                                           "media": "dvd"}).status_code == 403
    ds, _queued = web_discs.ask(world.act, subject_for(world.custodian), media="dvd",
                                actor="test")
    other = make_agency()
    stranger = other.people["custodian"]
    stranger.user = f.UserFactory(username="custodian-other", password=f.PASSWORD)
    stranger.save(update_fields=["user"])
    since = last()
    client = login(stranger)
    assert client.get(reverse("preservation_disc", args=[ds.pk])).status_code == 404
    assert client.post(url, {"object": f"activity:{world.act.pk}",
                             "media": "dvd"}).status_code == 404
    denied = AuditEntry.objects.filter(id__gt=since, outcome=Outcome.DENIED)
    assert [(e.action, e.object_id) for e in denied] == [
        ("recording.export", str(world.act.pk))] * 2
    assert DiscSet.objects.count() == 1
