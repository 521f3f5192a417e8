"""Rules about review (issue 6): SUP-1, A17 — 每年应当至少组织一次音像记录资料评查.

``SUP-1.no_annual_review``: for each completed calendar year (local time) from the year of
the agency's first activity to last year, an annual review campaign (witness.review) must
have been approved and closed whose period covers some of that year — a campaign whose
period runs from 2025-06-01 to 2026-05-31 counts for both 2025 and 2026. One finding per
year without one, on the agency, key = the year. Decided by full checks only (no activity
makes a year reviewed), under the profile in force now.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Min
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import register
from .base import Context, Match, Rule, Window


def _no_annual_review(ctx: Context, profile, window: Window):
    from witness.activities.models import Activity
    from witness.review.models import Campaign, CampaignKind, CampaignStatus

    first = Activity.objects.filter(agency=ctx.agency).aggregate(first=Min("arrived_at"))[
        "first"]
    if first is None:
        return []
    tz = timezone.get_default_timezone()
    first_year = timezone.localtime(first, tz).year
    this_year = timezone.localtime(ctx.now, tz).year
    if first_year >= this_year:
        return []
    covered: set[int] = set()
    # one row per closed annual campaign overlapping the years in question (a handful)
    for start, end in (Campaign.objects.filter(
            agency=ctx.agency, kind=CampaignKind.ANNUAL, status=CampaignStatus.CLOSED,
            approved_at__isnull=False, period_to__year__gte=first_year,
            period_from__year__lt=this_year)
            .values_list("period_from", "period_to")):
        covered.update(range(start.year, end.year + 1))
    return [Match(object_id=ctx.agency.pk, key=str(year),
                  details={"year": year},
                  at=timezone.make_aware(datetime(year, 12, 31), tz))
            for year in range(first_year, this_year) if year not in covered]


NO_ANNUAL_REVIEW = register(Rule(
    id="SUP-1.no_annual_review",
    requirement="SUP-1",
    articles="A17",
    title=_("no annual review (评查) approved and closed for a calendar year"),
    subject="org.agency",
    evaluate=_no_annual_review,
    touched=None,
    by_activity_time=False,
))
