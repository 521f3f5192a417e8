"""Recordings: one original file from one device, attributed to who recorded what (issue 3).

A :class:`Recording` is the evidence record; its bytes are a ``storage.Blob`` shared by every
recording with the same content (the same bytes from two devices are two recordings and a
finding, ACT-5). Nothing here is ever deleted: the retention issue adds the approved purge.

Times are stored in UTC. ``started_at``/``ended_at`` are corrected for the device clock drift
known at ingest (DEV-4); ``time_source`` says where they came from (the device's file name,
the container metadata, EXIF, or the file times) and ``device_start`` keeps what the device
itself said, uncorrected.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.access.labels import label_field


class MediaKind(models.TextChoices):
    VIDEO = "video", _("video")
    AUDIO = "audio", _("audio")
    PHOTO = "photo", _("photo")


class TimeSource(models.TextChoices):
    """Where a recording's start and end come from, best first (issue 3 item 3)."""

    FILE_NAME = "file_name", _("device file name")
    CONTAINER = "container", _("container metadata")
    EXIF = "exif", _("photo EXIF")
    FILE_TIME = "file_time", _("file modification time")
    NONE = "none", _("unknown (an uploaded file without a time of its own)")


class DriftSource(models.TextChoices):
    """Where the device clock drift applied to the times comes from (DEV-4)."""

    CLOCK_FILE = "clock_file", _("device clock file on the volume")
    PRE_USE_CHECK = "pre_use_check", _("latest pre-use check")
    NONE = "none", _("unknown (no correction)")


class Attribution(models.TextChoices):
    ATTRIBUTED = "attributed", _("attributed to an activity")
    QUEUED = "queued", _("waiting in the assignment queue")
    ASSIGNED = "assigned", _("assigned by the custodian")
    NO_ACTIVITY = "no_activity", _("confirmed outside any activity")


class QueueReason(models.TextChoices):
    BACKFILL = "backfill", _("historical footage (backfill)")
    NO_HOLDER = "no_holder", _("the device was not issued to anyone at that time")
    NO_ACTIVITY = "no_activity", _("no activity of the holder covers this time")
    SEVERAL_ACTIVITIES = "several", _("several activities of the holder fit this time")
    NO_TIME = "no_time", _("the recording time is unknown")


