"""Rules about integrity (issue 6 item 1): fixity failures (ING-4).

``witness.storage.fixity`` raises a finding the moment a check fails (rule
``ING-4.fixity``, on the blob, keyed by the copy and what was read). This rule decides the
same findings from the ``FixityCheck`` rows, so that the engine resolves one once the
latest check of that copy is ok again (and reopens it if the copy fails the same way
later): the latest check of each copy of each blob that is not ok is a breach. The key is
computed by fixity's own function, so the two never raise the same failure twice.

Objects in a store that no blob names (``untracked``) are findings on the check row itself;
they are fixity's alone (there is no later check of the same row to resolve them).
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from witness.findings.models import Severity
from witness.storage import fixity
from witness.storage.models import FixityCheck, FixityResult

from . import register
from .base import Context, Match, Rule, Window


def finding_key(copy: str, result: str, sha256: str, details: dict) -> str:
    """The key fixity gives the finding of this check (``fixity._finding_key``)."""
    check = fixity.Check(copy=copy, store="", key="", result=result, blob=object(),
                         sha256=sha256 or "", details=details or {})
    return fixity._finding_key(check)


def fixity_failures(ctx: Context, profile, window: Window):
    later = FixityCheck.objects.filter(blob=OuterRef("blob"), copy=OuterRef("copy")).filter(
        Q(checked_at__gt=OuterRef("checked_at"))
        | Q(checked_at=OuterRef("checked_at"), pk__gt=OuterRef("pk")))
    rows = (FixityCheck.objects.filter(blob__isnull=False).exclude(result=FixityResult.OK)
            .filter(~Exists(later))
            .values_list("pk", "blob_id", "copy", "result", "sha256", "details",
                         "checked_at", "store", "mismatched"))
    return [Match(blob, key=finding_key(copy, result, sha256, details),
                  details={"check": pk, "copy": copy, "result": result, "store": store,
                           "mismatched": mismatched, "for_roles": fixity.FOR_ROLES},
                  at=at)
            for pk, blob, copy, result, sha256, details, at, store, mismatched in rows]


register(Rule(
    id=fixity.RULE, requirement="ING-4", articles="B16, B24, A18(2), B26(1)(5)",
    title=_("A stored original failed its fixity check"),
    subject="storage.blob", evaluate=fixity_failures, severity=Severity.SERIOUS,
    by_activity_time=False))
