"""Profiles: find, load, version, apply, and look up the version in force at a moment.

Shipped profiles live in ``witness/profiles/builtin/``; an agency's own under
``WITNESS_HOME/profiles/``. Applying a profile stores an immutable snapshot of its
content (a new version whenever the content changed) and dates the activation, so an
activity is always judged under the version in force when it happened.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import tomllib
from bisect import bisect_right
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.audit import services as audit
from witness.core.errors import NotFound, WitnessError
from witness.org.models import Agency
from witness.profiles.models import ProfileActivation, ProfileVersion
from witness.profiles.schema import SLUG, Profile, ProfileError, parse

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"


def agency_dir() -> Path:
    return Path(settings.WITNESS_PROFILE_DIR)


def available() -> dict[str, Path]:
    """Profile name -> file, the agency's own first in line after the shipped ones."""
    found: dict[str, Path] = {}
    for folder in (BUILTIN_DIR, agency_dir()):
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                found.setdefault(path.stem, path)
    return found


def read_file(path: Path) -> tuple[Profile, dict]:
    source = path.name
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ProfileError(_("Cannot read profile file %(path)s: %(reason)s"),
                           path=str(path), reason=exc.strerror) from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(_("Profile %(source)s is not valid TOML: %(reason)s"),
                           source=source, reason=str(exc)) from None
    except UnicodeDecodeError:
        # e.g. saved as GBK by a Windows editor
        raise ProfileError(_("Profile %(source)s is not UTF-8 text; save it as UTF-8."),
                           source=source) from None
    profile = parse(data, source)
    if profile.name != path.stem:
        raise ProfileError(_("Profile %(source)s: field name must match the file name (%(stem)s)"),
                           source=source, stem=path.stem)
    return profile, data


def load(name: str) -> tuple[Profile, dict, Path]:
    path = available().get(name)
    if path is None:
        raise NotFound(_("No profile named %(name)s. Available: %(names)s"), name=name,
                       names=", ".join(available()) or "-")
    profile, data = read_file(path)
    return profile, data, path


def _digest(data: dict) -> str:
    return hashlib.sha256(
        json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    ).hexdigest()


@transaction.atomic
def store_version(name: str, *, actor=None) -> ProfileVersion:
    """Snapshot the profile file's current content; a new version only if it changed."""
    profile, data, path = load(name)
    digest = _digest(data)
    existing = ProfileVersion.objects.filter(name=name, sha256=digest).first()
    if existing:
        return existing
    latest = ProfileVersion.objects.filter(name=name).aggregate(n=Max("version"))["n"] or 0
    version = ProfileVersion.objects.create(
        name=name, version=latest + 1, title=profile.title, content=data, sha256=digest,
        source=str(path),
    )
    audit.append(actor, "profile.version", version,
                 details={"name": name, "version": version.version, "sha256": digest})
    return version


def _check_not_before_current(agency: Agency, effective_from: datetime) -> None:
    """An activation may not reach behind the one in force now: activities since then were
    judged under it, and back-dating would silently change their rules (ACT-1). The first
    activation of an agency may be dated as far back as its records go; one scheduled for
    later than now does not count, so an agency can still act before its scheduled change."""
    now = timezone.now()
    activations = ProfileActivation.objects.filter(agency=agency).select_related("version")
    current = (activations.filter(effective_from__lte=now)
               .order_by("-effective_from", "-id").first()
               # only scheduled ones: before the first, the first applies (version_in_force)
               or activations.order_by("effective_from", "id").first())
    if current is not None and effective_from < current.effective_from:
        since = timezone.localtime(current.effective_from).strftime("%Y-%m-%d %H:%M:%S")
        raise WitnessError(
            _("A profile cannot take effect on %(at)s: that is before %(since)s, when "
              "%(current)s took effect for %(agency)s, and what was recorded since then is "
              "judged under it. Choose a later time."),
            code="before_current_profile",
            at=timezone.localtime(effective_from).strftime("%Y-%m-%d %H:%M:%S"),
            current=str(current.version), agency=agency.name, since=since)


