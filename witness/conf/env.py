"""Typed helpers that read settings from environment variables and fail loudly.

Every helper raises :class:`django.core.exceptions.ImproperlyConfigured` with a
Chinese and English message naming the variable and the value it could not use.
Messages are written in both languages here because translations cannot be
loaded before settings exist.
"""

from __future__ import annotations

import os
import secrets
import zoneinfo
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _fail(name: str, value: str, zh: str, en: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(
        f"环境变量 {name} 的值 {value!r} 无效：{zh}\n"
        f"Environment variable {name} has an invalid value {value!r}: {en}"
    )


def _raw(name: str, environ: os._Environ | dict | None) -> str | None:
    env = os.environ if environ is None else environ
    return env.get(name)


def env_str(name: str, default: str | None = None, *, environ=None) -> str:
    value = _raw(name, environ)
    if value is None or value == "":
        if default is None:
            raise ImproperlyConfigured(
                f"缺少必需的环境变量 {name}。\nRequired environment variable {name} is not set."
            )
        return default
    return value


def env_bool(name: str, default: bool, *, environ=None) -> bool:
    value = _raw(name, environ)
    if value is None:
        return default
    low = value.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise _fail(name, value, "应为 true 或 false（1/0、yes/no、on/off）",
                "expected true or false (1/0, yes/no, on/off)")


def env_int(name: str, default: int, *, minimum: int | None = None,
            maximum: int | None = None, environ=None) -> int:
    value = _raw(name, environ)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise _fail(name, value, "应为整数", "expected an integer") from None
    if minimum is not None and number < minimum:
        raise _fail(name, value, f"不能小于 {minimum}", f"must be at least {minimum}")
    if maximum is not None and number > maximum:
        raise _fail(name, value, f"不能大于 {maximum}", f"must be at most {maximum}")
    return number


def env_list(name: str, default: list[str], *, environ=None) -> list[str]:
    value = _raw(name, environ)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...], *, environ=None) -> str:
    value = (_raw(name, environ) or default).strip().lower()
    if value not in choices:
        raise _fail(name, value, f"应为 {' / '.join(choices)} 之一",
                    f"must be one of {', '.join(choices)}")
    return value


def env_path(name: str, default: str, *, environ=None) -> Path:
    value = _raw(name, environ)
    raw = default if value is None or value == "" else value
    if "\x00" in raw:
        raise _fail(name, raw, "路径中不能包含空字符", "a path cannot contain a NUL character")
    return Path(raw).expanduser().resolve()


def env_timezone(name: str, default: str, *, environ=None) -> str:
    value = env_str(name, default, environ=environ)
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise _fail(name, value, "不是已知的时区名称（例如 Asia/Shanghai）",
                    "not a known time zone name (e.g. Asia/Shanghai)") from None
    return value


def env_secret(name: str, *, environ=None) -> str | None:
    """A secret from ``NAME`` or from the file named by ``NAME_FILE`` (not both)."""
    direct = _raw(name, environ)
    file_name = _raw(f"{name}_FILE", environ)
    if direct and file_name:
        raise ImproperlyConfigured(
            f"{name} 与 {name}_FILE 不能同时设置。\n"
            f"Set either {name} or {name}_FILE, not both."
        )
    if file_name:
        path = Path(file_name)
        try:
            content = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise _fail(f"{name}_FILE", file_name, f"无法读取该文件（{exc.strerror}）",
                        f"cannot read that file ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise _fail(f"{name}_FILE", file_name, "文件不是 UTF-8 文本",
                        "the file is not UTF-8 text") from None
        if not content:
            raise _fail(f"{name}_FILE", file_name, "文件为空", "the file is empty")
        return content
    return direct or None


def secret_key(home: Path, *, environ=None) -> str:
    """``WITNESS_SECRET_KEY`` (or ``_FILE``); otherwise generated once into ``home``."""
    given = env_secret("WITNESS_SECRET_KEY", environ=environ)
    if given:
        if len(given) < 32:
            raise _fail("WITNESS_SECRET_KEY", "***", "长度至少 32 个字符",
                        "must be at least 32 characters long")
        return given
    path = home / "secret_key"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting at once cannot both write a key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(secrets.token_urlsafe(50))
    try:
        key = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ImproperlyConfigured(
            f"无法读取密钥文件 {path}（{exc}）。\n"
            f"The secret key file {path} cannot be read ({exc})."
        ) from None
    if len(key) < 32:
        raise ImproperlyConfigured(
            f"密钥文件 {path} 内容无效（少于 32 个字符）。\n"
            f"The secret key file {path} is invalid (shorter than 32 characters)."
        )
    return key


def _redact(url: str) -> str:
    """The URL with its password replaced, for error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def database_from_url(url: str, *, home: Path, name: str = "DATABASE_URL") -> dict:
    """Django ``DATABASES['default']`` from a URL.

    ``sqlite:///abs/path.sqlite3`` (or ``sqlite://`` for ``WITNESS_HOME/witness.sqlite3``)
    and ``postgres://user:password@host:port/dbname?sslmode=…`` are understood.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        raise _fail(name, "***", "不是有效的地址", "not a valid URL") from None
    scheme = parts.scheme.lower()
    shown = _redact(url)
    if scheme == "sqlite":
        if parts.netloc:
            raise _fail(name, shown, "SQLite 地址不能含主机名，请写成 sqlite:///绝对路径",
                        "a SQLite URL has no host part; write sqlite:///absolute/path")
        path = unquote(parts.path) if parts.path not in ("", "/") else ""
        db_path = Path(path) if path else home / "witness.sqlite3"
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(db_path),
            # WAL lets the web server and the worker read while one writes;
            # IMMEDIATE avoids "database is locked" on read-then-write transactions.
            "OPTIONS": {
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=20000;"
                ),
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            # A file, not memory: tests that run `witness …` in a child process see the data.
            "TEST": {"NAME": str(db_path.with_name("test_" + db_path.name))},
        }
    if scheme in ("postgres", "postgresql", "pgsql"):
        db_name = unquote(parts.path.lstrip("/")) or "witness"
        if "/" in db_name:
            raise _fail(name, shown, "数据库名中不能含有斜杠",
                        "the database name cannot contain '/'")
        try:
            port = parts.port
        except ValueError:
            raise _fail(name, shown, "端口号无效",
                        "the port is not a number from 0 to 65535") from None
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": db_name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": unquote(parts.hostname or ""),
            "PORT": str(port or ""),
            "OPTIONS": options,
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
        }
    raise _fail(name, shown, "只支持 sqlite:// 和 postgres:// 两种数据库地址",
                "only sqlite:// and postgres:// database URLs are supported")


def env_database(home: Path, *, environ=None) -> dict:
    url = env_secret("DATABASE_URL", environ=environ) or "sqlite://"
    return database_from_url(url, home=home)