class Recording(models.Model):
    blob = models.ForeignKey("storage.Blob", on_delete=models.PROTECT, related_name="recordings",
                             verbose_name=_("stored original"))
    device = models.ForeignKey("devices.Device", on_delete=models.PROTECT, null=True,
                               blank=True, related_name="recordings", verbose_name=_("device"))
    kind = models.CharField(_("kind"), max_length=8, choices=MediaKind.choices)
    # The path on the volume as the device wrote it: exact bytes, and a readable form
    # (undecodable bytes shown as \xNN) for people and JSON.
    source_path = models.CharField(_("path on the device"), max_length=1000)
    source_path_bytes = models.BinaryField(_("path on the device (bytes)"))

    started_at = models.DateTimeField(_("start"), null=True, blank=True, db_index=True)
    ended_at = models.DateTimeField(_("end"), null=True, blank=True)
    time_source = models.CharField(_("time from"), max_length=12, choices=TimeSource.choices)
    device_start = models.DateTimeField(_("start as the device clock showed it"), null=True,
                                        blank=True)
    clock_drift_seconds = models.IntegerField(_("device clock drift (s)"), null=True,
                                              blank=True,
                                              help_text=_("device time minus true time"))
    drift_source = models.CharField(_("drift from"), max_length=16,
                                    choices=DriftSource.choices, default=DriftSource.NONE)
    duration = models.DecimalField(_("duration (s)"), max_digits=12, decimal_places=3,
                                   null=True, blank=True)

    # Facts of the device's naming (issue 3 item 3): sequence numbers make holes visible.
    name_pattern = models.CharField(_("file-name pattern"), max_length=40, blank=True)
    sequence = models.PositiveIntegerField(_("sequence number"), null=True, blank=True)
    badge_in_name = models.CharField(_("badge number in the name"), max_length=40, blank=True)
    important = models.BooleanField(_("important mark (重要标记)"), default=False)
    label = label_field()  # EVD-4

    # Media facts (ffprobe / EXIF); the compliance rules read encoder and creation time.
    readable = models.BooleanField(_("readable media"), default=True)
    unreadable_reason = models.CharField(_("why not readable"), max_length=300, blank=True)
    container = models.CharField(_("container"), max_length=100, blank=True)
    video_codec = models.CharField(_("video codec"), max_length=40, blank=True)
    audio_codec = models.CharField(_("audio codec"), max_length=40, blank=True)
    width = models.PositiveIntegerField(_("width"), null=True, blank=True)
    height = models.PositiveIntegerField(_("height"), null=True, blank=True)
    frame_rate = models.FloatField(_("frame rate"), null=True, blank=True)
    encoder = models.CharField(_("encoder tag"), max_length=200, blank=True)
    creation_time = models.DateTimeField(_("creation time in the file"), null=True, blank=True)
    latitude = models.FloatField(_("latitude"), null=True, blank=True)
    longitude = models.FloatField(_("longitude"), null=True, blank=True)
    browser_playable = models.BooleanField(_("plays in a browser as it is"), default=False)
    faststart = models.BooleanField(_("index before the media"), null=True, blank=True)

    # Attribution (DEV-3, ACT-1): the ledger entry, the holder, the activity.
    issue = models.ForeignKey("devices.DeviceIssue", on_delete=models.PROTECT, null=True,
                              blank=True, related_name="recordings",
                              verbose_name=_("ledger entry"))
    holder = models.ForeignKey("org.Person", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="recordings", verbose_name=_("recorded by"))
    activity = models.ForeignKey("activities.Activity", on_delete=models.PROTECT, null=True,
                                 blank=True, related_name="recordings",
                                 verbose_name=_("activity"))
    attribution = models.CharField(_("attribution"), max_length=12,
                                   choices=Attribution.choices, db_index=True)
    queue_reason = models.CharField(_("why in the queue"), max_length=12, blank=True,
                                    choices=QueueReason.choices)
    backfill = models.BooleanField(_("historical footage"), default=False)

    # Segments and gaps (issue 3 item 4, ACT-5): per activity and device, in time order.
    segment_index = models.PositiveIntegerField(_("segment"), null=True, blank=True)
    gap_before_seconds = models.DecimalField(
        _("gap before (s)"), max_digits=12, decimal_places=3, null=True, blank=True,
        help_text=_("time since the end of the device's previous segment in the activity"))

    ingested_at = models.DateTimeField(_("ingested at"), default=timezone.now, db_index=True)
    ingested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    null=True, blank=True, related_name="+",
                                    verbose_name=_("ingested by"))
    ingest_run = models.ForeignKey("recordings.IngestRun", on_delete=models.PROTECT, null=True,
                                   blank=True, related_name="recordings",
                                   verbose_name=_("ingest run"))

    class Meta:
        verbose_name = _("recording")
        verbose_name_plural = _("recordings")
        ordering = ["started_at", "id"]
        constraints = [
            # Deduplicate blobs, not recordings: the same bytes from the same device are
            # one recording; from another device they are a second one (ACT-5 finding).
            models.UniqueConstraint(fields=["device", "blob"], condition=Q(device__isnull=False),
                                    name="recording_once_per_device"),
            models.UniqueConstraint(fields=["blob"], condition=Q(device__isnull=True),
                                    name="recording_once_without_device"),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(started_at__isnull=True)
                | Q(ended_at__gte=models.F("started_at")),
                name="recording_end_after_start"),
        ]
        indexes = [
            models.Index(fields=["device", "started_at"]),
            models.Index(fields=["activity", "device", "started_at"]),
            # ACT-5.encoder's norm per device model: an index-only scan (issue 6)
            models.Index(fields=["device", "kind", "encoder"], condition=Q(readable=True),
                         name="recording_encoder_tally"),
        ]

    def __str__(self) -> str:
        return f"{self.source_path} ({self.get_kind_display()})"

    @property
    def size(self) -> int:
        return self.blob.size


