"""The one authorisation module: every view, API operation, stream, download and command
asks it (issue 5 item 1; EVD-2, EVD-4, ING-3; GB/T 22239-2019 least privilege).

Three questions, in this order:

1. **Role** — :func:`witness.access.policy.may`: does any role the account holds now allow
   the action? (三员分立 is decided there.)
2. **Scope** — which objects: officers see the metadata of their own activities and of the
   recordings they made; unit heads those of the units they head; bureau leaders and the
   legal and supervision role the whole agency; custodians the recordings of the agency
   (they dock, assign and register them) but no activity pages.
3. **Grant** — a recording's *content* (play, download) needs a grant in force for exactly
   that recording, whoever asks, the uploader and the holder included, unless the profile
   in force lists the case in ``viewing.without_grant`` (default: nothing). A recording
   whose content was handed off as a state secret has no content here to give.

A refusal raises :class:`Denied` (Django's PermissionDenied, so a view answers 403 and the
API 403) carrying a bilingual reason; refusals of content are written to the audit log as
``denied`` entries by the caller that knows the request (the stream, the API).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.access import policy
from witness.access.labels import Label
from witness.access.models import Grant, active_grants
from witness.core.errors import WitnessError
from witness.org import services as org
from witness.org.models import Role, RoleAssignment

# Cases the profile may open without a grant (viewing.without_grant).
HOLDER_PLAY = "holder_play"
HOLDER_DOWNLOAD = "holder_download"


class Denied(PermissionDenied):
    """Refused, with the reason in Chinese and English (``zh``, ``en``) and a code."""

    def __init__(self, message=None, *, code: str = "denied", **params):
        self.error = WitnessError(message or _("You are not allowed to do this."), code=code,
                                  **params)
        self.code = code
        super().__init__(self.error.en)

    @property
    def zh(self) -> str:
        return self.error.zh

    @property
    def en(self) -> str:
        return self.error.en

    def as_dict(self) -> dict:
        return self.error.as_dict()


@dataclass
class Subject:
    """Who is asking: the account, its person record, its roles now, and its agency."""

    user: object
    person: object | None
    roles: frozenset[str]
    agency: object | None
    _head_units: set[int] | None = field(default=None, repr=False)

    def may(self, action: str) -> bool:
        return policy.may(self.roles, action)

    @property
    def agency_wide(self) -> bool:
        """Leaders and the legal and supervision role see the whole agency's metadata."""
        return bool(self.roles & {Role.LEADER, Role.LEGAL})

    @property
    def head_units(self) -> set[int]:
        """The units this person heads: a unit-head assignment's unit, else their own."""
        if self._head_units is None:
            units: set[int] = set()
            if self.person is not None and Role.UNIT_HEAD in self.roles:
                for unit_id in (RoleAssignment.objects
                                .filter(org.active_q(timezone.now()), person=self.person,
                                        role=Role.UNIT_HEAD)
                                .order_by().values_list("unit_id", flat=True)):
                    units.add(unit_id if unit_id is not None else self.person.unit_id)
            self._head_units = units
        return self._head_units


def _person_of(user):
    try:
        return user.person
    except (ObjectDoesNotExist, AttributeError):
        return None


def subject_of(user) -> Subject:
    """The subject for ``user``, computed once per request (kept on the user object)."""
    cached = getattr(user, "_witness_subject", None)
    if cached is not None:
        return cached
    person = _person_of(user) if getattr(user, "is_authenticated", False) else None
    roles = org.current_roles_of_user(user)
    agency = person.agency if person is not None else None
    if agency is None and getattr(user, "is_authenticated", False):
        agency = org.default_agency_or_none()
    subject = Subject(user=user, person=person, roles=roles, agency=agency)
    if getattr(user, "is_authenticated", False):
        user._witness_subject = subject
    return subject


def require(subject: Subject, action: str) -> None:
    """Role check only: raise Denied unless a role the subject holds allows ``action``."""
    if not subject.may(action):
        raise Denied(_("Your role does not allow this (%(action)s)."), code="role",
                     action=action)


