"""ISO 9660 images with xorriso, read back with standard tools, and written to optical drives
(issue 7 item 4; RET-2, A16, EVD-1).

``build_image`` maps a folder into an image (Joliet and Rock Ridge; ISO level 3, so a file
over 4 GiB is stored in several extents) that xorriso writes to a pipe; the image is
streamed into a new file (``LocalStaging``: O_EXCL, fsynced) while its SHA-256 is computed
in the same pass (``storage.pipeline.fan_copy``): memory flat in the image's size.

``read_back`` checks an image with Debian's standard readers: the files the image holds
(xorriso's ``report_lba``: Rock Ridge names, sizes and extents) must be exactly those
expected, and every file, read out with ``isoinfo -R -x`` (or, over 4 GiB, which isoinfo
cannot read, from the extents xorriso reports), must have every expected digest.

``burn`` writes an image to a drive with ``xorriso -as cdrecord`` and reads the written
blocks back from the device; ``stdio:/path`` is xorriso's file-backed pseudo-drive.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from witness.core.errors import WitnessError
from witness.storage.backends.base import CHUNK
from witness.storage.backends.local import LocalStaging
from witness.storage.pipeline import fan_copy

XORRISO = "xorriso"
ISOINFO = "isoinfo"
ISOINFO_LIMIT = 4 * 1024**3 - 1  # isoinfo reads single-extent files only
SECTOR = 2048

Progress = Callable[[int], None] | None


class ImageError(WitnessError):
    code = "image_error"


def _tail(path: Path) -> str:
    with open(path, "rb") as fh:
        fh.seek(max(0, os.fstat(fh.fileno()).st_size - 2000))
        return fh.read().decode(errors="replace").strip()


def _pipe_reader(fd: int):
    def read(buf: bytearray) -> int:
        view, n = memoryview(buf), 0
        while n < len(view):  # fill the buffer: a pipe hands out 64 KiB at a time
            got = os.readv(fd, [view[n:]])
            if not got:
                break
            n += got
        return n
    return read


def build_image(root: Path, target: Path, volume_id: str, *,
                progress: Progress = None) -> dict:
    """Write the ISO image of the folder ``root`` to the new file ``target``; returns its
    size and SHA-256, computed while it streamed."""
    command = [XORRISO, "-abort_on", "FAILURE", "-report_about", "WARNING",
               "-outdev", "-", "-volid", volume_id[:32], "-joliet", "on",
               "-rockridge", "on", "-compliance", "iso_9660_level=3:joliet_long_names",
               "-map", str(root), "/", "-commit"]
    with tempfile.TemporaryFile(prefix="xorriso-") as err:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err,
                                stdin=subprocess.DEVNULL)
        staging = LocalStaging(target)
        try:
            digests, size = fan_copy(_pipe_reader(proc.stdout.fileno()), staging,
                                     ("sha256",), CHUNK, progress)
            proc.stdout.close()
            rc = proc.wait()
            if rc != 0:
                err.seek(0, os.SEEK_END)
                err.seek(max(0, err.tell() - 2000))
                raise ImageError(_("xorriso could not make the image %(path)s (exit %(rc)s): "
                                   "%(reason)s"), code="xorriso_failed", path=str(target),
                                 rc=rc, reason=err.read().decode(errors="replace").strip())
            staging.close()  # fsync
        except BaseException:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            staging.abort()
            raise
    os.chmod(target, 0o444)
    return {"sha256": digests["sha256"], "size": size}


LBA = re.compile(r"^File data lba:\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*'(.*)'$")
# ``lsdl``: "-rw-r--r--    1 0        0               0 Dec  2 03:18 '/path'"
LSDL = re.compile(r"^-\S*\s+\d+\s+\S+\s+\S+\s+(\d+)\s+\S+\s+\d+\s+\S+\s+'(.*)'$")


def _unquote(text: str) -> str:
    return text.replace("'\"'\"'", "'")  # xorriso's shell quoting of a ' in a name


def extents(image: Path) -> dict[str, dict]:
    """Every file of ``image`` as xorriso reads it: Rock Ridge path (without the leading
    "/") -> size and extents (block, blocks)."""
    with tempfile.NamedTemporaryFile(prefix="xorriso-") as err:
        done = subprocess.run([XORRISO, "-abort_on", "FAILURE", "-indev", f"stdio:{image}",
                               "-find", "/", "-type", "f", "-exec", "report_lba", "--",
                               "-find", "/", "-type", "f", "-exec", "lsdl", "--"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        if done.returncode != 0:
            raise ImageError(_("xorriso cannot read the image %(path)s: %(reason)s"),
                             code="image_unreadable", path=str(image), reason=_tail(Path(err.name)))
    return parse_listing(done.stdout.decode("utf-8", "surrogateescape"))


def parse_listing(text: str) -> dict[str, dict]:
    """xorriso's ``report_lba`` lines give each file's extents; its ``lsdl`` lines list every
    file with its size. A 0-byte file has no data, and some xorriso versions print no
    ``report_lba`` line for it: such a file comes from the listing, with no extents — only
    when the listing says it is empty (a file with data but no extents stays absent, and
    read-back reports it missing)."""
    files: dict[str, dict] = {}
    listed: dict[str, int] = {}
    for line in text.splitlines():
        m = LBA.match(line.strip())
        if m:
            path = _unquote(m.group(5)).lstrip("/")
            entry = files.setdefault(path, {"size": int(m.group(4)), "extents": []})
            entry["extents"].append((int(m.group(1)), int(m.group(2)), int(m.group(3))))
            continue
        m = LSDL.match(line.strip())
        if m:
            listed[_unquote(m.group(2)).lstrip("/")] = int(m.group(1))
    for path, size in listed.items():
        if size == 0 and path not in files:
            files[path] = {"size": 0, "extents": []}
    for entry in files.values():
        entry["extents"].sort()
    return files


def _feed(fd: int, hashers: dict, limit: int | None = None) -> int:
    """Read ``fd`` (up to ``limit`` bytes) in chunks into every hasher; the bytes read."""
    view, size = memoryview(bytearray(CHUNK)), 0
    while limit is None or size < limit:
        n = os.readv(fd, [view if limit is None else view[:min(CHUNK, limit - size)]])
        if not n:
            break
        for h in hashers.values():
            h.update(view[:n])
        size += n
    return size


def hash_stream(fd: int, algorithms, limit: int | None = None) -> tuple[dict, int]:
    hashers = {a: hashlib.new(a) for a in algorithms}
    size = _feed(fd, hashers, limit)
    return {a: h.hexdigest() for a, h in hashers.items()}, size


def _isoinfo_digests(image: Path, path: str, algorithms) -> tuple[dict, int]:
    proc = subprocess.Popen([ISOINFO, "-i", str(image), "-R", "-x", "/" + path],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    try:
        found = hash_stream(proc.stdout.fileno(), algorithms)
    finally:
        proc.stdout.close()
        rc = proc.wait()
    if rc != 0:
        raise ImageError(_("isoinfo cannot read %(file)s from the image %(path)s."),
                         code="image_unreadable", file=path, path=str(image))
    return found


def _extent_digests(image: Path, entry: dict, algorithms) -> tuple[dict, int]:
    hashers = {a: hashlib.new(a) for a in algorithms}
    fd = os.open(image, os.O_RDONLY | os.O_CLOEXEC)
    size = 0
    try:
        for _xt, block, blocks in entry["extents"]:  # full blocks but the last
            os.lseek(fd, block * SECTOR, os.SEEK_SET)
            size += _feed(fd, hashers, min(blocks * SECTOR, entry["size"] - size))
    finally:
        os.close(fd)
    return {a: h.hexdigest() for a, h in hashers.items()}, size


def read_back(image: Path, expected: dict[str, dict[str, str]], *,
              progress: Progress = None) -> dict:
    """Check that ``image`` holds exactly the files of ``expected`` (path -> {algorithm:
    digest}) with those digests, reading them back with xorriso and isoinfo. Raises
    :class:`ImageError` naming the first difference."""
    files = extents(image)
    missing = sorted(set(expected) - set(files))
    extra = sorted(set(files) - set(expected))
    if missing or extra:
        raise ImageError(_("The image %(path)s does not hold the files of its manifest "
                           "(missing: %(missing)s; not listed: %(extra)s)."),
                         code="image_files_differ", path=str(image),
                         missing=", ".join(missing) or "—", extra=", ".join(extra) or "—")
    checked = 0
    for path in sorted(expected):
        want = expected[path]
        entry = files[path]
        if entry["size"] <= ISOINFO_LIMIT and len(entry["extents"]) <= 1:
            found, size = _isoinfo_digests(image, path, tuple(want))
        else:
            found, size = _extent_digests(image, entry, tuple(want))
        differ = sorted(a for a in want if found.get(a) != want[a])
        if differ or size != entry["size"]:
            raise ImageError(_("%(file)s read back from the image %(path)s does not match "
                               "its manifest (%(what)s)."), code="image_digest_mismatch",
                             file=path, path=str(image), what=", ".join(differ) or "size")
        checked += size
        if progress is not None:
            progress(size)
    return {"files": len(expected), "bytes": checked}


def sha256_of_file(path: Path, limit: int | None = None) -> tuple[str, int]:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        digests, size = hash_stream(fd, ("sha256",), limit)
    finally:
        os.close(fd)
    return digests["sha256"], size


def device_path(device: str) -> Path:
    """The file to read a written disc back from: the pseudo-drive's file or the device."""
    return Path(device[len("stdio:"):] if device.startswith("stdio:") else device)


