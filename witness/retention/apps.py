from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RetentionConfig(AppConfig):
    name = "witness.retention"
    label = "retention"
    verbose_name = _("retention and purge (RET-1, RET-2)")
