"""Confidentiality labels and the state-secret hand-off (issue 5 item 4; EVD-4).

``LabelChange``: a request to change the confidentiality label of one recording, activity
or case (一般, 内部, 个人隐私, 商业秘密, 国家秘密). Raising and lowering a label both need the
approval of the approver the profile names (``viewing.label_approver``); the label itself
changes only when the change is approved, in the same transaction as its audit entries.

``SecretHandoff``: what happens to the content of a recording once it is marked 国家秘密.
State-secret content does not belong on an ordinary intranet system: it is exported to
offline, classified custody (the custodian records the medium, where it is held and by
whom), its removal from this system is approved by the label approver, and the custodian
then runs the removal. The recording's metadata (its row, digests, sizes, times) stays,
with this record of where the content is held offline.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from witness.access.labels import LABEL_MAX_LENGTH, Label


class ChangeState(models.TextChoices):
    PENDING = "pending", pgettext_lazy("label change", "pending")
    APPROVED = "approved", pgettext_lazy("label change", "approved")
    REJECTED = "rejected", pgettext_lazy("label change", "rejected")


class LabelChange(models.Model):
    """A request to change the label of exactly one target (EVD-4)."""

    agency = models.ForeignKey("org.Agency", on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("agency"))
    recording = models.ForeignKey("recordings.Recording", on_delete=models.PROTECT, null=True,
                                  blank=True, related_name="label_changes",
                                  verbose_name=_("recording"))
    activity = models.ForeignKey("activities.Activity", on_delete=models.PROTECT, null=True,
                                 blank=True, related_name="label_changes",
                                 verbose_name=_("activity"))
    case = models.ForeignKey("activities.Case", on_delete=models.PROTECT, null=True,
                             blank=True, related_name="label_changes", verbose_name=_("case"))
    old_label = models.CharField(_("label before"), max_length=LABEL_MAX_LENGTH,
                                 choices=Label.choices)
    new_label = models.CharField(_("label asked for"), max_length=LABEL_MAX_LENGTH,
                                 choices=Label.choices)
    reason = models.TextField(_("reason"))
    requested_by = models.ForeignKey("org.Person", on_delete=models.PROTECT,
                                     related_name="+", verbose_name=_("requested by"))
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now,
                                        db_index=True)
    # The approver the profile named when the change was asked for (for the lists); the
    # decision checks the approver the profile in force names at that moment.
    approver = models.ForeignKey("org.Person", on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("approver"))
    state = models.CharField(_("state"), max_length=10, choices=ChangeState.choices,
                             default=ChangeState.PENDING, db_index=True)
    decided_by = models.ForeignKey("org.Person", on_delete=models.PROTECT, null=True,
                                   blank=True, related_name="+", verbose_name=_("decided by"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("label change")
        verbose_name_plural = _("label changes")
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(recording__isnull=False, activity__isnull=True, case__isnull=True)
                           | Q(recording__isnull=True, activity__isnull=False,
                               case__isnull=True)
                           | Q(recording__isnull=True, activity__isnull=True,
                               case__isnull=False)),
                name="label_change_one_target"),
            models.CheckConstraint(condition=~Q(old_label=models.F("new_label")),
                                   name="label_change_changes"),
            models.CheckConstraint(
                condition=Q(state=ChangeState.PENDING, decided_at__isnull=True)
                | (~Q(state=ChangeState.PENDING) & Q(decided_at__isnull=False,
                                                     decided_by__isnull=False)),
                name="label_change_decided_when_not_pending"),
            # One pending change per target at a time.
            models.UniqueConstraint(fields=["recording"], condition=Q(state="pending"),
                                    name="label_change_one_pending_recording"),
            models.UniqueConstraint(fields=["activity"], condition=Q(state="pending"),
                                    name="label_change_one_pending_activity"),
            models.UniqueConstraint(fields=["case"], condition=Q(state="pending"),
                                    name="label_change_one_pending_case"),
        ]

    def __str__(self) -> str:
        return f"{self.target_kind}:{self.target_id} {self.old_label} → {self.new_label}"

    @property
    def target(self):
        return self.recording or self.activity or self.case

    @property
    def target_kind(self) -> str:
        if self.recording_id:
            return "recording"
        return "activity" if self.activity_id else "case"

    @property
    def target_id(self) -> int:
        return self.recording_id or self.activity_id or self.case_id


class HandoffState(models.TextChoices):
    MARKED = "marked", pgettext_lazy("secret hand-off", "marked")
    EXPORTED = "exported", pgettext_lazy("secret hand-off", "exported")
    REMOVAL_APPROVED = "removal_approved", pgettext_lazy("secret hand-off", "removal approved")
    REMOVING = "removing", pgettext_lazy("secret hand-off", "removal under way")
    REMOVED = "removed", pgettext_lazy("secret hand-off", "removed")
    CANCELLED = "cancelled", pgettext_lazy("secret hand-off", "cancelled")


# The order of the steps; CANCELLED is outside it (the label was lowered before export).
ORDER = [HandoffState.MARKED, HandoffState.EXPORTED, HandoffState.REMOVAL_APPROVED,
         HandoffState.REMOVING, HandoffState.REMOVED]


class SecretHandoff(models.Model):
    """The hand-off of one recording's content to offline classified custody (EVD-4)."""

    recording = models.ForeignKey("recordings.Recording", on_delete=models.PROTECT,
                                  related_name="secret_handoffs", verbose_name=_("recording"))
    label_change = models.ForeignKey(LabelChange, on_delete=models.PROTECT,
                                     related_name="handoffs",
                                     verbose_name=_("label change that started it"))
    state = models.CharField(_("state"), max_length=16, choices=HandoffState.choices,
                             default=HandoffState.MARKED, db_index=True)
    marked_at = models.DateTimeField(_("marked at"), default=timezone.now)

    # The offline export (the custodian's record; the disc itself is made outside).
    medium = models.CharField(_("medium"), max_length=100, blank=True)
    medium_id = models.CharField(_("medium identifier"), max_length=200, blank=True)
    held_at = models.CharField(_("where it is held"), max_length=300, blank=True)
    held_by = models.CharField(_("who holds it"), max_length=200, blank=True)
    exported_at = models.DateTimeField(_("exported at"), null=True, blank=True)
    export_reference = models.CharField(_("export reference"), max_length=200, blank=True)
    export_recorded_by = models.ForeignKey("org.Person", on_delete=models.PROTECT, null=True,
                                           blank=True, related_name="+",
                                           verbose_name=_("export recorded by"))
    export_recorded_at = models.DateTimeField(_("export recorded at"), null=True, blank=True)

    # The approval of the removal (the profile's label approver).
    removal_approved_by = models.ForeignKey("org.Person", on_delete=models.PROTECT, null=True,
                                            blank=True, related_name="+",
                                            verbose_name=_("removal approved by"))
    removal_approved_at = models.DateTimeField(_("removal approved at"), null=True,
                                               blank=True)
    removal_reason = models.TextField(_("reason for the removal"), blank=True)

    # The removal (a custodian runs it).
    removal_started_at = models.DateTimeField(_("removal started at"), null=True, blank=True)
    removed_by = models.ForeignKey("org.Person", on_delete=models.PROTECT, null=True,
                                   blank=True, related_name="+", verbose_name=_("removed by"))
    removed_at = models.DateTimeField(_("removed at"), null=True, blank=True)
    # [{"copy": "primary"|"replica"|"derivative", "store": …, "key": …, "result": …}, …]
    removed_objects = models.JSONField(_("objects removed"), default=list, blank=True)

    class Meta:
        verbose_name = _("state-secret hand-off")
        verbose_name_plural = _("state-secret hand-offs")
        ordering = ["-marked_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["recording"], condition=~Q(state="cancelled"),
                                    name="secret_handoff_one_per_recording"),
            models.CheckConstraint(
                condition=Q(state__in=["marked", "cancelled"]) | Q(
                    exported_at__isnull=False, export_recorded_by__isnull=False),
                name="secret_handoff_export_recorded"),
            models.CheckConstraint(
                condition=Q(state__in=["marked", "exported", "cancelled"]) | Q(
                    removal_approved_by__isnull=False, removal_approved_at__isnull=False),
                name="secret_handoff_removal_approved"),
            models.CheckConstraint(
                condition=~Q(state="removed") | Q(removed_at__isnull=False,
                                                  removed_by__isnull=False),
                name="secret_handoff_removed_when"),
        ]

    def __str__(self) -> str:
        return f"{self.recording_id}: {self.state}"

    @property
    def step(self) -> int:
        return ORDER.index(self.state) if self.state in ORDER else -1
