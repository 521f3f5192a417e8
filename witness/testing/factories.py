"""factory_boy factories for the domain models. They create rows directly (fast); tests
of services call the services themselves."""

import hashlib
from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from witness.activities.models import Activity, ActivityOfficer, Case
from witness.devices.models import Device, DeviceKind
from witness.org.models import Agency, Person, PersonUnitHistory, RoleAssignment, Unit
from witness.recordings.models import Attribution, IngestRun, QueueReason, Recording
from witness.storage.models import Blob

PASSWORD = "correct-horse-battery"  # noqa: S105 - every UserFactory user's, tests only


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password(PASSWORD)


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency

    name = factory.Sequence(lambda n: f"测试市场监督管理局{n}")
    code = factory.Sequence(lambda n: f"agency{n}")


class UnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Unit

    agency = factory.SubFactory(AgencyFactory)
    name = factory.Sequence(lambda n: f"执法{n}科")
    code = factory.Sequence(lambda n: f"unit{n}")
    has_field_duty = True


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person
        skip_postgeneration_save = True

    unit = factory.SubFactory(UnitFactory)
    agency = factory.LazyAttribute(lambda o: o.unit.agency)
    name = factory.Sequence(lambda n: f"张{n}")
    badge_number = factory.Sequence(lambda n: f"41040{n:05d}")

    @factory.post_generation
    def history(self, create, extracted, **kwargs):
        if create:
            PersonUnitHistory.objects.create(
                person=self, unit=self.unit,
                effective_from=extracted or timezone.now() - timedelta(days=365))

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            for role in extracted:
                RoleAssignment.objects.create(person=self, role=role,
                                              effective_from=timezone.now() - timedelta(days=365))


class DeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Device

    kind = DeviceKind.BODY_CAMERA
    serial = factory.Sequence(lambda n: f"ZFJLY-{n:06d}")
    model = "DSJ-A9"
    unit = factory.SubFactory(UnitFactory)
    records_video = True
    records_audio = True
    takes_photos = True


class CaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Case

    agency = factory.SubFactory(AgencyFactory)
    number = factory.Sequence(lambda n: f"鲁市监立〔2026〕{n}号")
    name = factory.Sequence(lambda n: f"某商行销售过期食品案{n}")
    leader_in_charge = factory.SubFactory(PersonFactory, unit__agency=factory.SelfAttribute(
        "...agency"))


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    unit = factory.SubFactory(UnitFactory)
    agency = factory.LazyAttribute(lambda o: o.unit.agency)
    activity_type = "on_site_enforcement"
    place = factory.Sequence(lambda n: f"鲁山县人民路{n}号")
    arrived_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=3))
    departed_at = factory.LazyAttribute(lambda o: o.arrived_at + timedelta(hours=1))
    party = "某某商行"


class ActivityOfficerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ActivityOfficer

    activity = factory.SubFactory(ActivityFactory)
    person = factory.SubFactory(PersonFactory)
    is_recorder = False


class BlobFactory(factory.django.DjangoModelFactory):
    """A Blob row only (no stored bytes): for pages and rules that read the register."""

    class Meta:
        model = Blob

    sha256 = factory.Sequence(lambda n: hashlib.sha256(f"blob {n}".encode()).hexdigest())
    size = 1024
    backend = "file"
    key = factory.LazyAttribute(lambda o: f"sha256/{o.sha256[:2]}/{o.sha256[2:4]}/{o.sha256}")
    digests = factory.LazyAttribute(lambda o: {"sha256": o.sha256})


class IngestRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IngestRun

    volume = "/media/camera"
    agency = factory.SubFactory(AgencyFactory)
    status = "done"


class RecordingFactory(factory.django.DjangoModelFactory):
    """A recording in the custodian's queue unless told otherwise."""

    class Meta:
        model = Recording

    blob = factory.SubFactory(BlobFactory)
    device = factory.SubFactory(DeviceFactory)
    kind = "video"
    source_path = factory.Sequence(lambda n: f"DCIM/100MEDIA/FILE_{n:04d}.MP4")
    source_path_bytes = factory.LazyAttribute(lambda o: o.source_path.encode())
    started_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=2))
    ended_at = factory.LazyAttribute(lambda o: o.started_at + timedelta(minutes=5))
    time_source = "file_name"
    attribution = Attribution.QUEUED
    queue_reason = QueueReason.NO_ACTIVITY
    ingest_run = factory.SubFactory(IngestRunFactory,
                                    agency=factory.SelfAttribute("..device.unit.agency"))
