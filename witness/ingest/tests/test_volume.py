"""Scanning a mounted device volume (issue 3 item 2, ING-1) and reading the device's identity
and clock files (DEV-3 attribution, DEV-4 clock drift)."""

import os
from datetime import datetime
from pathlib import Path

import pytest

from witness.core.errors import WitnessError
from witness.ingest.volume import (
    MAX_INFO_BYTES,
    DeviceClock,
    Skipped,
    SkipReason,
    VolumeFile,
    VolumeIdentity,
    media_kind,
    read_clock,
    read_identity,
    scan,
)

GBK_NAME = b"\xb2\xe2\xca\xd4.mp4"  # 测试.mp4 in GBK: not valid UTF-8


def _write(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def volume(tmp_path):
    """A body-camera volume with everything a scanner must cope with."""
    root = tmp_path / "cam"
    outside = _write(tmp_path / "outside" / "secret.mp4", b"not on the volume")
    _write(root / "DCIM" / "100MEDIA" / "DSJ_123_20261120093005_0001.MP4", b"v" * 10)
    _write(root / "DCIM" / "100MEDIA" / "DSJ_123_20261120094005_0002.mov", b"v" * 20)
    _write(root / "DCIM" / "100MEDIA" / "thumbs.db", b"t")
    _write(root / "AUDIO" / "rec.AmR", b"a")
    _write(root / "AUDIO" / "录音.wav", b"a" * 3)
    _write(root / "PHOTO" / "现场照片.HEIC", b"p")
    _write(root / "PHOTO" / "empty.jpg", b"")
    _write(root / "DEVICE.TXT", b"SERIAL=DSJ-V9-0001\n")
    (root / "PHOTO" / "outside.mp4").symlink_to(outside)
    (root / "DCIM" / "loop").symlink_to(root / "DCIM")
    (root / "up").symlink_to("..")
    os.mkfifo(root / "AUDIO" / "pipe.wav")
    (root / "empty-dir").mkdir()
    with open(os.fsencode(root) + b"/" + GBK_NAME, "wb") as fh:
        fh.write(b"g" * 4)
    return root


def test_scan_finds_media_and_reports_every_skip(volume):
    entries = list(scan(volume))
    found = {e.raw_relative: e for e in entries if isinstance(e, VolumeFile)}
    skipped = {e.raw_relative: e.reason for e in entries if isinstance(e, Skipped)}
    assert set(found) == {
        b"DCIM/100MEDIA/DSJ_123_20261120093005_0001.MP4",
        b"DCIM/100MEDIA/DSJ_123_20261120094005_0002.mov",
        b"AUDIO/rec.AmR",
        "AUDIO/录音.wav".encode(),
        "PHOTO/现场照片.HEIC".encode(),
        b"PHOTO/empty.jpg",
        GBK_NAME,
    }
    assert skipped == {
        b"DCIM/100MEDIA/thumbs.db": SkipReason.NOT_MEDIA,
        b"DEVICE.TXT": SkipReason.NOT_MEDIA,
        b"PHOTO/outside.mp4": SkipReason.SYMLINK,
        b"DCIM/loop": SkipReason.SYMLINK,
        b"up": SkipReason.SYMLINK,
        b"AUDIO/pipe.wav": SkipReason.SPECIAL_FILE,
    }
    assert b"secret.mp4" not in b"".join(e.raw_relative for e in entries)
    assert [f.kind for f in sorted(found.values(), key=lambda f: f.raw_relative)] == [
        "audio", "audio", "video", "video", "photo", "photo", "video"]


def test_sorted_by_relative_path_bytes_and_repeatable(volume):
    _write(volume / "a" / "b.mp4")
    _write(volume / "a.mp4")
    _write(volume / "a0.mp4")
    _write(volume / "a-.mp4")
    order = [e.raw_relative for e in scan(volume)]
    assert order == sorted(order)
    assert order.index(b"a-.mp4") < order.index(b"a.mp4") < order.index(b"a/b.mp4") \
        < order.index(b"a0.mp4")
    assert order == [e.raw_relative for e in scan(volume)]


def test_names_kept_exactly(volume):
    files = {e.raw_name: e for e in scan(volume) if isinstance(e, VolumeFile)}
    gbk = files[GBK_NAME]
    assert os.fsencode(gbk.path) == os.fsencode(volume) + b"/" + GBK_NAME
    assert gbk.path.read_bytes() == b"gggg"  # the decoded path opens the very file
    assert gbk.display == "\\xb2\\xe2\\xca\\xd4.mp4"
    chinese = files["录音.wav".encode()]
    assert chinese.path == volume / "AUDIO" / "录音.wav"
    assert chinese.display == "AUDIO/录音.wav"


def test_size_and_mtime_from_lstat(volume):
    target = volume / "DCIM" / "100MEDIA" / "DSJ_123_20261120093005_0001.MP4"
    os.utime(target, ns=(1_700_000_000_123_456_789, 1_700_000_000_987_654_321))
    files = {e.path: e for e in scan(volume) if isinstance(e, VolumeFile)}
    assert (files[target].size, files[target].mtime_ns) == (10, 1_700_000_000_987_654_321)
    assert files[volume / "PHOTO" / "empty.jpg"].size == 0  # zero-byte: found, stored later


def test_root_may_be_a_link_but_nothing_below_is_followed(volume, tmp_path):
    link = tmp_path / "mnt"
    link.symlink_to(volume)
    assert [e.raw_relative for e in scan(link)] == [e.raw_relative for e in scan(volume)]


def test_missing_or_non_directory_root_refused(tmp_path):
    for root in (tmp_path / "gone", _write(tmp_path / "file.mp4")):
        with pytest.raises(WitnessError) as err:
            scan(root)
        assert err.value.code == "volume_unreadable"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every directory")
def test_unreadable_directory_skipped(volume):
    locked = volume / "LOCKED"
    _write(locked / "x.mp4")
    locked.chmod(0)
    try:
        skipped = {e.raw_relative: e for e in scan(volume) if isinstance(e, Skipped)}
    finally:
        locked.chmod(0o755)
    assert skipped[b"LOCKED"].reason == SkipReason.UNREADABLE_DIRECTORY
    assert skipped[b"LOCKED"].detail


def test_directory_swapped_for_a_link_during_the_walk_is_not_followed(tmp_path):
    """The race: listed as a directory, replaced by a link before the walk enters it."""
    volume = tmp_path / "vol"
    _write(volume / "a.mp4")
    _write(volume / "b" / "inside.mp4")
    _write(tmp_path / "outside" / "secret.mp4")
    walk = scan(volume)
    assert next(walk).raw_relative == b"a.mp4"  # the root listing is taken by now
    (volume / "b").rename(tmp_path / "moved")
    (volume / "b").symlink_to(tmp_path / "outside")
    rest = list(walk)
    assert [(e.raw_relative, e.reason) for e in rest] == [
        (b"b", SkipReason.UNREADABLE_DIRECTORY)]
    assert rest[0].detail


def _open_fds():
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_no_descriptor_left_open(volume):
    before = _open_fds()
    list(scan(volume))
    walk = scan(volume / "DCIM")
    next(walk)  # inside DCIM/100MEDIA: two directories open
    walk.close()
    scan(volume)  # never iterated
    assert _open_fds() == before


def test_skip_reasons_are_translated():
    from django.utils import translation

    with translation.override("en"):
        assert str(SkipReason.SPECIAL_FILE.label) == "special file"


def test_media_kind():
    assert media_kind("A.Mp4") == "video"
    assert media_kind(b"x.M4A") == "audio"
    assert media_kind("x.jpeg") == "photo"
    assert media_kind(".mp4") is None  # a hidden file with no extension
    assert media_kind("mp4") is None
    assert media_kind(b"x.\xff") is None


# --- identity and clock files ----------------------------------------------------------------

def test_identity_english_keys(tmp_path):
    source = _write(tmp_path / "DEVICE.TXT",
                    b"# written by the camera\nSERIAL=DSJ-V9-0001\nMODEL = DSJ-V9\n"
                    b"BADGE=41042319001\nFIRMWARE=1.2\n")
    assert read_identity(tmp_path) == VolumeIdentity("DSJ-V9-0001", "DSJ-V9", "41042319001",
                                                     source)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "utf-16"])
