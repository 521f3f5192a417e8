"""Retention (RET-1), the approved purge, preservation holds (RET-2) and complaints (issue 7).

* :class:`RecordingRetention` — each recording's keep-until, derived by
  :mod:`witness.retention.keep` (set-based SQL) and never shortened automatically; every
  change is a :class:`RetentionChange` row of a :class:`RecomputeRun`, which is audited.
* :class:`Hold` — a preservation hold (A16) on a recording, an activity or a case.
* :class:`Complaint` — a complaint or petition (投诉/信访) against an activity; registering
  one proposes a hold (A16(1)).
* :class:`PurgeBatch` / :class:`PurgeItem` — proposed by the custodian, approved by the
  approver the profile names, executed by a task; the item's ``tombstone`` is what remains.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class RecomputeRun(models.Model):
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    actor_label = models.CharField(_("by"), max_length=200, blank=True)
    scope = models.CharField(_("scope"), max_length=200, blank=True)
    changed = models.PositiveIntegerField(_("keep-until dates extended"), default=0)

    class Meta:
        verbose_name = _("retention recomputation")
        verbose_name_plural = _("retention recomputations")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.started_at:%Y-%m-%d %H:%M}"


class Basis(models.TextChoices):
    PROFILE = "profile", _("retention period of the profile (A15, B21)")
    CASE = "case", _("retention class of the case (B21)")


class RecordingRetention(models.Model):
    """The stored, dated keep-until of one recording (the maximum ever computed)."""

    recording = models.OneToOneField("recordings.Recording", on_delete=models.PROTECT,
                                     primary_key=True, related_name="retention",
                                     verbose_name=_("recording"))
    keep_until = models.DateTimeField(_("keep until"), null=True, blank=True, db_index=True)
    basis = models.CharField(_("basis"), max_length=10, choices=Basis.choices, blank=True)
    profile_version = models.ForeignKey("profiles.ProfileVersion", on_delete=models.PROTECT,
                                        null=True, blank=True, related_name="+",
                                        verbose_name=_("profile version"))
    # Scratch columns of a recomputation (set-based): the newly derived value.
    candidate = models.DateTimeField(null=True, blank=True)
    candidate_basis = models.CharField(max_length=10, blank=True)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("retention of a recording")
        verbose_name_plural = _("retention of recordings")

    def __str__(self) -> str:
        return f"{self.recording_id} → {self.keep_until}"


class RetentionChange(models.Model):
    run = models.ForeignKey(RecomputeRun, on_delete=models.PROTECT, related_name="changes")
    recording = models.ForeignKey("recordings.Recording", on_delete=models.PROTECT,
                                  related_name="+")
    old_keep_until = models.DateTimeField(null=True, blank=True)
    new_keep_until = models.DateTimeField()
    basis = models.CharField(max_length=10, blank=True)

    class Meta:
        verbose_name = _("keep-until change")
        verbose_name_plural = _("keep-until changes")

    def __str__(self) -> str:
        return f"{self.recording_id}: {self.old_keep_until} → {self.new_keep_until}"


class HoldReason(models.TextChoices):
    """A16: when records are preserved long-term (刻录光盘等方式长期保存)."""

    DISPUTE = "dispute", _("the party disputes the enforcement and may complain or petition "
                           "(A16(1))")
    OBSTRUCTION = "obstruction", _("the party evaded, refused or obstructed the officers, or "
                                   "insulted or assaulted them (A16(2))")
    MAJOR = "major", _("another major or sensitive matter (A16(3))")


class HoldState(models.TextChoices):
    PROPOSED = "proposed", _("proposed")
    ACTIVE = "active", _("in force")
    REJECTED = "rejected", _("rejected")
    RELEASED = "released", _("released")


# A proposed hold protects already: a purge must not race its approval.
HOLDING = (HoldState.PROPOSED, HoldState.ACTIVE)


class ComplaintKind(models.TextChoices):
    COMPLAINT = "complaint", _("complaint (投诉)")
    PETITION = "petition", _("petition (信访)")


class Complaint(models.Model):
    agency = models.ForeignKey("org.Agency", on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("agency"))
    activity = models.ForeignKey("activities.Activity", on_delete=models.PROTECT,
                                 related_name="complaints", verbose_name=_("activity"))
    kind = models.CharField(_("kind"), max_length=10, choices=ComplaintKind.choices)
    complainant = models.CharField(_("complainant"), max_length=200)
    received_at = models.DateTimeField(_("received at"))
    summary = models.TextField(_("summary"))
    registered_by = models.ForeignKey("org.Person", on_delete=models.PROTECT, related_name="+",
                                      verbose_name=_("registered by"))
    registered_at = models.DateTimeField(_("registered at"), default=timezone.now)

    class Meta:
        verbose_name = _("complaint or petition")
        verbose_name_plural = _("complaints and petitions")
        ordering = ["-registered_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} {self.complainant}"


class Hold(models.Model):
    agency = models.ForeignKey("org.Agency", on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("agency"))
    recording = models.ForeignKey("recordings.Recording", on_delete=models.PROTECT, null=True,
                                  blank=True, related_name="holds",
                                  verbose_name=_("recording"))
    activity = models.ForeignKey("activities.Activity", on_delete=models.PROTECT, null=True,
                                 blank=True, related_name="holds", verbose_name=_("activity"))
    case = models.ForeignKey("activities.Case", on_delete=models.PROTECT, null=True,
                             blank=True, related_name="holds", verbose_name=_("case"))
    reason = models.CharField(_("reason"), max_length=12, choices=HoldReason.choices)
    note = models.TextField(_("note"), blank=True)
    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="holds", verbose_name=_("complaint"))
    state = models.CharField(_("state"), max_length=10, choices=HoldState.choices,
                             default=HoldState.PROPOSED, db_index=True)
    proposed_by = models.ForeignKey("org.Person", on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("proposed by"))
    proposed_at = models.DateTimeField(_("proposed at"), default=timezone.now)
    decided_by = models.ForeignKey("org.Person", on_delete=models.PROTECT, null=True,
                                   blank=True, related_name="+", verbose_name=_("decided by"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)
    released_by = models.ForeignKey("org.Person", on_delete=models.PROTECT, null=True,
                                    blank=True, related_name="+", verbose_name=_("released by"))
    released_at = models.DateTimeField(_("released at"), null=True, blank=True)

    class Meta:
        verbose_name = _("preservation hold")
        verbose_name_plural = _("preservation holds")
        ordering = ["-proposed_at", "-id"]
        constraints = [models.CheckConstraint(
            condition=(Q(recording__isnull=False, activity__isnull=True, case__isnull=True)
                       | Q(recording__isnull=True, activity__isnull=False, case__isnull=True)
                       | Q(recording__isnull=True, activity__isnull=True, case__isnull=False)),
            name="hold_on_exactly_one_object")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_reason_display()}"

    @property
    def target(self):
        return self.recording or self.activity or self.case


class BatchState(models.TextChoices):
    PROPOSED = "proposed", _("proposed")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")
    EXECUTING = "executing", _("being purged")
    EXECUTED = "executed", _("purged")


class PurgeBatch(models.Model):
    agency = models.ForeignKey("org.Agency", on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("agency"))
    state = models.CharField(_("state"), max_length=10, choices=BatchState.choices,
                             default=BatchState.PROPOSED, db_index=True)
    note = models.TextField(_("note"), blank=True)
    proposed_by = models.ForeignKey("org.Person", on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("proposed by"))
    proposed_at = models.DateTimeField(_("proposed at"), default=timezone.now)
    # retention.purge_approver of the profile in force at the proposal; the person who
    # decided (the principal leader, or a leader other than the proposer)
    approver_rule = models.CharField(_("approver (profile)"), max_length=20)
    approver = models.ForeignKey("org.Person", on_delete=models.PROTECT, null=True,
                                 blank=True, related_name="+", verbose_name=_("approver"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)
    started_at = models.DateTimeField(_("purge started at"), null=True, blank=True)
    executed_at = models.DateTimeField(_("purged at"), null=True, blank=True)
    # The run executing the batch (a token) and until when its lease holds: a second run is
    # refused while the lease holds; a crashed run's lease lapses and the batch is resumed.
    lease_owner = models.CharField(_("run executing the purge"), max_length=100, blank=True)
    lease_until = models.DateTimeField(_("lease until"), null=True, blank=True)

    class Meta:
        verbose_name = _("purge batch")
        verbose_name_plural = _("purge batches")
        ordering = ["-proposed_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_state_display()}"


class ItemResult(models.TextChoices):
    PENDING = "pending", _("pending")
    # claimed by a run: the objects in ``planned`` are being removed (a resumed run completes
    # it, counting an object already absent as removed)
    REMOVING = "removing", _("being removed")
    PURGED = "purged", _("purged")
    SAVED = "saved", _("saved (no longer expired or held)")
    MISSING = "missing", _("original missing (finding raised; nothing removed)")


class PurgeItem(models.Model):
    batch = models.ForeignKey(PurgeBatch, on_delete=models.PROTECT, related_name="items",
                              verbose_name=_("batch"))
    recording = models.ForeignKey("recordings.Recording", on_delete=models.PROTECT,
                                  related_name="+", verbose_name=_("recording"))
    keep_until = models.DateTimeField(_("keep until (at proposal)"))
    result = models.CharField(_("result"), max_length=10, choices=ItemResult.choices,
                              default=ItemResult.PENDING)
    saved_because = models.CharField(_("why saved"), max_length=300, blank=True)
    tombstone = models.JSONField(_("tombstone"), default=dict, blank=True)
    planned = models.JSONField(_("objects planned for removal"), default=dict, blank=True)

    class Meta:
        verbose_name = _("purge item")
        verbose_name_plural = _("purge items")
        ordering = ["batch", "id"]
        constraints = [models.UniqueConstraint(fields=["batch", "recording"],
                                               name="purge_item_once")]

    def __str__(self) -> str:
        return f"#{self.batch_id}/{self.recording_id} {self.result}"
