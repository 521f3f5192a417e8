"""The annual review (评查, SUP-1, A17) and ad-hoc inspections (SUP-3; A11, B18, B19).

A :class:`Campaign` names a period and units; its sample (:class:`CampaignItem`) is drawn
reproducibly from a stored seed: ``per_unit`` activities of each unit, then more until
each officer of the period's activities is on at least ``per_officer`` sampled ones (see
:mod:`witness.review.services`). Once the bureau leader approves it, each reviewer gets a
viewing grant (access request of kind ``review``) for exactly the sampled activities'
recordings until ``valid_until``; reviewers score each item against the checklist
(:class:`Criterion`). Nothing is deleted: a new score for the same item and criterion by
the same reviewer supersedes the earlier one, which stays.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CampaignKind(models.TextChoices):
    ANNUAL = "annual", _("annual review (年度评查)")
    INSPECTION = "inspection", _("ad-hoc inspection (不定期检查)")


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    APPROVED = "approved", _("approved")
    CLOSED = "closed", _("closed")


class Stratum(models.TextChoices):
    UNIT = "unit", _("per unit")
    OFFICER = "officer", _("per officer")


class Criterion(models.TextChoices):
    """The checklist (SUP-3; A11, B18, B19)."""

    NOTIFICATION = "notification", _("notification given")
    OPENING = "opening", _("opening statement")
    FULL_PROCESS = "full_process", _("full process recorded")
    PICTURE_SOUND = "picture_sound", _("picture and sound clear")
    CAMERA_PLACEMENT = "camera_placement", _("camera placement")
    CIVIL_CONDUCT = "civil_conduct", _("civil conduct")


class Result(models.TextChoices):
    PASS = "pass", _("pass")
    FAIL = "fail", _("fail")
    NOT_APPLICABLE = "na", _("not applicable")


class Campaign(models.Model):
    agency = models.ForeignKey("org.Agency", on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("agency"))
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=12, choices=CampaignKind.choices,
                            default=CampaignKind.ANNUAL)
    period_from = models.DateField(_("period from"))
    period_to = models.DateField(_("period to"))  # inclusive
    units = models.ManyToManyField("org.Unit", related_name="+", verbose_name=_("units"))
    per_unit = models.PositiveSmallIntegerField(_("activities per unit"), default=3)
    per_officer = models.PositiveSmallIntegerField(_("activities per officer"), default=1)
    seed = models.BigIntegerField(_("seed"))
    status = models.CharField(_("status"), max_length=10, choices=CampaignStatus.choices,
                              default=CampaignStatus.DRAFT, db_index=True)
    reviewers = models.ManyToManyField("org.Person", related_name="review_campaigns",
                                       verbose_name=_("reviewers"))
    valid_until = models.DateTimeField(_("viewing valid until"))
    note = models.TextField(_("note"), blank=True)
    created_by = models.ForeignKey("org.Person", on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("created by"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sampled_at = models.DateTimeField(_("sampled at"), null=True, blank=True)
    approved_by = models.ForeignKey("org.Person", on_delete=models.PROTECT, null=True,
                                    blank=True, related_name="+",
                                    verbose_name=_("approved by"))
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    closed_by = models.ForeignKey("org.Person", on_delete=models.PROTECT, null=True,
                                  blank=True, related_name="+", verbose_name=_("closed by"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # The viewing requests (kind review) made on approval, one per reviewer.
    access_requests = models.ManyToManyField("access.AccessRequest", related_name="+",
                                             blank=True, verbose_name=_("viewing requests"))

    class Meta:
        verbose_name = _("review campaign")
        verbose_name_plural = _("review campaigns")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(period_to__gte=F("period_from")),
                                   name="review_campaign_period_valid"),
            models.CheckConstraint(condition=Q(per_unit__gte=1),
                                   name="review_campaign_per_unit_positive"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name}"


class CampaignItem(models.Model):
    """One sampled activity, with the stratum it was drawn for."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="items",
                                 verbose_name=_("campaign"))
    activity = models.ForeignKey("activities.Activity", on_delete=models.PROTECT,
                                 related_name="+", verbose_name=_("activity"))
    stratum = models.CharField(_("stratum"), max_length=10, choices=Stratum.choices)
    unit = models.ForeignKey("org.Unit", on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("unit"))
    officer = models.ForeignKey("org.Person", on_delete=models.PROTECT, null=True,
                                blank=True, related_name="+",
                                verbose_name=_("drawn for officer"))
    position = models.PositiveIntegerField(_("position"))

    class Meta:
        verbose_name = _("sampled activity")
        verbose_name_plural = _("sampled activities")
        ordering = ["campaign", "position"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "activity"],
                                    name="review_item_once"),
            models.UniqueConstraint(fields=["campaign", "position"],
                                    name="review_item_position_once"),
        ]

    def __str__(self) -> str:
        return f"#{self.campaign_id}/{self.position}: {self.activity_id}"


class Score(models.Model):
    """A reviewer's result for one criterion of one item. The latest row per (item,
    reviewer, criterion) is the one in force; earlier ones stay."""

    item = models.ForeignKey(CampaignItem, on_delete=models.PROTECT, related_name="scores",
                             verbose_name=_("sampled activity"))
    reviewer = models.ForeignKey("org.Person", on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("reviewer"))
    criterion = models.CharField(_("criterion"), max_length=20, choices=Criterion.choices)
    result = models.CharField(_("result"), max_length=4, choices=Result.choices)
    note = models.TextField(_("note"), blank=True)
    scored_at = models.DateTimeField(_("scored at"), default=timezone.now)

    class Meta:
        verbose_name = _("score")
        verbose_name_plural = _("scores")
        ordering = ["item", "criterion", "-scored_at", "-id"]
        indexes = [models.Index(fields=["item", "reviewer", "criterion", "scored_at"])]

    def __str__(self) -> str:
        return f"{self.item_id} {self.criterion}: {self.result}"