class RunStatus(models.TextChoices):
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("finished with failures")
    INTERRUPTED = "interrupted", _("interrupted")


class IngestRun(models.Model):
    """One ingest of one volume (a docked device, a card, a backfill folder)."""

    volume = models.CharField(_("volume"), max_length=1000)
    agency = models.ForeignKey("org.Agency", on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("agency"))
    device = models.ForeignKey("devices.Device", on_delete=models.PROTECT, null=True,
                               blank=True, related_name="ingest_runs", verbose_name=_("device"))
    backfill = models.BooleanField(_("backfill"), default=False)
    wipe = models.BooleanField(_("wipe the device"), default=False)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=RunStatus.choices,
                              default=RunStatus.RUNNING, db_index=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   null=True, blank=True, related_name="+",
                                   verbose_name=_("started by"))
    files_total = models.PositiveIntegerField(_("files"), default=0)
    bytes_total = models.PositiveBigIntegerField(_("bytes"), default=0)
    counts = models.JSONField(_("outcomes"), default=dict, blank=True)
    # From the device's clock file on the volume; null without one (then each recording
    # takes the drift of the pre-use check before it).
    clock_drift_seconds = models.IntegerField(_("device clock drift (s)"), null=True,
                                              blank=True)
    # The process doing the work: a run left "running" by a process that is gone was
    # interrupted (kill -9, power loss); the next run marks it so.
    host = models.CharField(_("host"), max_length=100, blank=True)
    pid = models.PositiveIntegerField(_("process id"), null=True, blank=True)

    class Meta:
        verbose_name = _("ingest run")
        verbose_name_plural = _("ingest runs")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.volume} @ {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def drift_source(self) -> str:
        return (DriftSource.CLOCK_FILE if self.clock_drift_seconds is not None
                else DriftSource.NONE)

    @property
    def outcome_counts(self) -> list[tuple[str, int]]:
        """(outcome label, count) of each outcome that occurred, for pages."""
        return [(Outcome(k).label, n) for k, n in self.counts.items() if n]


class Outcome(models.TextChoices):
    STORED = "stored", _("stored")
    DUPLICATE = "duplicate", _("duplicate")
    SKIPPED = "skipped", _("skipped")
    FAILED = "failed", _("failed")


class IngestItem(models.Model):
    """The outcome of one file of an ingest run (the per-file JSON summary)."""

    run = models.ForeignKey(IngestRun, on_delete=models.CASCADE, related_name="items",
                            verbose_name=_("ingest run"))
    path = models.CharField(_("path on the volume"), max_length=1000)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    reason_code = models.CharField(_("reason code"), max_length=40, blank=True)
    reason = models.TextField(_("reason"), blank=True, help_text=_("Chinese, then English"))
    size = models.PositiveBigIntegerField(_("size (bytes)"), null=True, blank=True)
    digests = models.JSONField(_("digests"), default=dict, blank=True)
    recording = models.ForeignKey(Recording, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+", verbose_name=_("recording"))
    wiped = models.BooleanField(_("deleted from the device"), default=False)
    finished_at = models.DateTimeField(_("finished at"), default=timezone.now)

    class Meta:
        verbose_name = _("ingested file")
        verbose_name_plural = _("ingested files")
        ordering = ["run", "id"]

    def __str__(self) -> str:
        return f"{self.path}: {self.outcome}"


class Marker(models.Model):
    """A bookmark with a note at a position of a recording (issue 8 item 3): set in the
    player by someone who may play the recording, seen by everyone who may play it."""

    recording = models.ForeignKey(Recording, on_delete=models.PROTECT, related_name="markers",
                                  verbose_name=_("recording"))
    person = models.ForeignKey("org.Person", on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("set by"))
    position = models.DecimalField(_("position (s)"), max_digits=12, decimal_places=3)
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("marker")
        verbose_name_plural = _("markers")
        ordering = ["recording", "position", "id"]
        indexes = [models.Index(fields=["recording", "position"])]
        constraints = [models.CheckConstraint(condition=Q(position__gte=0),
                                              name="marker_position_not_negative")]

    def __str__(self) -> str:
        return f"{self.recording_id}@{self.position}"
