"""Accounts pages (issue 5 item 6) and the consoles of the system and security
administrators (issue 5 item 1, 三员分立).

- Own account (``account.self``, every signed-in account): the account page, the password
  change, the second factor's verification and enrolment.
- Security administrator (``role.assign``): who holds which role; give and end roles
  through witness.org.services, which refuses a second administrator role and audits.
- System administrator (``user.manage``): technical settings of accounts — active or not,
  a forced password change, the second factor's reset, the log-in lock.

Neither console shows recordings, activities, cases or the audit log. Every gate is
witness.web.views.common.roles_required (the policy table of witness.access.policy)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import views as auth_views
from django.db import transaction
from django.db.models import Prefetch, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from witness.accounts import otp, passwords
from witness.accounts.forms import (
    CodeForm,
    NewPasswordChangeForm,
    RoleAssignForm,
    RoleEndForm,
    UserSettingsForm,
)
from witness.accounts.middleware import pending_step
from witness.accounts.models import SecondFactorFailures
from witness.audit import services as audit
from witness.core.errors import Refused, WitnessError
from witness.org import services as org
from witness.org.models import Person, RoleAssignment
from witness.web import lockout
from witness.web.models import LoginLock
from witness.web.views.common import (
    add_error,
    error_lines,
    error_status,
    form_status,
    keyset,
    roles_required,
)

LOCKED = gettext_lazy("Too many wrong codes: this user name is locked until %(until)s. "
                      "Log in again after that time.")
WRONG_CODE = gettext_lazy("The code is not correct, or it was already used. Wait for the "
                          "next code and try again.")


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return reverse("home")


def _locked_out(request, check):
    """The lock ended the session: log out and say until when on the log-in page."""
    until = timezone.localtime(check.until).strftime("%Y-%m-%d %H:%M:%S")
    auth_logout(request)
    messages.error(request, str(LOCKED) % {"until": until})
    return redirect("login")


def _after_second_factor(request):
    """Where to go once the code was right: the password change if due, else ``next``."""
    if pending_step(request) == "password_change":
        return redirect("password_change")
    return redirect(_next_url(request))


# -- own account --------------------------------------------------------------------------


@require_GET
@roles_required("account")
def account(request):
    user = request.user
    device = otp.confirmed_device(user)
    changed = passwords.changed_at(user)
    return render(request, "accounts/account.html", {
        "device": device, "required": otp.required(user), "verified": otp.is_verified(user),
        "password_changed": changed, "password_expires": changed + passwords.max_age(),
    })


@require_http_methods(["GET", "POST"])
@roles_required("otp_verify")
def otp_verify(request):
    """The code of an account with a confirmed device (after the password)."""
    user = request.user
    if otp.confirmed_device(user) is None:
        return redirect("otp_enrol" if otp.required(user) else "home")
    if otp.is_verified(user):
        return _after_second_factor(request)
    form = CodeForm(request.POST if request.method == "POST" else None)
    status = None
    if request.method == "POST" and form.is_valid():
        check = otp.verify(request, form.cleaned_data["code"])
        if check.ok:
            return _after_second_factor(request)
        if check.locked:
            return _locked_out(request, check)
        form.add_error("code", str(WRONG_CODE))
        status = 400
    return render(request, "accounts/otp_verify.html",
                  {"form": form, "next": request.GET.get("next", request.POST.get("next", ""))},
                  status=form_status(form, status))


@require_http_methods(["GET", "POST"])
@roles_required("otp_enrol")
def otp_enrol(request):
    """Set up an authenticator app: the key as QR code (SVG drawn here) and in base32, then
    the first code confirms it. An account that already has a device verifies instead."""
    user = request.user
    if otp.confirmed_device(user) is not None:
        return redirect("otp_verify")
    form = CodeForm(request.POST if request.method == "POST" else None)
    status = None
    if request.method == "POST" and form.is_valid():
        check = otp.confirm(request, form.cleaned_data["code"])
        if check.ok:
            messages.success(request, _("Second factor set up. From now on you enter a code "
                                        "from your authenticator app after your password."))
            return _after_second_factor(request)
        if check.locked:
            return _locked_out(request, check)
        form.add_error("code", str(WRONG_CODE))
        status = 400
    device = otp.pending_device(user)
    uri = otp.otpauth_uri(device)
    return render(request, "accounts/otp_enrol.html", {
        "form": form, "uri": uri, "qr_svg": otp.qr_svg(uri), "secret": otp.secret(device),
        "required": otp.required(user), "issuer": otp.issuer(),
        "next": request.GET.get("next", request.POST.get("next", "")),
    }, status=form_status(form, status))


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's view with our template and form; the change is audited in its transaction
    (the time of the change is recorded by witness.accounts.passwords)."""

    template_name = "accounts/password_change.html"
    form_class = NewPasswordChangeForm
    success_url = reverse_lazy("account")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["reason"] = passwords.due_in_session(self.request)
        context["max_days"] = passwords.max_age().days
        return context

    def form_valid(self, form):
        with transaction.atomic():
            response = super().form_valid(form)
            audit.append(self.request.user, "auth.password.change", self.request.user,
                         details={"username": self.request.user.get_username()})
        passwords.changed_in_session(self.request)
        messages.success(self.request, _("Your password was changed."))
        return response

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 400
        return response


