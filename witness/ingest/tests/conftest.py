"""A docked body camera: an agency, a device issued to an officer, an activity of that officer
covering the camera's recordings, and the volume the camera shows (made with ffmpeg)."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from witness.devices import services as devices
from witness.storage.backends.local import LocalBackend
from witness.testing import factories as f
from witness.testing.media import ffmpeg_available
from witness.testing.volumes import body_camera_volume


@pytest.fixture
def scene(make_agency, tmp_path):
    if not ffmpeg_available():
        pytest.fail("ffmpeg/ffprobe missing; `make install` installs them")
    ns = make_agency("lushan-2019")
    officer = ns.people["officer"]
    device = f.DeviceFactory(unit=ns.field, serial="DSJ-A9-0001")
    # A whole second in local time, two days ago: the device names files by the second.
    start = (timezone.localtime() - timedelta(days=2)).replace(hour=9, minute=30, second=5,
                                                                microsecond=0)
    naive = start.replace(tzinfo=None)
    devices.issue_device(device, officer, at=start - timedelta(hours=1),
                         no_check_reason="test", actor="test")
    activity = f.ActivityFactory(unit=ns.field, arrived_at=start - timedelta(minutes=5),
                                 departed_at=start + timedelta(minutes=10))
    f.ActivityOfficerFactory(activity=activity, person=officer, is_recorder=True)
    outside = tmp_path / "outside.mp4"
    outside.write_bytes(b"not on the volume")
    ns.officer, ns.device, ns.activity, ns.start = officer, device, activity, start
    ns.volume = body_camera_volume(tmp_path / "cam", device.serial, officer.badge_number or "B1",
                                   naive, outside=outside)
    ns.backend = LocalBackend(tmp_path / "store")
    return ns


def local(naive: datetime) -> datetime:
    return timezone.make_aware(naive)
