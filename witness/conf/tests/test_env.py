"""Settings come from environment variables and fail loudly, in Chinese and English,
naming the variable (docs/operations.md). Each helper is given an explicit ``environ``."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from witness.conf import env

ROOT = Path(__file__).resolve().parents[3]


def _cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def refused(call, *names: str) -> str:
    """Run ``call``; it must raise ImproperlyConfigured naming every variable in ``names``
    in both languages. Returns the message."""
    with pytest.raises(ImproperlyConfigured) as info:
        call()
    message = str(info.value)
    zh, en = message.split("\n", 1)
    for name in names:
        assert name in zh and name in en, message
    assert any(_cjk(ch) for ch in zh), message
    assert not any(_cjk(ch) for ch in en), message
    return message


# --- str / bool / int / list / path / timezone -----------------------------------------

def test_env_str_default_and_required():
    assert env.env_str("X", "d", environ={}) == "d"
    assert env.env_str("X", "d", environ={"X": ""}) == "d"
    assert env.env_str("X", environ={"X": "v"}) == "v"
    refused(lambda: env.env_str("WITNESS_NEEDED", environ={}), "WITNESS_NEEDED")


@pytest.mark.parametrize(("raw", "expected"), [
    ("1", True), ("true", True), ("YES", True), (" on ", True),
    ("0", False), ("false", False), ("No", False), ("off", False), ("", False),
])
def test_env_bool_good_values(raw, expected):
    assert env.env_bool("WITNESS_DEBUG", not expected, environ={"WITNESS_DEBUG": raw}) is expected


def test_env_bool_missing_gives_default():
    assert env.env_bool("WITNESS_DEBUG", True, environ={}) is True
    assert env.env_bool("WITNESS_DEBUG", False, environ={}) is False


@pytest.mark.parametrize("raw", ["maybe", "2", "ja", "truee"])
def test_env_bool_bad_values_are_refused(raw):
    message = refused(lambda: env.env_bool("WITNESS_DEBUG", False,
                                           environ={"WITNESS_DEBUG": raw}), "WITNESS_DEBUG")
    assert repr(raw) in message


def test_env_int_within_bounds():
    environ = {"WITNESS_SESSION_MINUTES": " 45 "}
    assert env.env_int("WITNESS_SESSION_MINUTES", 30, minimum=1, maximum=1440,
                       environ=environ) == 45
    assert env.env_int("WITNESS_SESSION_MINUTES", 30, environ={}) == 30
    assert env.env_int("WITNESS_SESSION_MINUTES", 30,
                       environ={"WITNESS_SESSION_MINUTES": ""}) == 30
    assert env.env_int("N", 0, minimum=1, maximum=5, environ={"N": "1"}) == 1
    assert env.env_int("N", 0, minimum=1, maximum=5, environ={"N": "5"}) == 5


@pytest.mark.parametrize(("raw", "part"), [
    ("thirty", "integer"), ("1.5", "integer"), ("0", "at least 1"), ("1441", "at most 1440"),
    ("-3", "at least 1"),
])
def test_env_int_bad_values_are_refused(raw, part):
    message = refused(lambda: env.env_int("WITNESS_SESSION_MINUTES", 30, minimum=1,
                                          maximum=1440,
                                          environ={"WITNESS_SESSION_MINUTES": raw}),
                      "WITNESS_SESSION_MINUTES")
    assert part in message


def test_env_list():
    assert env.env_list("H", ["a"], environ={}) == ["a"]
    assert env.env_list("H", ["a"], environ={"H": " x.cn, ,y.cn ,"}) == ["x.cn", "y.cn"]
    assert env.env_list("H", ["a"], environ={"H": ""}) == []


def test_env_list_default_is_a_copy():
    default = ["a"]
    env.env_list("H", default, environ={}).append("b")
    assert default == ["a"]


def test_env_path(tmp_path):
    assert env.env_path("WITNESS_HOME", "./var", environ={"WITNESS_HOME": str(tmp_path)}) == \
        tmp_path.resolve()
    assert env.env_path("WITNESS_HOME", str(tmp_path), environ={}) == tmp_path.resolve()
    assert env.env_path("WITNESS_HOME", str(tmp_path), environ={"WITNESS_HOME": ""}) == \
        tmp_path.resolve()
    relative = env.env_path("WITNESS_HOME", "./var", environ={})
    assert relative.is_absolute() and relative.name == "var"
    home = env.env_path("WITNESS_HOME", "x", environ={"WITNESS_HOME": "~/witness"})
    assert home == Path.home().resolve() / "witness"


def test_env_path_with_nul_is_refused():
    refused(lambda: env.env_path("WITNESS_HOME", "./var", environ={"WITNESS_HOME": "a\x00b"}),
            "WITNESS_HOME")


def test_env_timezone():
    assert env.env_timezone("WITNESS_TIME_ZONE", "Asia/Shanghai", environ={}) == "Asia/Shanghai"
    assert env.env_timezone("WITNESS_TIME_ZONE", "Asia/Shanghai",
                            environ={"WITNESS_TIME_ZONE": "UTC"}) == "UTC"


@pytest.mark.parametrize("raw", ["Mars/Olympus", "Asia", "../etc/passwd", "/etc/localtime",
                                 "Asia/Shanghai/"])
def test_env_timezone_bad_values_are_refused(raw):
    refused(lambda: env.env_timezone("WITNESS_TIME_ZONE", "Asia/Shanghai",
                                     environ={"WITNESS_TIME_ZONE": raw}), "WITNESS_TIME_ZONE")


# --- secrets ------------------------------------------------------------------------------

def test_env_secret_direct_or_from_file(tmp_path):
    assert env.env_secret("DATABASE_URL", environ={}) is None
    assert env.env_secret("DATABASE_URL", environ={"DATABASE_URL": "postgres://x"}) == \
        "postgres://x"
    secret = tmp_path / "db-url"
    secret.write_text("postgres://u:p@h/db\n", encoding="utf-8")
    assert env.env_secret("DATABASE_URL", environ={"DATABASE_URL_FILE": str(secret)}) == \
        "postgres://u:p@h/db"


def test_env_secret_missing_file_is_refused(tmp_path):
    message = refused(lambda: env.env_secret(
        "DATABASE_URL", environ={"DATABASE_URL_FILE": str(tmp_path / "nope")}),
        "DATABASE_URL_FILE")
    assert "nope" in message


def test_env_secret_empty_file_is_refused(tmp_path):
    empty = tmp_path / "empty"
    empty.write_text(" \n", encoding="utf-8")
    message = refused(lambda: env.env_secret("DATABASE_URL",
                                             environ={"DATABASE_URL_FILE": str(empty)}),
                      "DATABASE_URL_FILE")
    assert "empty" in message


def test_env_secret_binary_file_is_refused(tmp_path):
    binary = tmp_path / "key.bin"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    refused(lambda: env.env_secret("WITNESS_SECRET_KEY",
                                   environ={"WITNESS_SECRET_KEY_FILE": str(binary)}),
            "WITNESS_SECRET_KEY_FILE")


def test_env_secret_both_set_is_refused(tmp_path):
    secret = tmp_path / "s"
    secret.write_text("x" * 40, encoding="utf-8")
    refused(lambda: env.env_secret("WITNESS_SECRET_KEY", environ={
        "WITNESS_SECRET_KEY": "y" * 40, "WITNESS_SECRET_KEY_FILE": str(secret)}),
        "WITNESS_SECRET_KEY", "WITNESS_SECRET_KEY_FILE")


def test_secret_key_generated_once_with_mode_0600(tmp_path):
    home = tmp_path / "home"
    first = env.secret_key(home, environ={})
    path = home / "secret_key"
    assert len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert env.secret_key(home, environ={}) == first
    assert env.secret_key(tmp_path / "other", environ={}) != first


def test_secret_key_given_is_used_and_nothing_written(tmp_path):
    key = "k" * 32
    assert env.secret_key(tmp_path, environ={"WITNESS_SECRET_KEY": key}) == key
    assert not (tmp_path / "secret_key").exists()
    key_file = tmp_path / "key"
    key_file.write_text("f" * 50 + "\n", encoding="utf-8")
    assert env.secret_key(tmp_path, environ={"WITNESS_SECRET_KEY_FILE": str(key_file)}) == \
        "f" * 50


def test_secret_key_too_short_is_refused_without_showing_it(tmp_path):
    message = refused(lambda: env.secret_key(tmp_path,
                                             environ={"WITNESS_SECRET_KEY": "short-secret"}),
                      "WITNESS_SECRET_KEY")
    assert "short-secret" not in message
    assert "32" in message


def test_secret_key_file_in_home_that_is_too_short_is_refused(tmp_path):
    (tmp_path / "secret_key").write_text("tiny", encoding="utf-8")
    message = refused(lambda: env.secret_key(tmp_path, environ={}))
    assert "secret_key" in message


# --- database URLs ------------------------------------------------------------------------

def test_sqlite_default_path_in_home(tmp_path):
    for url in ("sqlite://", "sqlite:///"):
        db = env.database_from_url(url, home=tmp_path)
        assert db["ENGINE"] == "django.db.backends.sqlite3"
        assert db["NAME"] == str(tmp_path / "witness.sqlite3")


def test_sqlite_absolute_path_and_wal(tmp_path):
    db = env.database_from_url(f"sqlite://{tmp_path}/data%20base.sqlite3", home=Path("/nowhere"))
    assert db["NAME"] == str(tmp_path / "data base.sqlite3")
    init = db["OPTIONS"]["init_command"]
    assert "journal_mode=WAL" in init and "foreign_keys=ON" in init
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_sqlite_url_with_a_host_is_refused(tmp_path):
    refused(lambda: env.database_from_url("sqlite://relative/witness.sqlite3", home=tmp_path),
            "DATABASE_URL")


def test_postgres_url_parts(tmp_path):
    db = env.database_from_url(
        "postgres://witness:p%40ss%3Aw%2Frd@db.example.cn:6543/witness_prod"
        "?sslmode=require&connect_timeout=5", home=tmp_path)
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["USER"], db["PASSWORD"]) == ("witness", "p@ss:w/rd")
    assert (db["HOST"], db["PORT"], db["NAME"]) == ("db.example.cn", "6543", "witness_prod")
    assert db["OPTIONS"] == {"sslmode": "require", "connect_timeout": "5"}


def test_postgres_defaults_and_socket_host(tmp_path):
    db = env.database_from_url("postgresql://%2Fvar%2Frun%2Fpostgresql", home=tmp_path)
    assert db["NAME"] == "witness"
    assert db["HOST"] == "/var/run/postgresql"
    assert (db["USER"], db["PASSWORD"], db["PORT"], db["OPTIONS"]) == ("", "", "", {})


@pytest.mark.parametrize("url", [
    "mysql://u:p@h/db", "http://h/db", "witness.sqlite3", "postgres://u:p@h:port/db",
    "postgres://u:p@h:99999/db", "postgres://u:p@h/db/extra", "postgres://u:p@[::1/db",
])
def test_bad_database_urls_are_refused(url, tmp_path):
    message = refused(lambda: env.database_from_url(url, home=tmp_path), "DATABASE_URL")
    assert ":p@" not in message  # the password is never printed


def test_env_database_reads_the_url_from_a_file(tmp_path):
    url_file = tmp_path / "url"
    url_file.write_text("postgres://u@h/db_from_file", encoding="utf-8")
    db = env.env_database(tmp_path, environ={"DATABASE_URL_FILE": str(url_file)})
    assert db["NAME"] == "db_from_file"
    assert env.env_database(tmp_path, environ={})["NAME"] == str(tmp_path / "witness.sqlite3")


# --- the program itself -------------------------------------------------------------------

def test_witness_check_with_a_bad_setting_exits_with_both_languages(tmp_path):
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("WITNESS_", "DJANGO_"))}
    environ.update(WITNESS_HOME=str(tmp_path), WITNESS_DEBUG="maybe",
                   DATABASE_URL=f"sqlite:///{tmp_path}/w.sqlite3")
    result = subprocess.run([sys.executable, "-m", "witness", "check"], cwd=ROOT, env=environ,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "环境变量 WITNESS_DEBUG" in result.stderr
    assert "Environment variable WITNESS_DEBUG" in result.stderr
    assert "Traceback" not in result.stderr
