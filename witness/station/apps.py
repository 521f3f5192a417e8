from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StationConfig(AppConfig):
    name = "witness.station"
    label = "station"
    verbose_name = _("Ingest station")
