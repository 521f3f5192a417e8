"""Running `witness` in a child process against the test database (CLI end-to-end tests,
the ingest crash test)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection


def child_database_url() -> str | None:
    """A DATABASE_URL for the test database, for a `witness` child process; None where
    the test database lives in this process's memory (SQLite)."""
    db = connection.settings_dict
    name = str(db["NAME"])
    if db["ENGINE"].endswith("sqlite3"):
        if "memory" in name or name in ("", ":memory:"):
            return None
        return f"sqlite:///{Path(name).resolve()}"
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "localhost"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{auth}@{host}{port}/{quote(name, safe='')}"


def witness_binary() -> Path:
    return Path(sys.executable).with_name("witness")


def child_env(**extra: str) -> dict[str, str] | None:
    """The environment of a `witness` child process on the test database, or None."""
    url = child_database_url()
    if url is None:
        return None
    return {**os.environ, "DATABASE_URL": url, "WITNESS_HOME": str(settings.WITNESS_HOME),
            **extra}
