"""Forms of the accounts pages and the administrators' consoles. They check the shape of
the input; the rules are the services' (witness.org.services, witness.accounts.otp)."""

from django import forms
from django.contrib.auth.forms import PasswordChangeForm
from django.utils.translation import gettext_lazy as _

from witness.org.models import Role
from witness.web.forms import DateTimeLocalInput, PersonChoiceField, agency_people, agency_units


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Six-digit code"), max_length=12,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                      "autofocus": True, "pattern": "[0-9 ]*"}))

    def clean_code(self):
        code = self.cleaned_data["code"].replace(" ", "")
        if len(code) != 6 or not code.isascii() or not code.isdigit():
            raise forms.ValidationError(_("Enter the six digits your authenticator app "
                                          "shows."), code="code_format")
        return code


class NewPasswordChangeForm(PasswordChangeForm):
    """Django's form (old password, new password twice, the validators of
    AUTH_PASSWORD_VALIDATORS) that also refuses the password in use."""

    def clean(self):
        cleaned = super().clean()
        new = cleaned.get("new_password2")
        if new and "new_password2" not in self.errors and self.user.check_password(new):
            self.add_error("new_password2", forms.ValidationError(
                _("The new password must differ from the current one."),
                code="password_unchanged"))
        return cleaned


class RoleAssignForm(forms.Form):
    person = PersonChoiceField(label=_("person"), queryset=None)
    role = forms.ChoiceField(label=_("role"), choices=Role.choices)
    unit = forms.ModelChoiceField(label=_("unit scope"), queryset=None, required=False,
                                  help_text=_("Only for a role with a unit: the unit a head "
                                              "heads, a custodian keeps devices for."))
    effective_from = forms.DateTimeField(label=_("effective from"), required=False,
                                         widget=DateTimeLocalInput(),
                                         help_text=_("Empty: now."))

    def __init__(self, *args, agency, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = agency_people(agency)
        self.fields["unit"].queryset = agency_units(agency)


class RoleEndForm(forms.Form):
    at = forms.DateTimeField(label=_("ends at"), required=False, widget=DateTimeLocalInput(),
                             help_text=_("Empty: now."))


class UserSettingsForm(forms.Form):
    ACTIONS = [
        ("activate", _("Activate the account")),
        ("deactivate", _("Deactivate the account")),
        ("force_password", _("Require a password change at the next log-in")),
        ("reset_otp", _("Reset the second factor")),
        ("unlock", _("Unlock the user name")),
    ]
    action = forms.ChoiceField(label=_("action"), choices=ACTIONS)
