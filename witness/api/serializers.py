"""What the API shows and accepts (issue 5 item 7). Metadata only: no recording content,
no storage key, no storage URL ever appears here."""

from __future__ import annotations

from datetime import UTC, datetime

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from witness.access.labels import Label
from witness.activities.models import Activity, Case, RetentionClass
from witness.devices.models import Device, DeviceIssue, DeviceStatus
from witness.org.models import Person, Unit
from witness.recordings.models import Attribution, MediaKind, Recording

MAX_ID = 2**63 - 1
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class Moment(serializers.DateTimeField):
    """A date and time (ISO 8601; without an offset, local time) between 1970 and 2100."""

    default_error_messages = {
        "range": _("A date and time between 1970 and 2100 is needed."),
    }

    def to_internal_value(self, value):
        result = super().to_internal_value(value)
        try:
            if not EARLIEST <= result <= LATEST:
                self.fail("range")
        except (OverflowError, TypeError):
            self.fail("range")
        return result


class Id(serializers.IntegerField):
    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


class AgencyRelated(serializers.PrimaryKeyRelatedField):
    """A row of the asking subject's agency, by id (``agency_filter``: the lookup path)."""

    def __init__(self, model, agency_filter: str, **kwargs):
        self.model, self.agency_filter = model, agency_filter
        kwargs.setdefault("queryset", model.objects.all())
        super().__init__(**kwargs)

    def get_queryset(self):
        subject = self.context["subject"]
        return self.model.objects.filter(**{self.agency_filter: subject.agency})

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int) or not 1 <= data <= MAX_ID:
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)


# -- references ---------------------------------------------------------------------------


class UnitRef(serializers.ModelSerializer):
    class Meta:
        model = Unit
        fields = ["id", "code", "name"]


class PersonRef(serializers.ModelSerializer):
    class Meta:
        model = Person
        fields = ["id", "name", "badge_number"]


class DeviceRef(serializers.ModelSerializer):
    class Meta:
        model = Device
        fields = ["id", "serial", "kind"]


class CaseRef(serializers.ModelSerializer):
    class Meta:
        model = Case
        fields = ["id", "number", "name"]


class Bilingual(serializers.Serializer):
    zh = serializers.CharField()
    en = serializers.CharField()


class ErrorBody(serializers.Serializer):
    code = serializers.CharField()
    zh = serializers.CharField()
    en = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                   required=False)


class Error(serializers.Serializer):
    """Every refusal: ``{"error": {"code", "zh", "en"[, "fields"]}}``."""

    error = ErrorBody()


# -- devices and the ledger ---------------------------------------------------------------


class Holding(serializers.Serializer):
    ledger_id = serializers.IntegerField(source="pk")
    holder = PersonRef()
    holder_unit = UnitRef()
    issued_at = serializers.DateTimeField()
    long_term = serializers.BooleanField()


class DeviceSerializer(serializers.ModelSerializer):
    unit = UnitRef()
    custodian = PersonRef(allow_null=True)
    out_with = serializers.SerializerMethodField()

    class Meta:
        model = Device
        fields = ["id", "serial", "kind", "model", "manufacturer", "unit", "custodian",
                  "status", "records_video", "records_audio", "takes_photos",
                  "registered_at", "notes", "out_with"]

    @extend_schema_field(Holding(allow_null=True))
    def get_out_with(self, device):
        """The open ledger line (who holds the device now), or null."""
        rows = getattr(device, "open_issues", None)
        if rows is None:
            rows = list(device.issues.filter(returned_at__isnull=True)
                        .select_related("holder", "holder_unit"))
        return Holding(rows[0]).data if rows else None


class LedgerSerializer(serializers.ModelSerializer):
    device = DeviceRef()
    holder = PersonRef()
    holder_unit = UnitRef()

    class Meta:
        model = DeviceIssue
        fields = ["id", "device", "holder", "holder_unit", "issued_at", "purpose",
                  "long_term", "returned_at", "return_notes"]


