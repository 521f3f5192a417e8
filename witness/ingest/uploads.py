"""Files uploaded through the web page (issue 3 item 6): photos and recorder files go
through the very pipeline of a docked volume (``Ingest``): the upload is laid out as a
small volume under ``WITNESS_HOME/uploads/`` (names kept exactly; a second file of the same
name in its own sub-folder), ingested for the chosen device — or as historical footage for
the uploader's agency's assignment queue — and the folder removed afterwards, stored or not
(the uploader still holds the original; a failed file is reported with its reason).

An uploaded file's modification time is the upload's, not the recording's: without a time
in its name or its metadata it gets no time and waits in the assignment queue. The folder
is named like a staging object (``host~pid~uuid``): a web worker killed mid-upload leaves
it behind, and the next upload removes it (at once for a dead process of this host, after
``STALE`` for any other), with Django's own temporary files of that age.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path, PurePosixPath, PureWindowsPath

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from witness.core.errors import WitnessError
from witness.recordings.models import IngestRun
from witness.storage.backends.base import orphaned, staging_token

from .services import Ingest
from .volume import media_kind

MAX_NAME_BYTES = 255
STALE = timedelta(hours=6)


def upload_root() -> Path:
    return Path(settings.FILE_UPLOAD_TEMP_DIR)


def file_name(raw: str) -> str:
    """The file's own name as the browser sent it: no folders, not empty, not ``.``/``..``,
    no control characters, at most 255 bytes."""
    name = PureWindowsPath(PurePosixPath(raw or "").name).name.strip()
    if (not name or name in (".", "..") or any(ord(c) < 32 for c in name)
            or len(os.fsencode(name)) > MAX_NAME_BYTES):
        raise WitnessError(_("The file name %(name)s cannot be used; rename the file and "
                             "upload it again."), code="bad_file_name", name=raw[:100])
    return name


def _place(upload: UploadedFile, target: Path) -> None:
    """The uploaded bytes at ``target``: a hard link to Django's temporary file (the same
    file system: FILE_UPLOAD_TEMP_DIR is the uploads folder), else a streamed copy."""
    temporary = getattr(upload, "temporary_file_path", None)
    if temporary is not None:
        try:
            os.link(temporary(), target)
            return
        except OSError:
            pass
    with open(target, "xb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())


def clean_leftovers() -> int:
    """Remove upload folders of dead or stale workers and old temporary upload files."""
    removed = 0
    cutoff = time.time() - STALE.total_seconds()
    try:
        entries = list(os.scandir(upload_root()))
    except FileNotFoundError:
        return 0
    for entry in entries:
        try:
            old = entry.stat(follow_symlinks=False).st_mtime < cutoff
            if entry.is_dir(follow_symlinks=False) and (orphaned(entry.name) or old):
                shutil.rmtree(entry.path)
            elif entry.name.endswith(".upload") and old:
                os.unlink(entry.path)
            else:
                continue
            removed += 1
        except OSError:
            continue
    return removed


def ingest_uploads(files: Iterable[UploadedFile], *, agency, device=None, actor=None,
                   user=None) -> IngestRun:
    files = list(files)
    if not files:
        raise WitnessError(_("Choose at least one file."), code="no_files")
    names = [file_name(f.name) for f in files]
    for name in names:  # media only: an identity or clock file must not name the device
        if media_kind(name) is None:
            raise WitnessError(_("%(name)s is not a video, audio or photo file; nothing was "
                                 "uploaded."), code="not_media", name=name)
    clean_leftovers()
    folder = upload_root() / staging_token()
    folder.mkdir(parents=True)
    try:
        seen: dict[str, int] = {}
        for upload, name in zip(files, names, strict=True):
            seen[name] = seen.get(name, 0) + 1
            place = folder if seen[name] == 1 else folder / str(seen[name])
            place.mkdir(exist_ok=True)
            _place(upload, place / name)
        label = _("web upload by %(user)s") % {"user": getattr(user, "username", "?")}
        return Ingest(folder, device_serial=device.serial if device else None,
                      backfill=device is None, actor=actor, user=user, agency=agency,
                      volume_label=str(label), file_times=False).run()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