@transaction.atomic
def apply(agency: Agency, name: str, *, effective_from: datetime | None = None,
          actor=None) -> ProfileActivation:
    """Make ``name`` the agency's active profile from ``effective_from`` (default now).

    Refuses a date before the activation in force now (see
    :func:`_check_not_before_current`); a future date schedules the change."""
    effective_from = effective_from or timezone.now()
    # One activation at a time per agency, so two cannot both pass the check.
    Agency.objects.select_for_update().filter(pk=agency.pk).first()
    _check_not_before_current(agency, effective_from)
    version = store_version(name, actor=actor)
    previous = active_version(agency, required=False)
    activation = ProfileActivation.objects.create(
        agency=agency, version=version, effective_from=effective_from,
        activated_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit.append(actor, "profile.apply", agency,
                 details={"profile": name, "version": version.version,
                          "previous": str(previous) if previous else None,
                          "effective_from": activation.effective_from.isoformat()})
    return activation


def versions_in_force(agency: Agency) -> Callable[[datetime], ProfileVersion | None]:
    """``at -> version in force`` for many moments from one query: the latest activation at
    or before ``at``; before the first activation the first activated version applies
    (there was no other rule set in the system). None if the agency has none."""
    activations = list(ProfileActivation.objects.filter(agency=agency)
                       .select_related("version").order_by("effective_from", "id"))
    starts = [a.effective_from for a in activations]

    def at(moment: datetime) -> ProfileVersion | None:
        if not activations:
            return None
        return activations[max(bisect_right(starts, moment) - 1, 0)].version

    return at


def version_in_force(agency: Agency, at: datetime, *, required: bool = True):
    """The profile version in force for ``agency`` at ``at`` (see versions_in_force)."""
    version = versions_in_force(agency)(at)
    if version is None:
        if required:
            raise NotFound(_("Agency %(agency)s has no active profile. Apply one with "
                             "'witness profile apply NAME'."), agency=agency.name,
                           code="no_profile")
        return None
    return version


def active_version(agency: Agency, *, required: bool = True):
    return version_in_force(agency, timezone.now(), required=required)


@lru_cache(maxsize=64)
def _parsed(version_id: int, sha256: str, content_json: str) -> Profile:
    return parse(json.loads(content_json), f"#{version_id}")


def profile_of(version: ProfileVersion) -> Profile:
    return _parsed(version.pk, version.sha256,
                   json.dumps(version.content, sort_keys=True, ensure_ascii=False))


def in_force(agency: Agency, at: datetime) -> tuple[ProfileVersion, Profile]:
    version = version_in_force(agency, at)
    return version, profile_of(version)


def active(agency: Agency) -> tuple[ProfileVersion, Profile]:
    return in_force(agency, timezone.now())


# The top-level ``name = "…"`` line (spaces around '=' optional); top-level keys come
# before the first table, so only that part of the file is searched.
_NAME_LINE = re.compile(r'^[ \t]*name[ \t]*=.*$', re.MULTILINE)
_FIRST_TABLE = re.compile(r"^[ \t]*\[", re.MULTILINE)


def _renamed(text: str, name: str) -> str:
    table = _FIRST_TABLE.search(text)
    head_end = table.start() if table else len(text)
    line = _NAME_LINE.search(text, 0, head_end)
    if line is None:
        return text  # the copy then fails validation: its name differs from the file's
    return f'{text[:line.start()]}name = "{name}"{text[line.end():]}'


def new(name: str, base: str) -> Path:
    """Copy profile ``base`` into the agency's folder as ``name`` for editing.

    The copy is written and validated in a private folder beside the target and only
    then linked into place, so a failed copy leaves nothing behind and an existing file
    is never overwritten."""
    if not SLUG.match(name):
        raise WitnessError(
            _("A profile name uses lower-case letters, digits, '_' or '-': %(name)s"),
            code="bad_name", name=name)
    if name in available():
        raise WitnessError(_("A profile named %(name)s already exists."), code="exists", name=name)
    _profile, _data, path = load(base)
    target = agency_dir() / f"{name}.toml"
    target.parent.mkdir(parents=True, exist_ok=True)
    text = _renamed(path.read_text(encoding="utf-8"), name)
    text = f"# Based on {base}. Edit, then 'witness profile apply {name}'.\n" + text
    with tempfile.TemporaryDirectory(prefix=".new-", dir=target.parent) as folder:
        draft = Path(folder) / target.name
        draft.write_text(text, encoding="utf-8")
        read_file(draft)  # the copy must still be valid
        _place(draft, target, name)
    return target


def _place(draft: Path, target: Path, name: str) -> None:
    """Put ``draft`` at ``target`` unless something is already there."""
    try:
        os.link(draft, target)
        return
    except FileExistsError:
        raise WitnessError(_("A profile named %(name)s already exists."), code="exists",
                           name=name) from None
    except OSError:
        pass  # no hard links on this file system: create the file exclusively instead
    try:
        fh = target.open("x", encoding="utf-8")
    except FileExistsError:
        raise WitnessError(_("A profile named %(name)s already exists."), code="exists",
                           name=name) from None
    try:
        with fh:
            fh.write(draft.read_text(encoding="utf-8"))
    except BaseException:
        target.unlink(missing_ok=True)  # no half-written copy (e.g. the disk is full)
        raise
