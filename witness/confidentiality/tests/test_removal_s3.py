"""Removing a state secret's object from a versioned S3 bucket (EVD-4, issue 5 item 4):
every version goes (a damaged copy a fixity repair kept as an older version too), and a
second run finds nothing. Against a real Ceph RGW (witness.testing.s3)."""

from __future__ import annotations

import os

import pytest

from witness.confidentiality import removal
from witness.storage.pipeline import store_object


def versions(backend, key):
    full = backend.prefix + key
    page = backend.client.list_object_versions(Bucket=backend.bucket, Prefix=full)
    return [v for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            if v["Key"] == full]


@pytest.mark.django_db  # storing asks the register whether the content was removed before
def test_EVD4_every_version_of_a_state_secret_object_leaves_the_bucket(s3_backend, tmp_path):
    source = tmp_path / "secret.mp4"
    source.write_bytes(os.urandom(5000))
    stored = store_object(source, s3_backend)
    full = s3_backend.prefix + stored.key
    # an older version, as a fixity repair leaves the damaged bytes
    s3_backend.client.put_object(Bucket=s3_backend.bucket, Key=full, Body=b"damaged")
    s3_backend.client.put_object(Bucket=s3_backend.bucket, Key=full,
                                 Body=source.read_bytes())
    assert len(versions(s3_backend, stored.key)) == 3
    target = removal.Target(removal.ORIGINAL, s3_backend, stored.key, stored.sha256)
    assert removal.remove_object(target)["result"] == removal.REMOVED
    assert versions(s3_backend, stored.key) == []
    assert not s3_backend.exists(stored.key)
    assert removal.remove_object(target)["result"] == removal.ABSENT