class DeviceFilter(serializers.Serializer):
    unit = Id(required=False, help_text=_("only devices of this unit (id)"))
    status = serializers.ChoiceField(choices=DeviceStatus.choices, required=False)


class LedgerFilter(serializers.Serializer):
    device = Id(required=False, help_text=_("only this device (id)"))
    unit = Id(required=False, help_text=_("only devices of this unit (id)"))
    open = serializers.BooleanField(required=False, allow_null=True, default=None,
                                    help_text=_("only lines not yet returned (true) or "
                                                "only returned ones (false)"))


class CheckInput(serializers.Serializer):
    """The pre-use check made when the device is handed over (DEV-4)."""

    battery_percent = serializers.IntegerField(min_value=0, max_value=100)
    free_storage_mb = serializers.IntegerField(min_value=0, max_value=2**31 - 1)
    device_time = Moment(help_text=_("the time the device shows"))
    working = serializers.BooleanField(default=True)
    notes = serializers.CharField(required=False, allow_blank=True, default="",
                                  max_length=2000)


class IssueInput(serializers.Serializer):
    holder = AgencyRelated(Person, "agency", help_text=_("the person who takes the device"))
    purpose = serializers.CharField(required=False, allow_blank=True, default="",
                                    max_length=300)
    long_term = serializers.BooleanField(default=False)
    check = CheckInput(required=False, allow_null=True, default=None)
    no_check_reason = serializers.CharField(required=False, allow_blank=True, default="",
                                            max_length=300,
                                            help_text=_("why no pre-use check was made"))

    def validate(self, data):
        if data.get("check") is None and not data.get("no_check_reason", "").strip():
            raise serializers.ValidationError(
                {"check": [_("Give the pre-use check, or say why none was made "
                             "(no_check_reason).")]})
        return data


class ReturnInput(serializers.Serializer):
    notes = serializers.CharField(required=False, allow_blank=True, default="",
                                  max_length=2000)


# -- cases and activities -----------------------------------------------------------------


class CaseSerializer(serializers.ModelSerializer):
    leader_in_charge = PersonRef()

    class Meta:
        model = Case
        fields = ["id", "number", "name", "leader_in_charge", "retention_class", "status",
                  "opened_at", "closed_at", "label"]


class CaseInput(serializers.Serializer):
    number = serializers.CharField(max_length=100)
    name = serializers.CharField(max_length=300)
    leader_in_charge = AgencyRelated(Person, "agency",
                                     help_text=_("a bureau leader of the agency (id)"))
    retention_class = serializers.ChoiceField(choices=RetentionClass.choices,
                                              default=RetentionClass.Y30)
    opened_at = Moment(required=False, allow_null=True, default=None)


class CaseFilter(serializers.Serializer):
    status = serializers.ChoiceField(choices=Case._meta.get_field("status").choices,
                                     required=False)


class OfficerRow(serializers.Serializer):
    person = PersonRef()
    recorder = serializers.BooleanField(source="is_recorder")


class ActivitySerializer(serializers.ModelSerializer):
    unit = UnitRef()
    case = CaseRef(allow_null=True)
    officers = OfficerRow(many=True)
    evidence_items = serializers.SlugRelatedField(many=True, read_only=True,
                                                  slug_field="description")

    class Meta:
        model = Activity
        fields = ["id", "activity_type", "unit", "case", "place", "arrived_at",
                  "departed_at", "label", "party", "scene", "party_conduct",
                  "violations_found", "officers", "evidence_items", "off_site", "remote",
                  "continuous", "returned_to_unit_at", "created_at"]


class ActivityCreated(ActivitySerializer):
    warnings = serializers.SerializerMethodField()

    class Meta(ActivitySerializer.Meta):
        fields = [*ActivitySerializer.Meta.fields, "warnings"]

    @extend_schema_field(Bilingual(many=True))
    def get_warnings(self, activity):
        """Compliance gaps that did not stop the activity (fewer officers than the
        profile asks: a finding later)."""
        from witness.core.errors import both

        return [both(text) for text in getattr(activity, "warnings", ())]


