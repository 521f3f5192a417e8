"""Derivatives: what is made *from* an original so people can look at it (issue 3 item 6).

A playback copy (H.264/AAC MP4, index at the front) for originals a browser cannot play as
they are, a poster frame of a video, a waveform picture of the sound. Each is its own
write-once ``storage.Blob``; the original's blob is only ever read. One row per recording
and kind records where the work stands, what tool made the bytes, and why it failed or was
not needed, so a derivative is never mistaken for the evidence itself.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    PLAYBACK = "playback", _("playback copy")
    POSTER = "poster", _("poster frame")
    WAVEFORM = "waveform", _("audio waveform")


class Status(models.TextChoices):
    PENDING = "pending", _("pending")
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")
    NOT_NEEDED = "not_needed", _("not needed")


# No more work: a done or not-needed derivative is never made again.
FINAL = (Status.DONE, Status.NOT_NEEDED)


class Derivative(models.Model):
    recording = models.ForeignKey("recordings.Recording", on_delete=models.PROTECT,
                                  related_name="derivatives", verbose_name=_("recording"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    blob = models.ForeignKey("storage.Blob", on_delete=models.PROTECT, null=True, blank=True,
                             related_name="derivatives", verbose_name=_("derived bytes"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices,
                              default=Status.PENDING, db_index=True)
    error = models.TextField(_("error"), blank=True, help_text=_("Chinese, then English"))
    reason = models.TextField(_("why not needed"), blank=True,
                              help_text=_("Chinese, then English"))
    tool = models.TextField(_("tool and arguments"), blank=True,
                            help_text=_("the ffmpeg version and the exact command line"))
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("derivative")
        verbose_name_plural = _("derivatives")
        ordering = ["recording", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["recording", "kind"],
                                    name="derivative_once_per_kind"),
            # Derived bytes exactly when done.
            models.CheckConstraint(
                condition=Q(status=Status.DONE, blob__isnull=False)
                | (~Q(status=Status.DONE) & Q(blob__isnull=True)),
                name="derivative_blob_when_done"),
        ]

    def __str__(self) -> str:
        return f"{self.recording_id} {self.kind}: {self.status}"