# --- scope -------------------------------------------------------------------------------

def activities_q(subject: Subject, prefix: str = "") -> Q:
    """The activities whose metadata ``subject`` may see, as a Q on Activity (or, with
    ``prefix`` such as ``"activity__"``, on a model that points to one)."""
    if not subject.may("activity.view") or subject.agency is None:
        return Q(pk__in=[])
    q = Q(**{f"{prefix}agency": subject.agency})
    if subject.agency_wide:
        return q
    mine = Q(pk__in=[])
    if subject.person is not None:
        # subqueries, not joins: no duplicate rows (no DISTINCT over a million rows), and
        # PostgreSQL can plan each branch on its own index (issue 8 search at 1M rows)
        mine = Q(**{f"{prefix}id__in": _officer_activity_ids(subject.person)})
        if subject.head_units:
            mine |= Q(**{f"{prefix}unit__in": subject.head_units})
    return q & mine


def _officer_activity_ids(person):
    from witness.activities.models import ActivityOfficer

    return ActivityOfficer.objects.filter(person=person).values("activity_id")


def visible_activities(subject: Subject, qs: QuerySet | None = None) -> QuerySet:
    from witness.activities.models import Activity

    qs = Activity.objects.all() if qs is None else qs
    return qs.filter(activities_q(subject))  # no joins to multiply rows: no DISTINCT


def visible_cases(subject: Subject, qs: QuerySet | None = None) -> QuerySet:
    from witness.activities.models import Case

    qs = Case.objects.all() if qs is None else qs
    if not subject.may("case.view") or subject.agency is None:
        return qs.none()
    return qs.filter(agency=subject.agency)


def recordings_q(subject: Subject) -> Q:
    """The recordings whose metadata ``subject`` may see."""
    if not subject.may("recording.view") or subject.agency is None:
        return Q(pk__in=[])
    q = Q(ingest_run__agency=subject.agency)
    if subject.agency_wide or Role.CUSTODIAN in subject.roles:
        return q
    mine = Q(pk__in=[])
    if subject.person is not None:
        from witness.activities.models import Activity
        from witness.org.models import Person

        mine = (Q(holder=subject.person)
                | Q(activity_id__in=_officer_activity_ids(subject.person)))
        if subject.head_units:
            units = list(subject.head_units)
            mine |= Q(activity_id__in=Activity.objects.filter(unit__in=units).values("pk"))
            mine |= Q(activity__isnull=True,
                      holder_id__in=Person.objects.filter(unit__in=units).values("pk"))
    return q & mine


def visible_recordings(subject: Subject, qs: QuerySet | None = None) -> QuerySet:
    from witness.recordings.models import Recording

    qs = Recording.objects.all() if qs is None else qs
    return qs.filter(recordings_q(subject))  # subqueries, no joins to multiply rows


def agency_findings_q(agency) -> Q:
    """The findings of ``agency``: its units', else its people's, else those about the
    agency itself (SUP-1) or a stored original of one of its recordings (fixity, export)."""
    from witness.recordings.models import Recording

    own_subject = (Q(content_type__app_label="org", content_type__model="agency",
                     object_id=agency.pk)
                   | Q(content_type__app_label="storage", content_type__model="blob",
                       object_id__in=Recording.objects.filter(
                           ingest_run__agency=agency).values("blob_id")))
    return (Q(unit__agency=agency) | Q(unit__isnull=True, responsible__agency=agency)
            | (Q(unit__isnull=True, responsible__isnull=True) & own_subject))


