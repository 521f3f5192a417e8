"""The custodian's assignment queue (issue 3 item 3): recordings that ingest could not
attribute for certain go to a person, who assigns each to an activity or confirms it was
made outside any (a fact the ACT-6 rule looks at). Every decision is audited with what it
changed."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from witness.activities.models import Activity
from witness.audit import services as audit
from witness.compliance import checks as compliance_checks
from witness.core.errors import WitnessError

from . import segments
from .models import Attribution, Recording


def queue(agency):
    """The recordings of ``agency`` (by the ingest run that brought them) waiting for the
    custodian."""
    return Recording.objects.filter(attribution=Attribution.QUEUED,
                                    ingest_run__agency=agency)


@transaction.atomic
def assign(recording: Recording, activity: Activity | None, *, actor, note: str = "",
           ) -> Recording:
    """Assign ``recording`` to ``activity``, or (None) confirm it belongs to none; a note
    is required for the latter. Refused for a recording already attributed by ingest."""
    recording = Recording.objects.select_for_update().get(pk=recording.pk)
    if recording.attribution == Attribution.ATTRIBUTED:
        raise WitnessError(_("Recording %(id)s was attributed at ingest; it is not in the "
                             "queue."), code="not_queued", id=recording.pk)
    note = note.strip()
    if activity is None and not note:
        raise WitnessError(_("Say why the recording belongs to no activity."),
                           code="note_required")
    if (activity is not None and recording.ingest_run is not None
            and activity.agency_id != recording.ingest_run.agency_id):
        raise WitnessError(_("The activity belongs to another agency."), code="other_agency")
    before = {"activity": recording.activity_id, "attribution": recording.attribution}
    old_activity = recording.activity_id
    recording.activity = activity
    recording.attribution = Attribution.ASSIGNED if activity else Attribution.NO_ACTIVITY
    recording.save(update_fields=["activity", "attribution"])
    after = {"activity": recording.activity_id, "attribution": recording.attribution}
    audit.append(actor, "recording.assign", recording,
                 details={"before": before, "after": after, "note": note,
                          "queue_reason": recording.queue_reason})
    if old_activity and old_activity != recording.activity_id:
        segments.clear(recording)
        segments.recompute(old_activity, recording.device_id)
    segments.recompute(recording.activity_id, recording.device_id)
    # issue 6: the rules re-decide both activities once the assignment commits
    compliance_checks.enqueue_on_commit([old_activity, recording.activity_id])
    recording.refresh_from_db()
    return recording
