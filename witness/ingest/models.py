"""File-name patterns per device model (issue 3 item 3): which patterns read the start time,
badge, sequence number and important mark out of a model's file names, and the agency's own
patterns for models whose names the built-in ones do not fit."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class CustomNamePattern(models.Model):
    """A pattern added by the agency: a regular expression with named groups
    (``start`` required; ``serial``, ``badge``, ``end``, ``seq``, ``important``)."""

    name = models.SlugField(_("name"), max_length=40, unique=True)
    regex = models.CharField(_("regular expression"), max_length=500)
    example = models.CharField(_("example file name"), max_length=200)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("file-name pattern")
        verbose_name_plural = _("file-name patterns")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ModelNaming(models.Model):
    """The patterns tried, in order, for the files of one device model (``Device.model``,
    or ``MODEL=`` in the volume's identity file)."""

    model = models.CharField(_("device model"), max_length=100, unique=True)
    patterns = models.JSONField(_("patterns, in order"), default=list)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("file naming of a device model")
        verbose_name_plural = _("file naming of device models")
        ordering = ["model"]

    def __str__(self) -> str:
        return f"{self.model}: {', '.join(self.patterns)}"