def test_identity_chinese_keys(tmp_path, encoding):
    text = "[设备信息]\r\n序列号：DSJ-V9-0002\r\n型号=执法记录仪 V9\r\n执法证号=41042319002\r\n"
    _write(tmp_path / "devinfo.txt", text.encode(encoding))
    identity = read_identity(tmp_path)
    assert (identity.serial, identity.model, identity.badge) == (
        "DSJ-V9-0002", "执法记录仪 V9", "41042319002")


def test_identity_police_number_key_and_ini(tmp_path):
    _write(tmp_path / "device.ini", '[device]\nsn="A1"\n警号=012345\n'.encode())
    assert read_identity(tmp_path) == VolumeIdentity("A1", "", "012345", tmp_path / "device.ini")


def test_identity_file_preference_and_fallback(tmp_path):
    _write(tmp_path / "DEVINFO.TXT", b"SERIAL=SECOND\n")
    _write(tmp_path / "device.txt", b"MODEL=no serial here\n")
    assert read_identity(tmp_path).serial == "SECOND"  # device.txt names no serial
    _write(tmp_path / "device.txt", b"SERIAL=FIRST\n")
    assert read_identity(tmp_path).serial == "FIRST"


@pytest.mark.parametrize("content", [
    b"", b"\x00\x01\x02\xff\xfe\x00garbage", b"SERIAL=\n", b"SERIAL=" + b"9" * 101 + b"\n",
    b"SERIAL=bad\x07value\n", b"=DSJ\n", b"\xff" * 20, b"SERIAL=A" + b"\n" * MAX_INFO_BYTES,
])
def test_broken_identity_file_gives_none(tmp_path, content):
    _write(tmp_path / "DEVICE.TXT", content)
    assert read_identity(tmp_path) is None