password_change = roles_required("password_change")(PasswordChangeView.as_view())


# -- security administrator: roles ---------------------------------------------------------


def _role_page(request, form=None, status=200, errors=None):
    now = timezone.now()
    current = (RoleAssignment.objects.filter(Q(effective_to__isnull=True)
                                             | Q(effective_to__gt=now))
               .select_related("unit").order_by("effective_from", "role", "id"))
    people = (Person.objects.filter(agency=request.agency).select_related("unit")
              .prefetch_related(Prefetch("roles", queryset=current, to_attr="held")))
    query = request.GET.get("q", "").strip()
    if query:
        people = people.filter(Q(name__icontains=query) | Q(badge_number__icontains=query)
                               | Q(user__username__icontains=query))
    page = keyset(request, people, "name", descending=False)
    for person in page.rows:
        for assignment in person.held:
            assignment.in_effect = assignment.effective_from <= now
    return render(request, "accounts/roles.html", {
        "page": page, "query": query, "errors": errors or [],
        "form": form or RoleAssignForm(agency=request.agency), "end_form": RoleEndForm(),
    }, status=status)


@require_GET
@roles_required("role_list")
def role_list(request):
    return _role_page(request)


@require_POST
@roles_required("role_assign")
def role_assign(request):
    form = RoleAssignForm(request.POST, agency=request.agency)
    status = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            assignment = org.assign_role(data["person"], data["role"], unit=data["unit"],
                                         effective_from=data["effective_from"],
                                         actor=request.user)
        except WitnessError as exc:
            status = add_error(form, exc)
        else:
            messages.success(request, _("%(name)s holds the role %(role)s from %(at)s.") % {
                "name": data["person"].name, "role": assignment.get_role_display(),
                "at": timezone.localtime(assignment.effective_from).strftime(
                    "%Y-%m-%d %H:%M")})
            return redirect("role_list")
    return _role_page(request, form, form_status(form, status))


@require_POST
@roles_required("role_end")
def role_end(request, pk):
    assignment = get_object_or_404(RoleAssignment.objects.select_related("person"), pk=pk,
                                   person__agency=request.agency)
    form = RoleEndForm(request.POST)
    if not form.is_valid():
        return _role_page(request, status=400,
                          errors=[str(e) for errs in form.errors.values() for e in errs])
    try:
        org.end_role(assignment, form.cleaned_data["at"] or timezone.now(),
                     actor=request.user)
    except WitnessError as exc:
        return _role_page(request, status=error_status(exc), errors=error_lines(exc))
    messages.success(request, _("%(name)s no longer holds the role %(role)s.") % {
        "name": assignment.person.name, "role": assignment.get_role_display()})
    return redirect("role_list")


