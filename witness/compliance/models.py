from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CheckKind(models.TextChoices):
    FULL = "full", _("full check")
    ACTIVITIES = "activities", _("check of some activities")


class CheckStatus(models.TextChoices):
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class CheckRun(models.Model):
    """One run of the rules (issue 6 item 1): when, what it looked at, and per rule how many
    breaches it found, raised, resolved and reopened, and how long it took."""

    agency = models.ForeignKey("org.Agency", on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("agency"))
    kind = models.CharField(_("kind"), max_length=12, choices=CheckKind.choices)
    activity_ids = models.JSONField(_("activities"), default=list, blank=True)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=CheckStatus.choices,
                              default=CheckStatus.RUNNING)
    actor = models.CharField(_("started by"), max_length=150)
    per_rule = models.JSONField(_("per rule"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("compliance check")
        verbose_name_plural = _("compliance checks")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.started_at:%Y-%m-%d %H:%M}"
