"""A world for the retention tests (RET-1, RET-2): an agency whose people log in, a case, an
activity in it and one outside any case, and recordings whose originals are really stored
(with a replica where the test configures one, and a playback copy)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from witness.access import authz
from witness.derivatives.models import Derivative, Kind, Status
from witness.recordings.models import Attribution
from witness.storage import replica
from witness.storage.config import get_backend, get_replica
from witness.storage.pipeline import store_file
from witness.testing import factories as f

OLD = datetime(2022, 3, 10, 2, 0, tzinfo=UTC)  # long expired under A (24) and B (12 months)


def store(tmp: Path, name: str):
    path = tmp / name
    path.write_bytes(os.urandom(3000))
    return store_file(path, get_backend(), actor="test").blob


class World:
    def __init__(self, site, tmp: Path, profile: str):
        ns = site(profile)
        self.ns, self.agency, self.p = ns, ns.agency, ns.people
        self.tmp = tmp
        self.officer, self.custodian = self.p["officer"], self.p["custodian"]
        self.leader = self.p["leader"]  # the principal leader
        self.case = f.CaseFactory(agency=ns.agency, leader_in_charge=self.leader,
                                  retention_class="10y")
        self.act = f.ActivityFactory(unit=ns.field, case=self.case, arrived_at=OLD)
        self.loose = f.ActivityFactory(unit=ns.field, arrived_at=OLD)
        for a in (self.act, self.loose):
            f.ActivityOfficerFactory(activity=a, person=self.officer, is_recorder=True)
        self.device = f.DeviceFactory(unit=ns.field)

    def recording(self, activity=None, *, started_at=OLD, name=None, playback=False):
        name = name or f"r{os.urandom(4).hex()}.mp4"
        rec = f.RecordingFactory(blob=store(self.tmp, name), device=self.device,
                                 activity=activity, holder=self.officer,
                                 started_at=started_at,
                                 attribution=Attribution.ATTRIBUTED if activity else
                                 Attribution.QUEUED)
        blobs = [rec.blob]
        if playback:
            copy = store(self.tmp, f"play-{name}")
            Derivative.objects.create(recording=rec, kind=Kind.PLAYBACK, blob=copy,
                                      status=Status.DONE)
            blobs.append(copy)
        if get_replica() is not None:
            for blob in blobs:
                replica.replicate(blob, actor="test")
        return rec

    def subject(self, person):
        user = type(person.user).objects.get(pk=person.user.pk)
        return authz.subject_of(user)


@pytest.fixture
def stores(settings, tmp_path):
    settings.WITNESS_STORAGE = f"file://{tmp_path / 'store'}"
    settings.WITNESS_REPLICA = f"file://{tmp_path / 'replica'}"
    settings.WITNESS_PROFILE_DIR = str(tmp_path / "profiles")
    (tmp_path / "src").mkdir()
    return tmp_path


@pytest.fixture
def world(site, stores):
    return World(site, stores / "src", "lushan-2019")


@pytest.fixture
def world_b(site, stores):
    return World(site, stores / "src", "full-process-b")
