"""Forms of the viewing and disclosure requests (issue 5 items 3 and 5; EVD-2, EVD-3).
They check the shape of the input; the rules (period, scope, chain) are witness.access.chain's."""

from datetime import timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.access.models import Delivery, RecipientKind
from witness.web.forms import DateInput, DateTimeLocalInput


def _hour(delta=timedelta(0)):
    return timezone.localtime(timezone.now() + delta).replace(minute=0, second=0,
                                                              microsecond=0)


class RequestForm(forms.Form):
    reason = forms.CharField(label=_("reason (查阅事由)"), widget=forms.Textarea(attrs={"rows": 3}),
                             max_length=2000)
    wanted_from = forms.DateTimeField(label=_("wanted from"), widget=DateTimeLocalInput())
    wanted_until = forms.DateTimeField(label=_("wanted until"), widget=DateTimeLocalInput())
    may_download = forms.BooleanField(label=_("also download (needs approval)"),
                                      required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("wanted_from", _hour())
            self.initial.setdefault("wanted_until", _hour(timedelta(days=7)))


class DisclosureForm(RequestForm):
    recipient_kind = forms.ChoiceField(label=_("recipient kind"), choices=RecipientKind.choices)
    recipient_name = forms.CharField(label=_("recipient"), max_length=200)
    recipient_org = forms.CharField(label=_("recipient's organisation"), max_length=200,
                                    required=False)
    delivery = forms.ChoiceField(label=_("delivery"), choices=Delivery.choices)
    field_order = ["recipient_kind", "recipient_name", "recipient_org", "delivery", "reason",
                   "wanted_from", "wanted_until", "may_download"]


class NoteForm(forms.Form):
    note = forms.CharField(label=_("note or reason"), required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))


class RevokeForm(forms.Form):
    reason = forms.CharField(label=_("why revoked"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 2}))


class RegisterFilterForm(forms.Form):
    since = forms.DateField(label=_("from"), required=False, widget=DateInput())
    until = forms.DateField(label=_("to"), required=False, widget=DateInput())

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["until"] < data["since"]:
            raise forms.ValidationError(_("The end date must not be before the start date."))
        return data

    def bounds(self):
        """(since, until) as aware datetimes: from the start of ``since`` to the end of
        ``until`` in local time; None where not given or not valid."""
        if not self.is_valid():
            return None, None
        tz = timezone.get_current_timezone()
        since = self.cleaned_data.get("since")
        until = self.cleaned_data.get("until")
        from datetime import datetime, time

        start = datetime.combine(since, time.min, tzinfo=tz) if since else None
        end = datetime.combine(until, time.min, tzinfo=tz) + timedelta(days=1) if until else None
        return start, end
