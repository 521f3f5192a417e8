"""One docking of one device volume at an ingest station (issue 3 item 5).

A row is made when a volume appears under the watched folder and follows it through
settling (its listing must stay unchanged for the settle time), waiting for a free slot,
ingesting (a child process running the ingest pipeline, which writes its progress here) and
done or failed. When the volume disappears the row stays as history; when it comes back, or
new files appear on it after the ingest, a new row begins.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class VolumeState(models.TextChoices):
    SETTLING = "settling", _("waiting until stable")
    QUEUED = "queued", _("waiting for a free slot")
    INGESTING = "ingesting", _("ingesting")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


ACTIVE_STATES = (VolumeState.SETTLING, VolumeState.QUEUED, VolumeState.INGESTING)


class StationVolume(models.Model):
    agency = models.ForeignKey("org.Agency", on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("agency"))
    host = models.CharField(_("station host"), max_length=100)
    watch_dir = models.CharField(_("watched folder"), max_length=1000)
    path = models.CharField(_("volume"), max_length=1000)
    serial = models.CharField(_("device serial (from the volume)"), max_length=100,
                              blank=True)
    state = models.CharField(_("state"), max_length=10, choices=VolumeState.choices,
                             default=VolumeState.SETTLING)
    present = models.BooleanField(_("docked"), default=True)
    wipe = models.BooleanField(_("wipe the device"), default=False)
    # The listing (paths, sizes, modification times) as last seen, when it last changed,
    # and as left by the ingest (so that a wiped volume is not ingested again).
    signature = models.CharField(max_length=64, blank=True)
    changed_at = models.DateTimeField(_("listing last changed"), default=timezone.now)
    signature_after = models.CharField(max_length=64, blank=True)
    first_seen = models.DateTimeField(_("docked at"), default=timezone.now)
    gone_at = models.DateTimeField(_("removed at"), null=True, blank=True)
    started_at = models.DateTimeField(_("ingest started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("ingest finished"), null=True, blank=True)
    pid = models.PositiveIntegerField(_("process id"), null=True, blank=True)
    # boot id and start time of that process: a pid reused after a reboot is not it
    pid_token = models.CharField(max_length=80, blank=True)
    run = models.ForeignKey("recordings.IngestRun", on_delete=models.PROTECT, null=True,
                            blank=True, related_name="+", verbose_name=_("ingest run"))
    files_done = models.PositiveIntegerField(_("files done"), default=0)
    bytes_done = models.PositiveBigIntegerField(_("bytes done"), default=0)
    current_file = models.CharField(_("current file"), max_length=1000, blank=True)
    error = models.TextField(_("error"), blank=True, help_text=_("Chinese, then English"))
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("docked volume")
        verbose_name_plural = _("docked volumes")
        ordering = ["-first_seen", "-id"]
        indexes = [models.Index(fields=["host", "watch_dir", "present"])]

    def __str__(self) -> str:
        return f"{self.path} ({self.state})"

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    # what there is to ingest: the run's (known once the child has scanned the volume)
    @property
    def files_total(self) -> int:
        return self.run.files_total if self.run_id else 0

    @property
    def bytes_total(self) -> int:
        return self.run.bytes_total if self.run_id else 0

    @property
    def rate(self) -> float | None:
        """Bytes per second since the ingest started (to the end, once finished)."""
        if self.started_at is None:
            return None
        end = self.finished_at or timezone.now()
        seconds = (end - self.started_at).total_seconds()
        return self.bytes_done / seconds if seconds > 0 else None

    @property
    def percent(self) -> int:
        if not self.bytes_total:
            return 100 if self.state == VolumeState.DONE else 0
        return min(100, self.bytes_done * 100 // self.bytes_total)