class ActivityInput(serializers.Serializer):
    unit = AgencyRelated(Unit, "agency")
    activity_type = serializers.CharField(max_length=50)
    place = serializers.CharField(max_length=300)
    arrived_at = Moment()
    departed_at = Moment()
    officers = serializers.ListField(child=AgencyRelated(Person, "agency"), min_length=1,
                                     max_length=50)
    recorder = AgencyRelated(Person, "agency", help_text=_("one of the officers"))
    case = AgencyRelated(Case, "agency", required=False, allow_null=True, default=None)
    party = serializers.CharField(required=False, allow_blank=True, default="",
                                  max_length=300)
    scene = serializers.CharField(required=False, allow_blank=True, default="",
                                  max_length=10000)
    party_conduct = serializers.CharField(required=False, allow_blank=True, default="",
                                          max_length=10000)
    violations_found = serializers.CharField(required=False, allow_blank=True, default="",
                                             max_length=10000)
    evidence_items = serializers.ListField(
        child=serializers.CharField(max_length=300), required=False, default=list,
        max_length=100)
    off_site = serializers.BooleanField(default=False)
    remote = serializers.BooleanField(default=False)
    continuous = serializers.BooleanField(default=False)
    returned_to_unit_at = Moment(required=False, allow_null=True, default=None)


class ActivityFilter(serializers.Serializer):
    unit = Id(required=False)
    case = Id(required=False)
    activity_type = serializers.CharField(required=False, max_length=50)
    arrived_from = Moment(required=False, help_text=_("arrived at or after"))
    arrived_until = Moment(required=False, help_text=_("arrived before"))


# -- recordings ---------------------------------------------------------------------------


def player_path(pk: int) -> str | None:
    try:
        return reverse("recording_play", args=[pk])
    except NoReverseMatch:
        return None


class RecordingSerializer(serializers.ModelSerializer):
    device = DeviceRef(allow_null=True)
    holder = PersonRef(allow_null=True)
    sha256 = serializers.CharField(source="blob.sha256",
                                   help_text=_("SHA-256 of the original (integrity)"))
    size = serializers.IntegerField(source="blob.size", help_text=_("bytes"))
    duration = serializers.DecimalField(max_digits=12, decimal_places=3,
                                        coerce_to_string=False, allow_null=True)
    gap_before_seconds = serializers.DecimalField(max_digits=12, decimal_places=3,
                                                  coerce_to_string=False, allow_null=True)
    player = serializers.SerializerMethodField()

    class Meta:
        model = Recording
        fields = ["id", "kind", "label", "device", "holder", "activity", "source_path",
                  "started_at", "ended_at", "time_source", "device_start",
                  "clock_drift_seconds", "drift_source", "duration", "name_pattern",
                  "sequence", "badge_in_name", "important", "readable", "unreadable_reason",
                  "container", "video_codec", "audio_codec", "width", "height", "encoder",
                  "creation_time", "latitude", "longitude", "browser_playable", "attribution",
                  "queue_reason", "backfill", "segment_index", "gap_before_seconds",
                  "ingested_at", "ingest_run", "sha256", "size", "player"]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_player(self, recording):
        """The path of the player page (playing needs a viewing grant: EVD-2), or null."""
        return player_path(recording.pk)


class RecordingFilter(serializers.Serializer):
    activity = Id(required=False)
    device = Id(required=False)
    holder = Id(required=False)
    kind = serializers.ChoiceField(choices=MediaKind.choices, required=False)
    attribution = serializers.ChoiceField(choices=Attribution.choices, required=False)
    label = serializers.ChoiceField(choices=Label.choices, required=False)
    important = serializers.BooleanField(required=False, allow_null=True, default=None)
    started_from = Moment(required=False, help_text=_("started at or after"))
    started_until = Moment(required=False, help_text=_("started before"))
