"""Which blob backend to use: ``settings.WITNESS_STORAGE``, interpreted at first use.

=============================================  ===========================================
``""`` or ``file:``                            local filesystem under ``WITNESS_HOME/blobs``
``file:///srv/witness/blobs``                  local filesystem under that absolute path
``s3://BUCKET?endpoint=URL&region=R&prefix=P``  S3-compatible store; keys from
                                               ``WITNESS_S3_ACCESS_KEY`` and
                                               ``WITNESS_S3_SECRET_KEY`` (or their ``_FILE``)
=============================================  ===========================================

``WITNESS_REPLICA`` names an optional second store in the same URL forms (empty: no
replica; ``file:`` alone is refused, a replica needs its own place). Keys for an S3 replica
are ``WITNESS_REPLICA_S3_ACCESS_KEY`` and ``WITNESS_REPLICA_S3_SECRET_KEY`` (or their
``_FILE``), else the primary's. ``WITNESS_FIXITY_DAYS`` (default 30): every original is
re-read once in that many days by the daily fixity batch.

Errors are :class:`ImproperlyConfigured` in Chinese and English, naming the variable,
like the other settings helpers (witness/conf/env.py).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from witness.conf.env import env_int, env_secret, env_str

from .backends.base import BlobBackend

NAME = "WITNESS_STORAGE"
REPLICA = "WITNESS_REPLICA"
FIXITY_DAYS = "WITNESS_FIXITY_DAYS"
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
S3_OPTIONS = {"endpoint", "region", "prefix"}


@dataclass(frozen=True)
class StorageConfig:
    kind: str  # "file" or "s3"
    root: Path | None = None
    bucket: str = ""
    endpoint_url: str | None = None
    region: str = "us-east-1"
    prefix: str = ""


def _fail(value: str, zh: str, en: str, name: str = NAME) -> ImproperlyConfigured:
    return ImproperlyConfigured(
        f"环境变量 {name} 的值 {value!r} 无效：{zh}\n"
        f"Environment variable {name} has an invalid value {value!r}: {en}"
    )


def parse_storage(value: str, *, home: Path, name: str = NAME) -> StorageConfig:
    value = value.strip()
    if value in ("", "file:", "file://"):
        return StorageConfig(kind="file", root=Path(home) / "blobs")
    try:
        parts = urlsplit(value)
    except ValueError:
        raise _fail(value, "不是有效的地址", "not a valid URL", name) from None
    scheme = parts.scheme.lower()
    if scheme == "file":
        return _parse_file(value, parts, name)
    if scheme == "s3":
        return _parse_s3(value, parts, name)
    raise _fail(value, "只支持 file:///绝对路径 和 s3://存储桶?endpoint=… 两种形式",
                "only file:///absolute/path and s3://bucket?endpoint=… are supported", name)


def parse_replica(value: str, *, home: Path) -> StorageConfig | None:
    """``WITNESS_REPLICA``: None when empty; else a store of its own (same URL forms)."""
    value = value.strip()
    if not value:
        return None
    if value in ("file:", "file://"):
        raise _fail(value, "副本存储须写明自己的位置（file:///绝对路径 或 s3://…）",
                    "a replica needs a place of its own (file:///absolute/path or s3://…)",
                    REPLICA)
    return parse_storage(value, home=home, name=REPLICA)


def _parse_file(value: str, parts, name: str = NAME) -> StorageConfig:
    fail = functools.partial(_fail, name=name)
    path = unquote(parts.path)
    if parts.netloc or parts.query or parts.fragment or not path.startswith("/"):
        raise fail(value, "应写成 file:///绝对路径", "write file:///absolute/path")
    if "\x00" in path:
        raise fail(value, "路径中不能包含空字符", "a path cannot contain a NUL character")
    return StorageConfig(kind="file", root=Path(path))


def _parse_s3(value: str, parts, name: str = NAME) -> StorageConfig:
    fail = functools.partial(_fail, name=name)
    bucket = parts.netloc
    if "@" in bucket:
        raise fail(value, "访问密钥不能写在地址中，请使用 WITNESS_S3_ACCESS_KEY 和 "
                   "WITNESS_S3_SECRET_KEY", "keys do not belong in the URL; use "
                   "WITNESS_S3_ACCESS_KEY and WITNESS_S3_SECRET_KEY")
    if not BUCKET.match(bucket) or ".." in bucket:
        raise fail(value, "存储桶名称应为 3 至 63 个小写字母、数字、点或连字符",
                   "the bucket name must be 3 to 63 lowercase letters, digits, dots or hyphens")
    if parts.path not in ("", "/") or parts.fragment:
        raise fail(value, "存储桶之后不能有路径，键前缀请用 prefix= 指定",
                   "nothing may follow the bucket name; give a key prefix with prefix=")
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise fail(value, "参数格式错误", "malformed parameters") from None
    options = dict(pairs)
    names = [n for n, _ in pairs]
    unknown = sorted({n for n in names if n not in S3_OPTIONS or names.count(n) > 1})
    if unknown:
        raise fail(value, f"不支持或重复的参数：{', '.join(unknown)}（可用 endpoint、region、"
                   "prefix）", f"unknown or repeated parameters: {', '.join(unknown)} "
                   "(use endpoint, region, prefix)")
    endpoint = options.get("endpoint") or None
    if endpoint is not None:
        ep = urlsplit(endpoint)
        if ep.scheme not in ("http", "https") or not ep.hostname:
            raise fail(value, "endpoint 应为 http:// 或 https:// 地址",
                       "endpoint must be an http:// or https:// URL")
    region = options.get("region") or "us-east-1"
    if not re.match(r"^[a-z0-9-]{1,40}$", region):
        raise fail(value, "region 只能包含小写字母、数字和连字符",
                   "region may contain only lowercase letters, digits and hyphens")
    prefix = options.get("prefix", "").strip("/")
    if prefix and (".." in prefix.split("/") or "//" in prefix):
        raise fail(value, "prefix 不能包含“..”或空的路径段",
                   "prefix cannot contain '..' or empty path segments")
    return StorageConfig(kind="s3", bucket=bucket, endpoint_url=endpoint, region=region,
                         prefix=f"{prefix}/" if prefix else "")


def build_backend(config: StorageConfig, *, environ=None, name: str = NAME) -> BlobBackend:
    if config.kind == "file":
        from .backends.local import LocalBackend

        return LocalBackend(config.root)
    access = secret = None
    if name == REPLICA:  # a replica elsewhere may have keys of its own
        access = env_secret("WITNESS_REPLICA_S3_ACCESS_KEY", environ=environ)
        secret = env_secret("WITNESS_REPLICA_S3_SECRET_KEY", environ=environ)
    if not (access and secret):
        access = env_secret("WITNESS_S3_ACCESS_KEY", environ=environ)
        secret = env_secret("WITNESS_S3_SECRET_KEY", environ=environ)
    if not access or not secret:
        raise ImproperlyConfigured(
            f"{name} 指定了 S3 存储，但未设置 WITNESS_S3_ACCESS_KEY 和 WITNESS_S3_SECRET_KEY"
            "（或对应的 _FILE）。\n"
            f"{name} names an S3 store but WITNESS_S3_ACCESS_KEY and WITNESS_S3_SECRET_KEY "
            "(or their _FILE) are not set."
        )
    from .backends.s3 import S3Backend

    return S3Backend(bucket=config.bucket, endpoint_url=config.endpoint_url,
                     region=config.region, access_key=access, secret_key=secret,
                     prefix=config.prefix)


@functools.lru_cache(maxsize=4)
def _backend_for(value: str, home: str) -> BlobBackend:
    return build_backend(parse_storage(value, home=Path(home)))


def get_backend() -> BlobBackend:
    """The configured backend, built once per (``WITNESS_STORAGE``, ``WITNESS_HOME``)."""
    return _backend_for(getattr(settings, NAME, ""), str(settings.WITNESS_HOME))


def _replica_setting() -> str:
    value = getattr(settings, REPLICA, None)
    return env_str(REPLICA, "") if value is None else value


@functools.lru_cache(maxsize=4)
def _replica_for(value: str, home: str) -> BlobBackend | None:
    config = parse_replica(value, home=Path(home))
    return None if config is None else build_backend(config, name=REPLICA)


def get_replica() -> BlobBackend | None:
    """The replica store (``WITNESS_REPLICA``), or None when there is none. Refused if it
    is the primary store itself: a copy in the same place is no second copy."""
    replica = _replica_for(_replica_setting(), str(settings.WITNESS_HOME))
    if replica is not None and replica.location == get_backend().location:
        raise _fail(_replica_setting(), "副本存储与原件存储（WITNESS_STORAGE）是同一位置",
                    "the replica is the same place as WITNESS_STORAGE", REPLICA)
    return replica


def fixity_days() -> int:
    """``WITNESS_FIXITY_DAYS``: every original is re-read once in this many days."""
    value = getattr(settings, FIXITY_DAYS, None)
    if value is None:
        return env_int(FIXITY_DAYS, 30, minimum=1, maximum=3650)
    if not isinstance(value, int) or value < 1:
        raise _fail(str(value), "应为正整数", "expected a positive whole number", FIXITY_DAYS)
    return value