def test_identity_file_never_read_through_a_link_or_fifo(tmp_path):
    outside = _write(tmp_path / "elsewhere.txt", b"SERIAL=STOLEN\n")
    volume = tmp_path / "vol"
    volume.mkdir()
    (volume / "DEVICE.TXT").symlink_to(outside)
    os.mkfifo(volume / "DEVINFO.TXT")  # opened non-blocking: must not hang
    (volume / "device.ini").mkdir()
    assert read_identity(volume) is None
    assert read_identity(tmp_path / "missing") is None


def test_clock_file(tmp_path):
    source = _write(tmp_path / "TIME.TXT", b"\n2026-11-20 09:30:05\r\n")
    assert read_clock(tmp_path) == DeviceClock(datetime(2026, 11, 20, 9, 30, 5), source)
    _write(tmp_path / "TIME.TXT", b"2026/11/20T09:30:05")
    assert read_clock(tmp_path).device_time == datetime(2026, 11, 20, 9, 30, 5)


@pytest.mark.parametrize("content", [
    b"", b"2026-13-20 09:30:05", b"2026-11-20 09:30", b"yesterday", b"2026-11-20 25:00:00",
    b"\xff\xfe\x00\xd8", b"2026-11-20 09:30:05 extra",
])
def test_broken_clock_file_gives_none(tmp_path, content):
    _write(tmp_path / "time.txt", content)
    assert read_clock(tmp_path) is None
    assert read_clock(tmp_path / "missing") is None


def test_scanned_files_carry_their_identity_for_the_store(tmp_path):
    """ING-4: store_file(expect=file.identity) can refuse a file swapped after the scan."""
    (tmp_path / "DCIM").mkdir()
    (tmp_path / "DCIM" / "a.mp4").write_bytes(b"x")
    found = [e for e in scan(tmp_path) if isinstance(e, VolumeFile)]
    seen = os.lstat(tmp_path / "DCIM" / "a.mp4")
    assert [f.identity for f in found] == [(seen.st_dev, seen.st_ino)]