def findings_q(subject: Subject) -> Q:
    """The findings ``subject`` may see (issue 6 item 2; SUP-2): leaders and the legal role
    the agency's; unit heads those of the units they head; everyone their own — those they
    are responsible for, those on activities they were an officer of, and those of their
    unit with no person responsible (anyone of the unit may explain those). A finding's
    agency is its unit's, else its responsible person's; one with neither belongs to an
    agency when it is about the agency itself (SUP-1) or about a stored original of one of
    the agency's recordings (fixity, export), and is shown to that agency's wide roles."""
    if not subject.may("finding.view") or subject.agency is None:
        return Q(pk__in=[])
    q = agency_findings_q(subject.agency)
    if subject.agency_wide:
        return q
    if subject.person is None:
        return Q(pk__in=[])
    from witness.activities.models import ActivityOfficer

    person = subject.person
    mine = (Q(responsible=person)
            | Q(content_type__app_label="activities", content_type__model="activity",
                object_id__in=ActivityOfficer.objects.filter(person=person)
                .values("activity_id"))
            | Q(responsible__isnull=True, unit_id=person.unit_id))
    if subject.head_units:
        mine |= Q(unit__in=subject.head_units)
    return q & mine


def visible_findings(subject: Subject, qs: QuerySet | None = None) -> QuerySet:
    from witness.findings.models import Finding

    qs = Finding.objects.all() if qs is None else qs
    return qs.filter(findings_q(subject))


def can_see_recording(subject: Subject, recording) -> bool:
    from witness.recordings.models import Recording

    return Recording.objects.filter(recordings_q(subject), pk=recording.pk).exists()


def can_see_activity(subject: Subject, activity) -> bool:
    from witness.activities.models import Activity

    return Activity.objects.filter(activities_q(subject), pk=activity.pk).exists()


# --- content -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Allowance:
    """Why content may be given: a grant, or the profile's ``viewing.without_grant``."""

    grant: Grant | None
    rule: str = ""


def _profile_allows(subject: Subject, recording, download: bool) -> str:
    from witness.profiles import services as profiles

    if subject.person is None or recording.holder_id != subject.person.pk:
        return ""
    version = profiles.active_version(subject.agency, required=False) \
        if subject.agency is not None else None
    if version is None:
        return ""
    allowed = profiles.profile_of(version).viewing_without_grant
    needed = HOLDER_DOWNLOAD if download else HOLDER_PLAY
    return needed if needed in allowed else ""


def content_allowance(subject: Subject, recording, *, download: bool = False,
                      at=None) -> Allowance:
    """Why ``subject`` may play (or download) ``recording`` now; raises Denied if not."""
    action = "recording.download" if download else "recording.play"
    require(subject, action)
    if recording.label == Label.STATE_SECRET:
        raise Denied(_("This recording is marked as a state secret; its content is not "
                       "given out on this system."), code="state_secret")
    if subject.person is None or subject.agency is None:
        raise Denied(_("Your account is not linked to a person of the agency."),
                     code="no_person")
    if recording.ingest_run_id is not None and recording.ingest_run.agency_id != \
            subject.agency.pk:
        raise Denied(_("This recording belongs to another agency."), code="other_agency")
    grants = active_grants(at).filter(person=subject.person, recording=recording)
    if download:
        grants = grants.filter(may_download=True)
    grant = grants.order_by("-valid_until").first()
    if grant is not None:
        return Allowance(grant=grant)
    rule = _profile_allows(subject, recording, download)
    if rule:
        return Allowance(grant=None, rule=rule)
    if download:
        raise Denied(_("Downloading this recording needs an approved grant that allows "
                       "downloads (查阅审批)."), code="no_grant")
    raise Denied(_("Playing this recording needs an approved viewing grant (查阅审批)."),
                 code="no_grant")


def authorize(user, action: str, obj=None) -> Subject:
    """The one entry point: role, then scope or grant for ``obj``; returns the subject,
    raises Denied. Views, the API, streams and commands call this."""
    subject = user if isinstance(user, Subject) else subject_of(user)
    require(subject, action)
    if obj is None:
        return subject
    if action in ("recording.play", "recording.download"):
        content_allowance(subject, obj, download=action == "recording.download")
    elif action.startswith("recording.") and not can_see_recording(subject, obj):
        raise Denied(_("This recording is outside what you may see."), code="scope")
    elif action.startswith("activity.") and not can_see_activity(subject, obj):
        raise Denied(_("This activity is outside what you may see."), code="scope")
    return subject
