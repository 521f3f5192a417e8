"""What a rule is, and what it sees (issue 6 item 1).

A rule is evaluated **set-based**: ``evaluate(ctx, profile, window)`` returns the rows that
break it, computed by the database (joins, aggregates, window functions), never a Python loop
over every activity or recording. The engine calls it once per profile period (the stretch
of time during which one profile version was in force for the agency), so a threshold always
comes from the version in force when the activity happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils.functional import Promise

from witness.findings.models import Severity
from witness.profiles.schema import Profile


@dataclass(frozen=True)
class Match:
    """One breach: the object it is about (of the rule's ``subject`` model), a key that tells
    several breaches of one rule on one object apart (e.g. two gaps), the details shown to
    people (JSON-able), and — where the data says — who is responsible and in which unit."""

    object_id: int
    key: str = ""
    details: dict = field(default_factory=dict)
    person_id: int | None = None
    unit_id: int | None = None
    at: datetime | None = None  # when it happened: the month dashboards count it in


@dataclass(frozen=True)
class Window:
    """The stretch [start, end) in which one profile version was in force; None = open."""

    start: datetime | None
    end: datetime | None

    def q(self, field_name: str) -> Q:
        q = Q()
        if self.start is not None:
            q &= Q(**{f"{field_name}__gte": self.start})
        if self.end is not None:
            q &= Q(**{f"{field_name}__lt": self.end})
        return q


@dataclass(frozen=True)
class Rule:
    """A rule of the regulations that data can decide.

    ``id``: stable name, used as ``Finding.rule_id`` (e.g. ``ACT-5.gap``).
    ``requirement``: the requirement ID of ../shared/REQUIREMENTS.md (e.g. ``ACT-5``).
    ``articles``: the articles of regulations A and B it comes from (e.g. ``B16``).
    ``subject``: the model the findings are about (``app_label.model``).
    ``evaluate(ctx, profile, window)``: the breaches among the subject rows whose time
    (``time_field`` of the subject) falls in ``window``, under ``profile``.
    ``touched(ctx)``: for an incremental check (``ctx.activity_ids`` set), the subject ids
    it may re-decide; None means the rule is only decided by a full check.
    ``notify``: called with the findings the run raised, inside the run's transaction (e.g.
    the department head is told of a gap at once, B16).
    """

    id: str
    requirement: str
    articles: str
    title: Promise | str
    subject: str
    evaluate: Callable[[Context, Profile, Window], Iterable[Match]]
    touched: Callable[[Context], QuerySet | None] | None = None
    severity: str = Severity.WARNING
    notify: Callable[[list], None] | None = None
    by_activity_time: bool = True  # False: evaluated once per run under the current profile


@dataclass
class Context:
    """What one run looks at: one agency, optionally only some activities (incremental)."""

    agency: object
    now: datetime
    activity_ids: frozenset[int] | None = None

    @property
    def incremental(self) -> bool:
        return self.activity_ids is not None

    def activities(self) -> QuerySet:
        from witness.activities.models import Activity
        qs = Activity.objects.filter(unit__agency=self.agency)
        if self.activity_ids is not None:
            qs = qs.filter(pk__in=self.activity_ids)
        return qs

    def recordings(self) -> QuerySet:
        """Recordings of the agency (by the device's unit, or the activity's unit)."""
        from witness.recordings.models import Recording
        if self.activity_ids is not None:  # the activities' own: an index lookup, no OR
            return Recording.objects.filter(activity_id__in=self.activity_ids,
                                            activity__unit__agency=self.agency)
        return Recording.objects.filter(Q(device__unit__agency=self.agency)
                                        | Q(activity__unit__agency=self.agency))
