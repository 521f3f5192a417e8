from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DerivativesConfig(AppConfig):
    name = "witness.derivatives"
    label = "derivatives"
    verbose_name = _("Playback copies and previews")
