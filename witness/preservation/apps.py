from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PreservationConfig(AppConfig):
    name = "witness.preservation"
    label = "preservation"
    verbose_name = _("disc preservation (RET-2, EVD-1)")
