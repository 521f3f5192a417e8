from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "witness.accounts"
    label = "accounts"
    verbose_name = _("accounts and second factor")

    def ready(self):
        from witness.accounts import passwords  # noqa: F401 - connects the password receiver