# -- system administrator: technical user settings -----------------------------------------


def _agency_users(agency):
    return get_user_model().objects.filter(Q(person__agency=agency) | Q(person__isnull=True))


@require_GET
@roles_required("user_list")
def user_list(request):
    users = _agency_users(request.agency).select_related("person", "password_state")
    query = request.GET.get("q", "").strip()
    if query:
        users = users.filter(Q(username__icontains=query) | Q(person__name__icontains=query))
    page = keyset(request, users, "username", descending=False)
    ids = [u.pk for u in page.rows]
    enrolled = set(TOTPDevice.objects.filter(user_id__in=ids, confirmed=True)
                   .values_list("user_id", flat=True))
    locks = dict(LoginLock.objects.filter(username__in=[u.username for u in page.rows],
                                          locked_until__gt=lockout.now())
                 .values_list("username", "locked_until"))
    for user in page.rows:
        user.totp_enrolled = user.pk in enrolled
        user.locked_until = locks.get(user.username)
        user.password_due = passwords.must_change(user)
    return render(request, "accounts/users.html", {
        "page": page, "query": query, "actions": UserSettingsForm.ACTIONS})


def _unlock(user, actor) -> None:
    name = lockout.key(user.get_username())
    until = lockout.locked_until(name)
    if until is None:
        raise Refused(gettext_lazy("The user name %(username)s is not locked."),
                      code="not_locked", username=name)
    LoginLock.objects.filter(username=name).delete()
    SecondFactorFailures.objects.filter(user=user).delete()
    audit.append(actor, "auth.unlock", user,
                 details={"username": name, "was_locked_until": lockout.local_time(until)})


def _set_active(user, active: bool, actor) -> None:
    if user.pk == actor.pk and not active:
        raise Refused(gettext_lazy("You cannot deactivate your own account."),
                      code="own_account")
    if user.is_active == active:
        raise Refused(gettext_lazy("The account %(username)s is already %(state)s."),
                      code="already_set", username=user.get_username(),
                      state=gettext_lazy("active") if active else gettext_lazy("inactive"))
    user.is_active = active
    user.save(update_fields=["is_active"])
    audit.append(actor, "user.activate" if active else "user.deactivate", user,
                 details={"username": user.get_username()})


@require_POST
@roles_required("user_settings")
def user_settings(request, pk):
    user = get_object_or_404(_agency_users(request.agency), pk=pk)
    form = UserSettingsForm(request.POST)
    if not form.is_valid():
        messages.error(request, "\n".join(str(e) for errs in form.errors.values()
                                          for e in errs))
        return redirect(reverse("user_list"))
    action = form.cleaned_data["action"]
    name = user.get_username()
    try:
        if action == "reset_otp":
            otp.reset(user, actor=request.user)
            done = _("The second factor of %(username)s was reset: the account sets up a new "
                     "one at its next request.")
        else:
            with transaction.atomic():
                if action in ("activate", "deactivate"):
                    _set_active(user, action == "activate", request.user)
                    done = (_("The account %(username)s is active.") if action == "activate"
                            else _("The account %(username)s is deactivated."))
                elif action == "force_password":
                    passwords.force_change(user)
                    audit.append(request.user, "user.password.force", user,
                                 details={"username": name})
                    done = _("%(username)s must change the password at the next log-in.")
                else:
                    _unlock(user, request.user)
                    done = _("The user name %(username)s is unlocked.")
    except WitnessError as exc:
        return render(request, "accounts/user_refused.html",
                      {"error_lines": error_lines(exc), "target": user},
                      status=error_status(exc))
    messages.success(request, done % {"username": name})
    return redirect(reverse("user_list") + "?" + urlencode({"q": name}))
