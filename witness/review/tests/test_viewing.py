"""SUP-1 and EVD-2: once the bureau leader approves a campaign, its reviewers may play
exactly the sampled activities' recordings, through the real player and stream (a grant
per recording, from an access request of kind review), until the campaign closes; never
before the approval, and never a recording outside the sample."""

from __future__ import annotations

import os
import re

import pytest
from django.urls import reverse

from witness.access.models import AccessRequest, Grant, RequestKind, RequestStatus
from witness.audit.models import AuditEntry
from witness.core.errors import Refused
from witness.recordings.models import Recording
from witness.review import services
from witness.review.models import CampaignItem, CampaignStatus
from witness.storage.config import get_backend
from witness.storage.pipeline import store_file

from .conftest import make_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(settings, tmp_path):
    settings.WITNESS_STORAGE = f"file://{tmp_path / 'store'}"
    settings.WITNESS_REPLICA = ""

    def store(recording: Recording) -> bytes:
        data = os.urandom(50_000)
        source = tmp_path / f"FILE_{recording.pk}.MP4"
        source.write_bytes(data)
        blob = store_file(source, get_backend(), actor="test").blob
        Recording.objects.filter(pk=recording.pk).update(blob=blob, browser_playable=True,
                                                         container="mp4")
        return data

    return store


def play(client, recording):
    return client.get(reverse("recording_play", args=[recording.pk]))


def streamed(client, play_response) -> tuple[int, bytes]:
    html = play_response.content.decode()
    url = re.search(r'/recordings/\d+/stream/\?s=[A-Za-z0-9_-]+', html).group(0)
    response = client.get(url)
    data = b"".join(response.streaming_content) if response.streaming else b""
    return response.status_code, data


def sampled_recordings(campaign) -> set[int]:
    return set(Recording.objects.filter(
        activity__in=CampaignItem.objects.filter(campaign=campaign).values("activity_id"))
        .values_list("pk", flat=True))


@pytest.mark.parametrize("profile", ["lushan-2019", "full-process-b"])
def test_SUP1_a_reviewer_plays_a_sampled_recording_only_after_approval(
        review_world, stored, login, profile):
    ns = review_world(profile)
    campaign = make_campaign(ns, per_unit=2, per_officer=0)
    services.sample(ns.legal, campaign)
    inside_ids = sampled_recordings(campaign)
    inside = Recording.objects.get(pk=min(inside_ids))
    outside = Recording.objects.exclude(pk__in=inside_ids).filter(
        activity__unit=ns.field).exclude(activity=ns.outside).first()
    data = stored(inside)
    stored(outside)
    client = login(ns.reviewer)

    assert play(client, inside).status_code == 403  # not approved yet

    services.approve(ns.leader, campaign)
    response = play(client, inside)
    assert response.status_code == 200
    assert streamed(client, response) == (200, data)
    assert AuditEntry.objects.filter(action="recording.play", object_id=str(inside.pk),
                                     outcome="success").exists()

    # outside the sample: refused, the outside-the-period activity too
    assert play(client, outside).status_code == 403
    assert play(client, ns.recordings[ns.outside.pk]).status_code == 403

    # the grants are exactly the sampled recordings, from a granted review request
    assert set(Grant.objects.filter(person=ns.reviewer).values_list(
        "recording_id", flat=True)) == inside_ids
    request = AccessRequest.objects.get(requester=ns.reviewer)
    assert (request.kind, request.status) == (RequestKind.REVIEW, RequestStatus.GRANTED)
    assert list(campaign.access_requests.all()) == [request]
    # and the reviewer's inbox says so
    from witness.access.models import Notification
    note = Notification.objects.get(person=ns.reviewer, request=request)
    assert note.kind == "request_granted" and note.details["count"] == len(inside_ids)

    # another staff member gets nothing from the campaign
    other = login(ns.people["officer"])
    assert play(other, inside).status_code == 403

    services.close(ns.legal, campaign)
    assert play(login(ns.reviewer), inside).status_code == 403
    assert not Grant.objects.filter(person=ns.reviewer, revoked_at__isnull=True).exists()


def test_SUP1_approval_is_the_leaders_and_needs_a_sample(review_world):
    from witness.access.authz import Denied

    ns = review_world()
    campaign = make_campaign(ns)
    with pytest.raises(Refused):
        services.approve(ns.leader, campaign)  # nothing sampled yet
    services.sample(ns.legal, campaign)
    with pytest.raises(Denied):
        services.approve(ns.legal, campaign)
    assert not Grant.objects.exists()
    services.approve(ns.leader, campaign)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.APPROVED
    assert campaign.approved_by == ns.people["leader"] and campaign.approved_at
    entry = AuditEntry.objects.get(action="review.campaign.approve")
    assert sorted(entry.details["recordings"]) == sorted(sampled_recordings(campaign))
    assert AuditEntry.objects.filter(action="grant.create").count() == 1
    with pytest.raises(Refused):
        services.approve(ns.leader, campaign)  # once


def test_SUP1_a_state_secret_among_the_sample_is_withheld(review_world):
    ns = review_world()
    campaign = make_campaign(ns)
    services.sample(ns.legal, campaign)
    secret = Recording.objects.get(pk=min(sampled_recordings(campaign)))
    Recording.objects.filter(pk=secret.pk).update(label="state_secret")
    services.approve(ns.leader, campaign)
    granted = set(Grant.objects.values_list("recording_id", flat=True))
    assert granted == sampled_recordings(campaign) - {secret.pk}
    entry = AuditEntry.objects.get(action="review.campaign.approve")
    assert entry.details["withheld"] == [{"recording": secret.pk, "why": "state_secret"}]


def test_SUP1_a_reviewer_who_left_before_approval_gets_no_grant(review_world):
    """Reviewers are checked again at approval: one who left the agency (or lost the role
    that may review) since the campaign was made stops the approval; nothing is granted."""
    from witness.core.errors import WitnessError

    ns = review_world()
    campaign = make_campaign(ns)
    services.sample(ns.legal, campaign)
    ns.reviewer.active = False
    ns.reviewer.save(update_fields=["active"])
    with pytest.raises(WitnessError) as err:
        services.approve(ns.leader, campaign)
    assert err.value.code == "bad_reviewer"
    assert not Grant.objects.exists()
    campaign.refresh_from_db()
    assert campaign.status != CampaignStatus.APPROVED
