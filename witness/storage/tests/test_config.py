"""WITNESS_STORAGE: which blob backend, and loud errors for values it cannot use (ING-4)."""

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from witness.storage.backends.local import LocalBackend
from witness.storage.config import StorageConfig, build_backend, get_backend, parse_storage

HOME = Path("/srv/witness")


@pytest.mark.parametrize(("value", "expected"), [
    ("", StorageConfig(kind="file", root=HOME / "blobs")),
    ("file:", StorageConfig(kind="file", root=HOME / "blobs")),
    ("  file:  ", StorageConfig(kind="file", root=HOME / "blobs")),
    ("file:///data/originals", StorageConfig(kind="file", root=Path("/data/originals"))),
    ("file:///data/%E5%8E%9F%E4%BB%B6", StorageConfig(kind="file", root=Path("/data/原件"))),
    ("s3://witness?endpoint=http://127.0.0.1:7480&region=us-east-1&prefix=witness/",
     StorageConfig(kind="s3", bucket="witness", endpoint_url="http://127.0.0.1:7480",
                   region="us-east-1", prefix="witness/")),
    ("s3://evidence.agency-1", StorageConfig(kind="s3", bucket="evidence.agency-1")),
    ("s3://evidence?prefix=/a/b&region=cn-north-1",
     StorageConfig(kind="s3", bucket="evidence", region="cn-north-1", prefix="a/b/")),
    ("s3://evidence?endpoint=https://s3.example.cn/",
     StorageConfig(kind="s3", bucket="evidence", endpoint_url="https://s3.example.cn/")),
])
def test_good_values(value, expected):
    assert parse_storage(value, home=HOME) == expected


@pytest.mark.parametrize("value", [
    "ftp://host/x",
    "/srv/blobs",
    "file:relative/path",
    "file://host/srv/blobs",
    "file:///srv/blobs?x=1",
    "s3://",
    "s3://Bad_Bucket",
    "s3://ab",
    "s3://a..b",
    "s3://key:secret@bucket",
    "s3://bucket/some/path",
    "s3://bucket?foo=1",
    "s3://bucket?region=a&region=b",
    "s3://bucket?endpoint=ftp://127.0.0.1",
    "s3://bucket?endpoint=127.0.0.1:7480",
    "s3://bucket?region=US%20East",
    "s3://bucket?prefix=a/../b",
    "s3://bucket?prefix=a//b",
    "s3://bucket?endpoint",
])
def test_bad_values_are_refused_in_both_languages(value):
    with pytest.raises(ImproperlyConfigured) as err:
        parse_storage(value, home=HOME)
    message = str(err.value)
    assert "环境变量 WITNESS_STORAGE" in message
    assert "Environment variable WITNESS_STORAGE" in message


def test_file_backend_is_built(tmp_path):
    backend = build_backend(parse_storage(f"file://{tmp_path}", home=HOME))
    assert isinstance(backend, LocalBackend) and backend.root == tmp_path


def test_s3_needs_both_keys():
    config = parse_storage("s3://witness?endpoint=http://127.0.0.1:7480", home=HOME)
    for environ in ({}, {"WITNESS_S3_ACCESS_KEY": "AK"}, {"WITNESS_S3_SECRET_KEY": "SK"}):
        with pytest.raises(ImproperlyConfigured) as err:
            build_backend(config, environ=environ)
        assert "WITNESS_S3_ACCESS_KEY" in str(err.value)


def test_s3_backend_is_built_with_keys_from_files(tmp_path):
    from witness.storage.backends.s3 import S3Backend

    secret = tmp_path / "secret"
    secret.write_text("SK-from-file\n")
    config = parse_storage("s3://witness?endpoint=http://127.0.0.1:7480&prefix=w", home=HOME)
    backend = build_backend(config, environ={"WITNESS_S3_ACCESS_KEY": "AK",
                                             "WITNESS_S3_SECRET_KEY_FILE": str(secret)})
    assert isinstance(backend, S3Backend)
    assert (backend.bucket, backend.endpoint_url, backend.prefix) == (
        "witness", "http://127.0.0.1:7480", "w/")
    credentials = backend.client._request_signer._credentials
    assert (credentials.access_key, credentials.secret_key) == ("AK", "SK-from-file")


def test_get_backend_follows_the_setting_and_is_cached(settings, tmp_path):
    settings.WITNESS_STORAGE = ""
    default = get_backend()
    assert isinstance(default, LocalBackend)
    assert default.root == Path(settings.WITNESS_HOME) / "blobs"
    assert get_backend() is default
    settings.WITNESS_STORAGE = f"file://{tmp_path}"
    assert get_backend().root == tmp_path
    settings.WITNESS_STORAGE = "nfs://server/share"
    with pytest.raises(ImproperlyConfigured):
        get_backend()
