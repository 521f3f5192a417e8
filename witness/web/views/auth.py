"""Log in and log out (Django's views with our template and Chinese-first messages).
Audit entries for both are written by witness.web.signals; the lock after failed log-ins
is witness.web.lockout's."""

from django.contrib.auth import views as auth_views

from witness.web.forms import LoginForm


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    """POST only (Django 5)."""