def burn(image: Path, device: str, *, sha256: str) -> dict:
    """Write ``image`` to the drive ``device`` (``/dev/sr0``, or ``stdio:/path`` for
    xorriso's file-backed pseudo-drive) and read the written blocks back: their SHA-256
    must be the image's."""
    found, size = sha256_of_file(image)
    if found != sha256:
        raise ImageError(_("The image %(path)s is not the one preserved: its SHA-256 is "
                           "%(found)s, not %(expected)s."), code="image_changed",
                         path=str(image), found=found, expected=sha256)
    with tempfile.NamedTemporaryFile(prefix="xorriso-") as err:
        done = subprocess.run([XORRISO, "-as", "cdrecord", "-v", f"dev={device}", "-sao",
                               str(image)], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=err)
        if done.returncode != 0:
            raise ImageError(_("xorriso could not write %(path)s to %(device)s: %(reason)s"),
                             code="burn_failed", path=str(image), device=device,
                             reason=_tail(Path(err.name)))
    try:
        written, read = sha256_of_file(device_path(device), limit=size)
    except OSError as exc:
        raise ImageError(_("The disc in %(device)s cannot be read back: %(reason)s"),
                         code="readback_failed", device=device,
                         reason=exc.strerror or str(exc)) from exc
    if read != size or written != sha256:
        raise ImageError(_("The disc written in %(device)s does not read back as the image "
                           "(SHA-256 %(found)s, %(read)s bytes; expected %(expected)s, "
                           "%(size)s bytes)."), code="readback_mismatch", device=device,
                         found=written, read=read, expected=sha256, size=size)
    return {"device": device, "image": str(image), "sha256": sha256, "bytes": size}
