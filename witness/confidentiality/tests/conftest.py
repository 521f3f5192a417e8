"""A world for the label and state-secret tests (EVD-4): an agency whose people log in,
a case led by a second bureau leader (not the principal leader), an activity in the case
with two recordings whose originals are really stored (with a replica and a derivative),
and an activity outside any case."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from witness.access import authz
from witness.derivatives.models import Derivative, Kind, Status
from witness.org.models import Role
from witness.profiles import services as profiles
from witness.recordings.models import Attribution
from witness.storage import replica
from witness.storage.config import get_backend, get_replica
from witness.storage.pipeline import store_file
from witness.testing import factories as f


def store(tmp: Path, name: str, data: bytes | None = None):
    path = tmp / name
    path.write_bytes(data if data is not None else os.urandom(3000))
    return store_file(path, get_backend(), actor="test").blob


class World:
    def __init__(self, site, tmp: Path, profile: str = "lushan-2019"):
        ns = site(profile)
        self.ns, self.agency, self.p = ns, ns.agency, ns.people
        self.tmp = tmp
        self.officer = self.p["officer"]
        self.custodian = self.p["custodian"]
        self.principal = self.p["leader"]  # make_agency makes the leader principal leader
        self.in_charge = f.PersonFactory(unit=ns.office, roles=[Role.LEADER])
        self.in_charge.user = f.UserFactory(username=f"in-charge-{ns.agency.code}",
                                            password=f.PASSWORD)
        self.in_charge.save(update_fields=["user"])
        self.case = f.CaseFactory(agency=ns.agency, leader_in_charge=self.in_charge)
        self.act = f.ActivityFactory(unit=ns.field, case=self.case)
        self.loose = f.ActivityFactory(unit=ns.field)  # in no case
        for a in (self.act, self.loose):
            f.ActivityOfficerFactory(activity=a, person=self.officer, is_recorder=True)
        self.device = f.DeviceFactory(unit=ns.field)
        self.rec = self.recording(self.act, "a.mp4")
        self.rec2 = self.recording(self.act, "b.mp4")
        self.loose_rec = self.recording(self.loose, "c.mp4")
        poster = store(tmp, "poster.jpg")
        self.derivative = Derivative.objects.create(recording=self.rec, kind=Kind.POSTER,
                                                    blob=poster, status=Status.DONE)
        if get_replica() is not None:
            for blob in (self.rec.blob, poster):
                replica.replicate(blob, actor="test")

    def recording(self, activity, name):
        return f.RecordingFactory(blob=store(self.tmp, name), device=self.device,
                                  activity=activity, holder=self.officer,
                                  attribution=Attribution.ATTRIBUTED)

    def subject(self, person):
        user = person.user
        user.refresh_from_db()
        return authz.subject_of(type(user).objects.get(pk=user.pk))

    def use_profile_approver(self, approver: str) -> None:
        """A profile variant with ``viewing.label_approver = approver`` put in force (the
        way an agency edits its profile: ``profile new`` + edit + ``profile apply``)."""
        path = profiles.new(f"labels-{approver.replace('_', '-')}", "lushan-2019")
        text = path.read_text(encoding="utf-8")
        assert 'label_approver = "principal_leader"' in text
        path.write_text(text.replace('label_approver = "principal_leader"',
                                     f'label_approver = "{approver}"'), encoding="utf-8")
        profiles.apply(self.agency, path.stem, actor="test")
        _v, profile = profiles.active(self.agency)
        assert profile.viewing_label_approver == approver


@pytest.fixture
def stores(settings, tmp_path):
    settings.WITNESS_STORAGE = f"file://{tmp_path / 'store'}"
    settings.WITNESS_REPLICA = f"file://{tmp_path / 'replica'}"
    settings.WITNESS_PROFILE_DIR = str(tmp_path / "profiles")
    (tmp_path / "src").mkdir()
    return tmp_path


@pytest.fixture
def world(site, stores):
    return World(site, stores / "src")
