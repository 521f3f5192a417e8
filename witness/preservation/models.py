"""The export package of an approved request (issue 7 item 5; EVD-1, EVD-3): one per
request, made by a background task (``witness.preservation.tasks.make_package``) into
``WITNESS_HOME/exports/<request id>/bag`` and downloaded as a tar archive built on the fly
(``witness.preservation.packages``)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PackageStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("being made")
    READY = "ready", _("ready")
    FAILED = "failed", _("failed")
    REMOVED = "removed", _("removed, its approval ended")  # its folder's copies are gone


class ExportPackage(models.Model):
    """The evidence package of one approved disclosure request (delivery: package)."""

    request = models.OneToOneField("access.AccessRequest", on_delete=models.PROTECT,
                                   related_name="export_package", verbose_name=_("request"))
    status = models.CharField(_("status"), max_length=10, choices=PackageStatus.choices,
                              default=PackageStatus.QUEUED, db_index=True)
    requested_by = models.ForeignKey("org.Person", on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("extractor"))
    created_at = models.DateTimeField(_("asked for at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    error = models.JSONField(_("error"), default=dict, blank=True)
    # what the package holds, once ready
    recordings = models.JSONField(_("recordings"), default=list, blank=True)
    files = models.PositiveIntegerField(_("files"), default=0)
    bytes = models.BigIntegerField(_("bytes"), default=0)
    tagmanifest_sha256 = models.CharField(_("tag manifest SHA-256"), max_length=64,
                                          blank=True)
    removed_at = models.DateTimeField(_("package removed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("export package")
        verbose_name_plural = _("export packages")

    def __str__(self) -> str:
        return f"#{self.request_id}: {self.status}"


class DiscSetStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("being made")
    READY = "ready", _("ready")
    FAILED = "failed", _("failed")


class DiscSet(models.Model):
    """Disc images of an activity or a case under an approved preservation hold (RET-2,
    A16), asked for on the web and made by ``witness.preservation.tasks.make_discs`` into
    ``WITNESS_HOME/preservation/<id>/`` (witness.preservation.discs.preserve)."""

    agency = models.ForeignKey("org.Agency", on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("agency"))
    activity = models.ForeignKey("activities.Activity", on_delete=models.PROTECT, null=True,
                                 blank=True, related_name="+", verbose_name=_("activity"))
    case = models.ForeignKey("activities.Case", on_delete=models.PROTECT, null=True,
                             blank=True, related_name="+", verbose_name=_("case"))
    media = models.CharField(_("medium"), max_length=8, default="dvd")
    status = models.CharField(_("status"), max_length=10, choices=DiscSetStatus.choices,
                              default=DiscSetStatus.QUEUED, db_index=True)
    requested_by = models.ForeignKey("org.Person", on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("extractor"))
    created_at = models.DateTimeField(_("asked for at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    error = models.JSONField(_("error"), default=dict, blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)  # preserve()'s summary

    class Meta:
        verbose_name = _("disc set")
        verbose_name_plural = _("disc sets")

    def __str__(self) -> str:
        return f"#{self.pk}: {self.status}"

    @property
    def obj(self):
        return self.case if self.case_id else self.activity
