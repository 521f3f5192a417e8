"""Top floor: server-rendered pages (Django templates + HTMX). No business rules here."""
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebConfig(AppConfig):
    name = "witness.web"
    label = "web"
    verbose_name = _("Web application")

    def ready(self):
        from django.contrib.auth import signals as auth

        from witness.web import signals

        auth.user_logged_in.connect(signals.on_login, dispatch_uid="witness.web.login")
        auth.user_login_failed.connect(signals.on_login_failed,
                                       dispatch_uid="witness.web.login_failed")
        auth.user_logged_out.connect(signals.on_logout, dispatch_uid="witness.web.logout")
