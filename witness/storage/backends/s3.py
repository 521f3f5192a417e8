"""S3-compatible blob backend (AWS S3, Ceph RGW, MinIO …), ING-4.

Keys handed in and out (``FinalObject.key``, ``exists``, ``size``, ``read``) are relative
to the configured ``prefix``; the object in the bucket is ``<prefix><key>``.

Staging objects are ``<prefix>staging/<host>~<pid>~<uuid4>``, written with a multipart upload
(parts of 8 MiB and more; a file smaller than one part is sent with one PUT at ``close()``),
so that no more than about two parts are ever held in memory. Every delete of a staging
object names its version, so that a versioned bucket keeps no hidden copy of it.

Write-once finalisation: HEAD of the content key; if it exists with the same size, the staged
copy is dropped (``created=False``). Otherwise a server-side copy with ``If-None-Match: *``.
Ceph 16 (pacific) ignores ``If-None-Match`` on copies (and on PUTs into versioned buckets), so
two processes finalising the same content at the same moment may both copy. That race is
harmless: the key is the SHA-256 of verified bytes, so both writes carry identical content;
in a versioned bucket the earlier version is kept as well (and, with object lock, locked).

Object lock (``ensure_bucket(object_lock=True, retention_days=N)``): the bucket gets a default
GOVERNANCE retention of N days and a bucket policy that denies deleting objects under
``<prefix>sha256/`` and bypassing their retention, even for the bucket owner's credentials;
staging objects may still be removed with ``BypassGovernanceRetention``. Lifting that policy is
an administrator's act outside this program (the retention issue's approved purge).

Fixity repair (``replace_damaged``) writes a new version over a damaged original with a
server-side copy of the verified staging object, and only in a versioned bucket: the damaged
bytes stay as the older version (locked as well under object lock). An unversioned bucket is
refused, since the copy would destroy them.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError
from django.utils.translation import gettext_lazy as _

from witness.core.errors import NotFound, Text, WitnessError

from .base import (
    CHUNK,
    BlobBackend,
    FinalObject,
    Replaced,
    Staging,
    content_key,
    orphaned,
    staging_token,
)

PART = 8 * 1024 * 1024  # multipart upload part; grows every 1000 parts (S3 allows 10 000)
COPY_THRESHOLD = 5 * 1024**3  # CopyObject's limit; larger objects use UploadPartCopy
COPY_PART = 512 * 1024 * 1024

DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"}
MISSING_KEY = {"NoSuchKey", "404", "NotFound", "NoSuchVersion"}


def part_size(number: int) -> int:
    """Size of part ``number`` (1-based): 8 MiB for parts 1–1000, 16 MiB for 1001–2000 …"""
    return PART * (1 + (number - 1) // 1000)


class S3Staging(Staging):
    def __init__(self, backend: S3Backend, key: str):
        self.backend = backend
        self.name = key
        self.size = 0
        self.version_id: str | None = None
        self.closed = False
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict] = []

    def write(self, data: bytes | memoryview) -> None:
        if self.closed:
            raise ValueError("staging object already closed")
        self._buffer += data
        self.size += len(data)
        while len(self._buffer) >= part_size(len(self._parts) + 1):
            size = part_size(len(self._parts) + 1)
            self._upload_part(bytes(self._buffer[:size]))
            del self._buffer[:size]

    def _upload_part(self, body: bytes) -> None:
        b = self.backend
        with b.errors(_("writing a staging object")):
            if self._upload_id is None:
                self._upload_id = b.client.create_multipart_upload(
                    Bucket=b.bucket, Key=self.name)["UploadId"]
            number = len(self._parts) + 1
            etag = b.client.upload_part(Bucket=b.bucket, Key=self.name, UploadId=self._upload_id,
                                        PartNumber=number, Body=body)["ETag"]
        self._parts.append({"PartNumber": number, "ETag": etag})

    def close(self) -> None:
        if self.closed:
            return
        b = self.backend
        with b.errors(_("writing a staging object")):
            if self._upload_id is None:
                response = b.client.put_object(Bucket=b.bucket, Key=self.name,
                                               Body=bytes(self._buffer))
            else:
                if self._buffer:
                    self._upload_part(bytes(self._buffer))
                response = b.client.complete_multipart_upload(
                    Bucket=b.bucket, Key=self.name, UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts})
        self._buffer = bytearray()
        self.version_id = response.get("VersionId")
        self.closed = True

    def abort(self) -> None:
        b = self.backend
        self._buffer = bytearray()
        if self.closed:
            b.delete_staging_version(self.name, self.version_id)
        elif self._upload_id is not None:
            with b.errors(_("aborting a staging upload")):
                b.client.abort_multipart_upload(Bucket=b.bucket, Key=self.name,
                                                UploadId=self._upload_id)
        self._upload_id = None
        self.closed = True


class S3Backend(BlobBackend):
    name = "s3"

    def __init__(self, bucket: str, endpoint_url: str | None = None, region: str | None = None,
                 access_key: str | None = None, secret_key: str | None = None,
                 prefix: str = ""):
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.region = region
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.copy_threshold = COPY_THRESHOLD
        self.copy_part = COPY_PART
        config = Config(
            s3={"addressing_style": "path"},
            connect_timeout=5, read_timeout=120,
            retries={"max_attempts": 3, "mode": "standard"},
            # S3-compatible servers (Ceph before reef, older MinIO) reject the newer
            # default CRC checksums; send them only where the API requires one.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self.client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, region_name=region or "us-east-1",
            aws_access_key_id=access_key, aws_secret_access_key=secret_key, config=config)

    @property
    def location(self) -> str:
        where = f"?endpoint={self.endpoint_url}" if self.endpoint_url else ""
        return f"s3://{self.bucket}/{self.prefix}{where}"

    # -- errors -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def errors(self, action, key: str | None = None):
        """Turn what botocore raises into a bilingual WitnessError naming ``action``."""
        where = self.endpoint_url or "AWS S3"
        try:
            yield
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            detail = exc.response.get("Error", {}).get("Message") or code
            if code == "NoSuchBucket":
                raise WitnessError(
                    _("The S3 bucket %(bucket)s does not exist at %(endpoint)s."),
                    code="s3_no_bucket", bucket=self.bucket, endpoint=where) from None
            if code in DENIED:
                raise WitnessError(
                    _("The S3 storage at %(endpoint)s refused %(action)s in bucket %(bucket)s "
                      "(%(detail)s): check the access key, the secret key and the "
                      "permissions."),
                    code="s3_access_denied", endpoint=where, bucket=self.bucket,
                    action=Text(action), detail=detail) from None
            if code in MISSING_KEY and key is not None:
                raise NotFound(_("The stored object %(key)s is missing from bucket %(bucket)s."),
                               key=key, bucket=self.bucket) from None
            raise WitnessError(
                _("The S3 storage at %(endpoint)s failed while %(action)s: %(detail)s"),
                code="s3_error", endpoint=where, action=Text(action), detail=detail) from None
        except EndpointConnectionError:
            raise WitnessError(
                _("The S3 storage at %(endpoint)s cannot be reached (while %(action)s). Check "
                  "the endpoint address and that the server is running."),
                code="s3_unreachable", endpoint=where, action=Text(action)) from None
        except BotoCoreError as exc:
            raise WitnessError(
                _("The S3 storage at %(endpoint)s failed while %(action)s: %(detail)s"),
                code="s3_error", endpoint=where, action=Text(action), detail=str(exc)) from None

    # -- staging ----------------------------------------------------------------------------

    def open_staging(self) -> S3Staging:
        return S3Staging(self, f"{self.prefix}staging/{staging_token()}")

    def read_staging(self, staging: Staging, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """A full GET of the staged object (never an ETag or HEAD): the verification read."""
        if not staging.closed:
            raise ValueError("staging object not closed yet")
        extra = {"VersionId": staging.version_id} if staging.version_id else {}
        with self.errors(_("reading back a staging object"), key=staging.name):
            body = self.client.get_object(Bucket=self.bucket, Key=staging.name, **extra)["Body"]
            try:
                yield from body.iter_chunks(chunk_size)
            finally:
                body.close()

    def discard(self, staging: Staging) -> None:
        staging.abort()

    def delete_staging_version(self, key: str, version_id: str | None) -> None:
        """Delete one version of a staging object for good (never a final object)."""
        if not key.startswith(f"{self.prefix}staging/"):
            raise ValueError(f"not a staging key: {key!r}")
        args = {"Bucket": self.bucket, "Key": key}
        if version_id:
            args["VersionId"] = version_id
        with self.errors(_("deleting a staging object")):
            try:
                self.client.delete_object(**args)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "AccessDenied":
                    raise
                # Under the bucket's default GOVERNANCE retention staging objects are
                # locked too; they are ours to remove (the policy protects only originals).
                self.client.delete_object(**args, BypassGovernanceRetention=True)

    # -- final objects ----------------------------------------------------------------------

    def _head_size(self, full_key: str) -> int | None:
        with self.errors(_("looking up a stored object")):
            try:
                return self.client.head_object(Bucket=self.bucket, Key=full_key)["ContentLength"]
            except ClientError as exc:
                if str(exc.response.get("Error", {}).get("Code")) in MISSING_KEY:
                    return None
                raise

    def finalize(self, staging: Staging, sha256: str) -> FinalObject:
        if not staging.closed:
            raise ValueError("staging object not closed yet")
        key = content_key(sha256)
        full = self.prefix + key
        existing = self._head_size(full)
        if existing is None:
            created = self._copy(staging, full)
            existing = self._head_size(full)
        else:
            created = False
        if existing != staging.size:
            raise WitnessError(
                _("The stored object %(key)s has %(stored)s bytes, not the expected %(size)s: "
                  "it must be examined; nothing was stored or replaced."),
                code="s3_size_mismatch", key=key, stored=existing, size=staging.size)
        self.delete_staging_version(staging.name, staging.version_id)
        return FinalObject(key=key, size=staging.size, created=created)

    def replace_damaged(self, staging: Staging, sha256: str) -> Replaced:
        if not staging.closed:
            raise ValueError("staging object not closed yet")
        key = content_key(sha256)
        full = self.prefix + key
        with self.errors(_("checking the bucket's versioning")):
            status = self.client.get_bucket_versioning(Bucket=self.bucket).get("Status")
        if status != "Enabled":
            raise WitnessError(
                _("The S3 bucket %(bucket)s is not versioned: replacing the damaged object "
                  "%(key)s would destroy it, so it was not repaired."),
                code="s3_not_versioned", bucket=self.bucket, key=key)
        with self.errors(_("looking up a stored object")):
            try:
                before = self.client.head_object(Bucket=self.bucket, Key=full).get("VersionId")
            except ClientError as exc:
                if str(exc.response.get("Error", {}).get("Code")) not in MISSING_KEY:
                    raise
                before = None
        self._copy(staging, full, if_none_match=False)
        stored = self._head_size(full)
        if stored != staging.size:
            raise WitnessError(
                _("The stored object %(key)s has %(stored)s bytes, not the expected %(size)s: "
                  "it must be examined; nothing was stored or replaced."),
                code="s3_size_mismatch", key=key, stored=stored, size=staging.size)
        self.delete_staging_version(staging.name, staging.version_id)
        return Replaced(key=key, size=staging.size,
                        aside=f"{full}?versionId={before}" if before else None)

    def _copy(self, staging: Staging, full: str, if_none_match: bool = True) -> bool:
        """Server-side copy of the staged version to ``full``; False if it appeared meanwhile
        (a server that honours If-None-Match says so with 412)."""
        source = {"Bucket": self.bucket, "Key": staging.name}
        if staging.version_id:
            source["VersionId"] = staging.version_id
        guard = {"IfNoneMatch": "*"} if if_none_match else {}
        with self.errors(_("storing an original")):
            try:
                if staging.size > self.copy_threshold:
                    self._multipart_copy(source, full, staging.size, guard)
                else:
                    self.client.copy_object(Bucket=self.bucket, Key=full, CopySource=source,
                                            **guard)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "PreconditionFailed":
                    return False
                raise
        return True

    def _multipart_copy(self, source: dict, full: str, size: int, guard: dict) -> None:
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=full)["UploadId"]
        try:
            parts = []
            for number, start in enumerate(range(0, size, self.copy_part), start=1):
                end = min(start + self.copy_part, size) - 1
                result = self.client.upload_part_copy(
                    Bucket=self.bucket, Key=full, UploadId=upload_id, PartNumber=number,
                    CopySource=source, CopySourceRange=f"bytes={start}-{end}")
                parts.append({"PartNumber": number, "ETag": result["CopyPartResult"]["ETag"]})
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=full, UploadId=upload_id,
                MultipartUpload={"Parts": parts}, **guard)
        except BaseException:
            with contextlib.suppress(ClientError, BotoCoreError):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=full,
                                                   UploadId=upload_id)
            raise

    def exists(self, key: str) -> bool:
        return self._head_size(self.prefix + key) is not None

    def size(self, key: str) -> int:
        size = self._head_size(self.prefix + key)
        if size is None:
            raise NotFound(_("The stored object %(key)s is missing from bucket %(bucket)s."),
                           key=key, bucket=self.bucket)
        return size

    def read(self, key: str, start: int = 0, end: int | None = None,
             chunk_size: int = CHUNK) -> Iterator[bytes]:
        """Bytes ``start`` to ``end`` (exclusive) with an HTTP Range request, streamed."""
        if start < 0 or (end is not None and end <= start):
            return
        args = {"Bucket": self.bucket, "Key": self.prefix + key}
        if start or end is not None:
            args["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        with self.errors(_("reading a stored object"), key=key):
            try:
                body = self.client.get_object(**args)["Body"]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                    return  # start at or past the end: nothing to read
                raise
            try:
                yield from body.iter_chunks(chunk_size)
            finally:
                body.close()

    def list_keys(self) -> Iterator[str]:
        """Every current object under the prefix (ListObjectsV2, paginated) but staging and
        quarantine, as a key relative to the prefix."""
        skip = (f"{self.prefix}staging/", f"{self.prefix}quarantine/")
        with self.errors(_("listing the stored objects")):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix)
            for page in pages:
                for item in page.get("Contents", []):
                    if not item["Key"].startswith(skip):
                        yield item["Key"][len(self.prefix):]

    # -- housekeeping -----------------------------------------------------------------------

    def clean_staging(self, older_than: timedelta) -> int:
        """Delete staging object versions and abort multipart uploads older than
        ``older_than`` (leftovers of crashed runs); return how many."""
        cutoff = datetime.now(UTC) - older_than
        staging = f"{self.prefix}staging/"
        count = 0
        with self.errors(_("cleaning staging leftovers")):
            pages = self.client.get_paginator("list_object_versions").paginate(
                Bucket=self.bucket, Prefix=staging)
            for page in pages:
                for version in page.get("Versions", []) + page.get("DeleteMarkers", []):
                    if (version["LastModified"] < cutoff
                            or orphaned(version["Key"].rpartition("/")[2])):
                        self.delete_staging_version(version["Key"], version.get("VersionId"))
                        if "Size" in version:  # delete markers hold no bytes
                            count += 1
            pages = self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=staging)
            for page in pages:
                for upload in page.get("Uploads", []):
                    if (upload["Initiated"] < cutoff
                            or orphaned(upload["Key"].rpartition("/")[2])):
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                        count += 1
        return count

    def ensure_bucket(self, object_lock: bool = False, retention_days: int | None = None) -> bool:
        """Create the bucket if missing, versioned; with ``object_lock`` also with object lock,
        a default GOVERNANCE retention of ``retention_days`` and a policy that protects the
        originals. Return True if the bucket was created."""
        if object_lock and not (retention_days and retention_days > 0):
            raise ValueError("object lock needs a positive retention_days")
        with self.errors(_("setting up the bucket")):
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                if str(exc.response.get("Error", {}).get("Code")) not in MISSING_KEY:
                    raise
            else:
                self._check_existing_bucket(object_lock)
                return False
            args = {"Bucket": self.bucket}
            if self.region and self.region != "us-east-1":
                args["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            if object_lock:
                args["ObjectLockEnabledForBucket"] = True
            self.client.create_bucket(**args)
            self.client.put_bucket_versioning(
                Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})
            if object_lock:
                self.client.put_object_lock_configuration(
                    Bucket=self.bucket, ObjectLockConfiguration={
                        "ObjectLockEnabled": "Enabled",
                        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE",
                                                      "Days": retention_days}}})
                self.client.put_bucket_policy(Bucket=self.bucket, Policy=self._policy())
        return True

    def _check_existing_bucket(self, object_lock: bool) -> None:
        self.client.put_bucket_versioning(
            Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})
        if not object_lock:
            return
        try:
            config = self.client.get_object_lock_configuration(Bucket=self.bucket)
            enabled = config["ObjectLockConfiguration"].get("ObjectLockEnabled") == "Enabled"
        except ClientError:
            enabled = False
        if not enabled:
            raise WitnessError(
                _("The S3 bucket %(bucket)s exists without object lock, which can only be "
                  "enabled when a bucket is created: use a new bucket."),
                code="s3_no_object_lock", bucket=self.bucket)

    def _policy(self) -> str:
        originals = f"arn:aws:s3:::{self.bucket}/{self.prefix}sha256/*"
        return json.dumps({"Version": "2012-10-17", "Statement": [{
            "Sid": "WitnessOriginalsAreWriteOnce", "Effect": "Deny", "Principal": "*",
            "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion",
                       "s3:BypassGovernanceRetention"],
            "Resource": [originals]}]})
