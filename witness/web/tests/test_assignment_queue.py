"""The custodian's assignment queue (issue 3 item 3): service and web page, with audit."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from witness.audit.models import AuditEntry
from witness.core.errors import WitnessError
from witness.recordings import services
from witness.recordings.models import Attribution, Recording
from witness.testing import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(site):
    ns = site()
    ns.device = f.DeviceFactory(unit=ns.field)
    ns.rec = f.RecordingFactory(device=ns.device, holder=ns.people["officer"])
    ns.activity = f.ActivityFactory(unit=ns.field, arrived_at=ns.rec.started_at
                                    - timedelta(minutes=40))
    return ns


def test_assign_to_an_activity_is_audited_with_before_and_after_DEV3(queued):
    rec = services.assign(queued.rec, queued.activity, actor="test")
    assert (rec.activity, rec.attribution) == (queued.activity, Attribution.ASSIGNED)
    assert rec.segment_index == 1 and rec.gap_before_seconds is None
    entry = AuditEntry.objects.get(action="recording.assign")
    assert entry.details["before"] == {"activity": None, "attribution": "queued"}
    assert entry.details["after"] == {"activity": queued.activity.pk,
                                      "attribution": "assigned"}
    assert not services.queue(queued.agency).exists()


def test_outside_any_activity_needs_a_reason_ACT6(queued):
    with pytest.raises(WitnessError) as caught:
        services.assign(queued.rec, None, actor="test", note="  ")
    assert caught.value.code == "note_required"
    rec = services.assign(queued.rec, None, actor="test", note="设备测试录像")
    assert rec.attribution == Attribution.NO_ACTIVITY and rec.activity is None


def test_a_recording_attributed_at_ingest_is_not_reassigned_DEV3(queued):
    Recording.objects.filter(pk=queued.rec.pk).update(attribution=Attribution.ATTRIBUTED)
    with pytest.raises(WitnessError) as caught:
        services.assign(queued.rec, queued.activity, actor="test")
    assert caught.value.code == "not_queued"


def test_queue_page_offers_nearby_activities_and_assigns_with_htmx_DEV3(queued, login):
    client = login(queued.people["custodian"])
    page = client.get(reverse("assignment_queue"))
    assert page.status_code == 200
    body = page.content.decode()
    assert queued.rec.source_path in body and f'value="{queued.activity.pk}"' in body
    answer = client.post(reverse("recording_assign", args=[queued.rec.pk]),
                         {"activity": queued.activity.pk}, HTTP_HX_REQUEST="true")
    assert answer.status_code == 200 and "inline-ok" in answer.content.decode()
    queued.rec.refresh_from_db()
    assert queued.rec.activity == queued.activity
    entry = AuditEntry.objects.get(action="recording.assign")
    assert entry.actor_id == str(queued.people["custodian"].user.pk) or entry.actor_label


def test_refusal_is_shown_in_both_languages_with_422(queued, login):
    client = login(queued.people["custodian"])
    answer = client.post(reverse("recording_assign", args=[queued.rec.pk]),
                         {"activity": ""}, HTTP_HX_REQUEST="true")
    assert answer.status_code == 422
    body = answer.content.decode()
    assert "Say why the recording belongs to no activity." in body
    assert "field-error" in body and "请" in body
    bad = client.post(reverse("recording_assign", args=[queued.rec.pk]),
                      {"activity": "999999"}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 422
    queued.rec.refresh_from_db()
    assert queued.rec.attribution == Attribution.QUEUED


def test_queue_page_queries_do_not_grow_with_rows(queued, login):
    client = login(queued.people["custodian"])

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("assignment_queue")).status_code == 200
        return len(ctx.captured_queries)

    few = count()
    for _ in range(15):
        f.RecordingFactory(device=queued.device, holder=queued.people["officer"],
                           ingest_run=queued.rec.ingest_run)
    assert count() == few
