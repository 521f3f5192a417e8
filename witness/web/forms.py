"""Forms of the web shell. They check the shape of the input; the rules are the services'."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.activities.models import Case, CaseStatus, RetentionClass
from witness.devices.models import DeviceKind, DeviceStatus, EventKind
from witness.org.models import Person, Role, Unit
from witness.org.services import people_with_role
from witness.web import lockout

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None, seconds: bool = False):
        fmt = DATETIME_LOCAL + (":%S" if seconds else "")
        super().__init__(attrs={**(attrs or {}), **({"step": "1"} if seconds else {})},
                         format=fmt)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name}（{obj.unit.name}）"


class PeopleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name}（{obj.unit.name}）"


def agency_people(agency):
    return (Person.objects.filter(agency=agency, active=True).select_related("unit")
            .order_by("unit__name", "name"))


def agency_officers(agency):
    """Enforcement staff: those with an enforcement badge number (执法证号)."""
    return agency_people(agency).filter(badge_number__isnull=False).exclude(badge_number="")


def agency_units(agency):
    return Unit.objects.filter(agency=agency).order_by("name")


class LoginForm(AuthenticationForm):
    error_messages = {
        "invalid_login": _("The user name or password is incorrect. Both are case-sensitive."),
        "inactive": _("This account is disabled."),
        "locked": _("Too many failed log-ins: this user name is locked until %(until)s. "
                    "Try again after that time."),
    }

    def get_invalid_login_error(self):
        """The lock, when the user name is locked (witness.web.lockout refused the attempt,
        or this failure locked it); otherwise the usual message."""
        until = lockout.locked_until(self.cleaned_data.get("username"))
        if until is None:
            return super().get_invalid_login_error()
        shown = timezone.localtime(until).strftime("%Y-%m-%d %H:%M:%S")
        return forms.ValidationError(self.error_messages["locked"], code="locked",
                                     params={"until": shown})


# -- devices -------------------------------------------------------------------------------


class DeviceFilterForm(forms.Form):
    unit = forms.ModelChoiceField(queryset=Unit.objects.none(), required=False,
                                  label=_("unit"), empty_label=_("All units"))
    status = forms.ChoiceField(required=False, label=_("status"),
                               choices=[("", _("Any status")), *DeviceStatus.choices])

    def __init__(self, agency, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = agency_units(agency)


class LedgerFilterForm(forms.Form):
    unit = forms.ModelChoiceField(queryset=Unit.objects.none(), required=False,
                                  label=_("owning unit"), empty_label=_("All units"))
    open_only = forms.BooleanField(required=False, label=_("only devices still out"))

    def __init__(self, agency, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = agency_units(agency)


class ReturnForm(forms.Form):
    notes = forms.CharField(required=False, label=_("notes on return"),
                            widget=forms.Textarea(attrs={"rows": 2}))


class CheckForm(forms.Form):
    """DEV-4: battery, free storage and the time the device shows (drift is computed by
    the server when the form is saved)."""

    battery_percent = forms.IntegerField(
        min_value=0, max_value=100, label=_("battery %"),
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
    free_storage_mb = forms.IntegerField(
        min_value=0, label=_("free storage (MB)"),
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
    device_time = forms.DateTimeField(
        label=_("time shown on the device"),
        help_text=_("Read the date and time from the device screen and correct this field "
                    "if they differ."),
        widget=DateTimeLocalInput(attrs={"data-clock": "live"}, seconds=True))
    working = forms.BooleanField(required=False, initial=True, label=_("device works"))
    notes = forms.CharField(required=False, label=_("notes"),
                            widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["device_time"].initial = timezone.localtime().replace(microsecond=0)


class IssueForm(CheckForm):
    """Issue (DEV-3) with the pre-use check at issue (DEV-4, A7, B12) in one form: the
    ledger line and its check are saved together."""

    holder = PersonChoiceField(queryset=Person.objects.none(), label=_("holder"))
    purpose = forms.CharField(max_length=300, required=False, label=_("purpose"))
    long_term = forms.BooleanField(required=False, label=_("held long-term"))

    field_order = ["holder", "purpose", "long_term"]

    def __init__(self, agency, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["holder"].queryset = agency_people(agency)

    def issue_fields(self):
        return [self[name] for name in self.field_order]

    def check_fields(self):
        return [field for field in self.visible_fields() if field.name not in self.field_order]

    def check_data(self, checked_by) -> dict:
        data = self.cleaned_data
        return {"checked_by": checked_by, "battery_percent": data["battery_percent"],
                "free_storage_mb": data["free_storage_mb"], "device_time": data["device_time"],
                "working": data["working"], "notes": data["notes"]}


class CapabilitySelect(forms.NullBooleanSelect):
    """Yes, no, or what the kind of device usually does (the service's default)."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.choices = [("unknown", _("as usual for this kind")), ("true", _("yes")),
                        ("false", _("no"))]


