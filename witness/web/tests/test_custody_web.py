"""The chain-of-custody report from the web (issue 4 item 5; EVD-1, ING-4): the PDF of an
activity, a case or a recording for those who may see it, audited with its SHA-256; 404
outside the user's scope, 403 for roles the policy refuses."""

import hashlib
import subprocess
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from witness.activities.models import ActivityOfficer
from witness.audit.models import AuditEntry
from witness.testing import factories as f


@pytest.fixture
def world(site, tmp_path, settings):
    settings.WITNESS_AUDIT_KEY = tmp_path / "audit.key"
    ns = site()
    ns.case = f.CaseFactory(agency=ns.agency, leader_in_charge=ns.people["leader"])
    ns.activity = f.ActivityFactory(unit=ns.field, case=ns.case, place="城关镇集贸市场",
                                    arrived_at=timezone.now() - timedelta(hours=3))
    ActivityOfficer.objects.create(activity=ns.activity, person=ns.people["officer"],
                                   is_recorder=True)
    ns.other = f.ActivityFactory(unit=ns.field2, place="另一处",
                                 arrived_at=timezone.now() - timedelta(hours=5))
    return ns


def pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "r.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout


@pytest.mark.parametrize("role", ["custodian", "leader", "legal", "unit_head"])
def test_ing4_custody_report_of_an_activity_downloads_as_an_audited_pdf(world, login, role,
                                                                       tmp_path):
    url = reverse("custody_report", args=["activity", world.activity.pk])
    response = login(world.people[role]).get(url)
    assert response.status_code == 200, role
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    data = response.content
    assert "城关镇集贸市场" in pdf_text(data, tmp_path)
    entry = AuditEntry.objects.filter(action="custody.report").latest("id")
    assert entry.details["sha256"] == hashlib.sha256(data).hexdigest()
    assert entry.details["via"] == "web"
    assert entry.object_id == str(world.activity.pk)
    assert entry.actor_label == world.people[role].user.username


def test_ing4_custody_report_of_a_case(world, login, tmp_path):
    response = login(world.people["leader"]).get(
        reverse("custody_report", args=["case", world.case.pk]))
    assert response.status_code == 200
    assert world.case.name in pdf_text(response.content, tmp_path).replace(" ", "")


@pytest.mark.parametrize("role", ["sysadmin", "secadmin", "auditadmin", "officer"])
def test_ing4_custody_report_refused_by_the_policy(world, login, role):
    response = login(world.people[role]).get(
        reverse("custody_report", args=["activity", world.activity.pk]))
    assert response.status_code == 403
    assert not AuditEntry.objects.filter(action="custody.report", outcome="success").exists()


def test_ing4_custody_report_outside_scope_or_missing_is_404(world, login):
    head = world.people["unit_head"]  # heads the field unit, not field2
    client = login(head)
    assert client.get(reverse("custody_report", args=["activity", world.other.pk])
                      ).status_code == 404
    assert client.get(reverse("custody_report", args=["activity", 999999])).status_code == 404
    assert client.get(reverse("custody_report", args=["device", world.activity.pk])
                      ).status_code == 404
    assert not AuditEntry.objects.filter(action="custody.report", outcome="success").exists()


def test_evd2_the_activity_page_lists_its_recordings_with_the_ways_to_ask_for_them(
        world, login):
    """The activity page lists the recordings the user may see, links each to the player
    (which refuses without a grant), and offers the viewing request and the custody report."""
    device = f.DeviceFactory(unit=world.field)
    recording = f.RecordingFactory(activity=world.activity, device=device,
                                   holder=world.people["officer"])
    html = login(world.people["unit_head"]).get(
        reverse("activity_detail", args=[world.activity.pk])).content.decode()
    assert reverse("recording_play", args=[recording.pk]) in html
    assert f'{reverse("request_new")}?activity={world.activity.pk}' in html
    assert reverse("custody_report", args=["activity", world.activity.pk]) in html
    officer = login(world.people["officer"]).get(
        reverse("activity_detail", args=[world.activity.pk])).content.decode()
    assert reverse("recording_play", args=[recording.pk]) in officer
    assert "custody" not in officer.split('id="recordings"', 1)[1]