def capability(label):
    return forms.NullBooleanField(required=False, label=label, widget=CapabilitySelect)


class RegisterForm(forms.Form):
    """DEV-1: a device in the registry."""

    kind = forms.ChoiceField(choices=DeviceKind.choices, label=_("kind"))
    serial = forms.CharField(max_length=100, label=_("serial number"))
    model = forms.CharField(max_length=100, required=False, label=_("model"))
    manufacturer = forms.CharField(max_length=100, required=False, label=_("manufacturer"))
    unit = forms.ModelChoiceField(queryset=Unit.objects.none(), label=_("owning unit"))
    custodian = PersonChoiceField(queryset=Person.objects.none(), required=False,
                                  label=_("custodian"), empty_label=_("No custodian"))
    records_video = capability(_("records video"))
    records_audio = capability(_("records audio"))
    takes_photos = capability(_("takes photos"))
    notes = forms.CharField(required=False, label=_("notes"),
                            widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, agency, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = agency_units(agency)
        self.fields["custodian"].queryset = (
            people_with_role(Role.CUSTODIAN).filter(agency=agency).select_related("unit")
            .order_by("name"))


class EventForm(forms.Form):
    """DEV-5: maintenance, repair, upgrade, replacement, damage, loss, compensation."""

    kind = forms.ChoiceField(choices=EventKind.choices, label=_("kind"))
    description = forms.CharField(label=_("description"),
                                  widget=forms.Textarea(attrs={"rows": 3}))
    responsible = PersonChoiceField(queryset=Person.objects.none(), required=False,
                                    label=_("responsible person"),
                                    empty_label=_("Nobody named"))
    amount_yuan = forms.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False, label=_("amount (yuan)"),
        help_text=_("Cost of a repair, or the sum of a compensation."),
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.01"}))
    occurred_at = forms.DateTimeField(required=False, label=_("occurred at"),
                                      help_text=_("Leave empty for now."),
                                      widget=DateTimeLocalInput())
    back_in_service = forms.BooleanField(
        required=False, label=_("back in service"),
        help_text=_("The device works again and may be issued."))

    def __init__(self, agency, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["responsible"].queryset = agency_people(agency)


# -- cases ---------------------------------------------------------------------------------


class CaseFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, label=_("status"),
                               choices=[("", _("Any status")), *CaseStatus.choices])


class CaseForm(forms.Form):
    number = forms.CharField(max_length=100, label=_("case number"))
    name = forms.CharField(max_length=300, label=_("case name"))
    leader_in_charge = PersonChoiceField(queryset=Person.objects.none(),
                                         label=_("leader in charge"))
    retention_class = forms.ChoiceField(choices=RetentionClass.choices,
                                        initial=RetentionClass.Y30, label=_("retention class"))
    opened_at = forms.DateTimeField(required=False, label=_("opened at"),
                                    help_text=_("Leave empty for now."),
                                    widget=DateTimeLocalInput())

    def __init__(self, agency, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["leader_in_charge"].queryset = (
            people_with_role(Role.LEADER).filter(agency=agency).select_related("unit")
            .order_by("name"))


# -- activities ----------------------------------------------------------------------------


class ActivityFilterForm(forms.Form):
    unit = forms.ModelChoiceField(queryset=Unit.objects.none(), required=False,
                                  label=_("unit"), empty_label=_("All units"))
    activity_type = forms.ChoiceField(required=False, label=_("activity type"))
    start = forms.DateField(required=False, label=_("from"), widget=DateInput())
    end = forms.DateField(required=False, label=_("to"), widget=DateInput())

    def __init__(self, agency, types, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = agency_units(agency)
        self.fields["activity_type"].choices = [("", _("All types")),
                                                *((t.code, t.name) for t in types)]


class ActivityForm(forms.Form):
    """ACT-2: what an enforcement activity records."""

    activity_type = forms.ChoiceField(label=_("activity type"))
    unit = forms.ModelChoiceField(queryset=Unit.objects.none(), label=_("unit"))
    case = forms.ModelChoiceField(queryset=Case.objects.none(), required=False,
                                  label=_("case"), empty_label=_("No case"))
    place = forms.CharField(max_length=300, label=_("place"))
    arrived_at = forms.DateTimeField(label=_("arrival"), widget=DateTimeLocalInput())
    departed_at = forms.DateTimeField(label=_("departure"), widget=DateTimeLocalInput())
    officers = PeopleChoiceField(queryset=Person.objects.none(), label=_("officers"),
                                 help_text=_("Staff with an enforcement badge number."),
                                 widget=forms.CheckboxSelectMultiple)
    recorder = PersonChoiceField(queryset=Person.objects.none(),
                                 label=_("designated recorder"),
                                 help_text=_("One of the officers above."))
    party = forms.CharField(max_length=300, required=False, label=_("party"))
    scene = forms.CharField(required=False, label=_("scene"),
                            widget=forms.Textarea(attrs={"rows": 3}))
    party_conduct = forms.CharField(required=False, label=_("party's conduct"),
                                    widget=forms.Textarea(attrs={"rows": 3}))
    violations_found = forms.CharField(required=False, label=_("violations found"),
                                       widget=forms.Textarea(attrs={"rows": 3}))
    evidence_items = forms.CharField(
        required=False, label=_("key evidence items"),
        help_text=_("One item per line; each needs a photo."),
        widget=forms.Textarea(attrs={"rows": 3}))
    off_site = forms.BooleanField(required=False, label=_("off-site duty"))
    remote = forms.BooleanField(required=False, label=_("remote area"))
    continuous = forms.BooleanField(required=False, label=_("continuous duty"))
    returned_to_unit_at = forms.DateTimeField(
        required=False, label=_("returned to the unit at"),
        help_text=_("Only for off-site, remote or continuous duty."),
        widget=DateTimeLocalInput())

    def __init__(self, agency, types, *args, **kwargs):
        super().__init__(*args, **kwargs)
        people = agency_officers(agency)
        self.fields["activity_type"].choices = [(t.code, t.name) for t in types]
        self.fields["unit"].queryset = agency_units(agency)
        self.fields["case"].queryset = (Case.objects.filter(agency=agency,
                                                            status=CaseStatus.OPEN)
                                        .order_by("-opened_at", "-id"))
        self.fields["officers"].queryset = people
        self.fields["recorder"].queryset = people

    def evidence_list(self) -> list[str]:
        text = self.cleaned_data.get("evidence_items") or ""
        return [line.strip() for line in text.splitlines() if line.strip()]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files from one input (the pattern of Django's file-upload documentation)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple) and data:
            return [single(d, initial) for d in data]
        return [single(data or None, initial)]  # none chosen: "This field is required."


class UploadForm(forms.Form):
    """Photos and recorder files for one device, or historical footage (issue 3 item 6)."""

    device = forms.ModelChoiceField(
        queryset=None, required=False, label=_("device"),
        empty_label=_("none: historical footage (goes to the assignment queue)"))
    files = MultipleFileField(label=_("files"),
                              help_text=_("video, audio or photos; names are kept exactly"))

    def __init__(self, agency, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from witness.devices.models import Device

        self.fields["device"].queryset = (Device.objects.filter(unit__agency=agency)
                                          .select_related("unit").order_by("serial"))
        self.fields["device"].label_from_instance = (
            lambda d: f"{d.serial} · {d.get_kind_display()} · {d.unit.name}")
