"""The audit log's hot paths in plain SQL (issue 4 numbers: sequencing keeps up with eight
writers, ``verify`` of 1,000,000 entries in ≤ 15 s, a proof in ≤ 5 ms).

* entries are read as tuples with their time already in canonical text (PostgreSQL formats
  it; on SQLite the stored UTC text is rewritten), details as JSON text — no model
  instances, no datetime objects;
* ``encode_row`` builds the canonical bytes of ``canonical.encode_entry`` without its
  per-field checks: the columns' types already guarantee them (a test checks the two agree
  on every row);
* leaves and nodes go in with COPY on PostgreSQL, ``executemany`` on SQLite;
* proof nodes come from one ``IN`` list per level (``read_nodes``).

Streams use a server-side cursor on PostgreSQL (memory flat in the log's size).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from django.db import connection

from . import canonical

ENTRY_COLUMNS = ("id", "created_at", *canonical.STRING_FIELDS, "details")
_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                            allow_nan=False)
_LOAD = json.JSONDecoder().decode
CHUNK = 5000
_NAMES = itertools.count()


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _entry_select(alias: str = "e") -> str:
    """The entry's columns: on PostgreSQL one JSON array (id, canonical time, the strings,
    details) — one text value to parse instead of thirteen; NULL when there is no entry."""
    strings = ", ".join(f"{alias}.{name}" for name in canonical.STRING_FIELDS)
    if _postgres():
        when = (f"to_char({alias}.created_at AT TIME ZONE 'UTC', "
                "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
        return (f"CASE WHEN {alias}.id IS NULL THEN NULL ELSE json_build_array("
                f"{alias}.id, {when}, {strings}, {alias}.details)::text END")
    return f"{alias}.id, {alias}.created_at, {strings}, {alias}.details"


def _sqlite_time(value) -> str:
    """Django's SQLite value (a naive UTC datetime, or its text) in canonical form."""
    if isinstance(value, datetime):
        return canonical.format_time(value.replace(tzinfo=UTC))
    date, _, time = value.partition(" ")
    if "." not in time:
        time += ".000000"
    return f"{date}T{time[:15]}Z"


def entry_row(raw: tuple, postgres: bool) -> tuple | None:
    """A fetched entry (the columns of ``_entry_select``) as a row of ENTRY_COLUMNS values:
    time canonical, details parsed; None where there is no entry."""
    if postgres:
        return tuple(_LOAD(raw[0])) if raw[0] is not None else None
    if raw[0] is None:
        return None
    return (raw[0], _sqlite_time(raw[1]), *raw[2:-1], _LOAD(raw[-1]) if raw[-1] else {})


# PostgreSQL writes the canonical bytes around ``details`` itself: the keys in code-point
# order, each string through to_json, whose escaping is Python's with ensure_ascii=False
# (", \\, \b \f \n \r \t, other controls as \u00xx, nothing else; a test compares the
# two on awkward text). Only ``details`` (jsonb, whose own key order is not canonical) is
# parsed and re-written in Python.
_KEYS_BEFORE = ("action", "actor_id", "actor_label", "actor_type", "client_addr")
_KEYS_AFTER = ("object_id", "object_type", "outcome", "request_id")


def _canonical_sql(alias: str = "e") -> str:
    before = " || ".join(f"""'{"," if i else "{"}"{k}":' || to_json({alias}.{k})::text"""
                         for i, k in enumerate(_KEYS_BEFORE))
    when = (f"to_char({alias}.created_at AT TIME ZONE 'UTC', "
            "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
    after = " || ".join(f"""',"{k}":' || to_json({alias}.{k})::text""" for k in _KEYS_AFTER)
    return (f"""{before} || ',"created_at":"' || {when} || '","details":', """
            f"""{alias}.details::text, ',"id":' || {alias}.id::text || {after} || ',"v":1}}'""")


def canonical_bytes(prefix: str, details: str, suffix: str) -> bytes:
    return (prefix + _ENCODER.encode(_LOAD(details)) + suffix).encode()


def encoded_leaves(start: int, end: int) -> Iterator[tuple[int, bytes, bytes | None]]:
    """(index, stored leaf hash, the entry's canonical bytes or None where it is gone)."""
    if not _postgres():
        for index, leaf, row in leaves_with_entries(start, end):
            yield index, leaf, None if row is None else encode_row(row)
        return
    connection.ensure_connection()
    sql = (f'SELECT l."index", l.leaf_hash, e.id IS NULL, {_canonical_sql()} '  # noqa: S608
           'FROM audit_auditleaf l LEFT JOIN audit_auditentry e ON e.id = l.entry_id '
           'WHERE l."index" >= %s AND l."index" < %s ORDER BY l."index"')
    for index, leaf, gone, prefix, details, suffix in _stream(sql, [start, end]):
        yield index, bytes(leaf), None if gone else canonical_bytes(prefix, details, suffix)


def encode_row(row: tuple) -> bytes:
    """The canonical bytes of an ``entry_row`` (``canonical.encode_entry``, fast)."""
    obj = dict(zip(ENTRY_COLUMNS, row, strict=True))
    obj["v"] = canonical.FORMAT_VERSION
    return _ENCODER.encode(obj).encode()


def fields_of(row: tuple) -> dict:
    return dict(zip(ENTRY_COLUMNS, row, strict=True))


def _stream(sql: str, params: Iterable = ()) -> Iterator[tuple]:
    """Rows of ``sql``; inside a transaction on PostgreSQL from a server-side cursor (the
    whole log: ``verify``), else fetched by the client (a bounded range)."""
    if _postgres() and connection.in_atomic_block:
        # a server-side cursor, inside the caller's transaction or a new one
        name = f"witness_audit_stream_{next(_NAMES)}"
        with connection.connection.cursor(name=name) as cur:
            cur.itersize = CHUNK
            cur.execute(sql, list(params))
            yield from cur
        return
    with connection.cursor() as cur:
        cur.execute(sql, list(params))
        while rows := cur.fetchmany(CHUNK):
            yield from rows


def leaves_with_entries(start: int = 0, end: int | None = None) -> Iterator[tuple]:
    """(index, leaf hash, entry row or None where the entry is gone) for the leaves
    start ≤ i < end, in index order."""
    connection.ensure_connection()
    sql = (f'SELECT l."index", l.leaf_hash, {_entry_select()} FROM audit_auditleaf l '  # noqa: S608
           'LEFT JOIN audit_auditentry e ON e.id = l.entry_id WHERE l."index" >= %s')
    params = [start]
    if end == start + 1:  # one leaf: a point lookup whatever the planner's statistics
        sql = sql.replace('l."index" >= %s', 'l."index" = %s')
    elif end is not None:
        sql += ' AND l."index" < %s'
        params.append(end)
    sql += ' ORDER BY l."index"'
    postgres = _postgres()
    for raw in _stream(sql, params):
        yield raw[0], bytes(raw[1]), entry_row(raw[2:], postgres)


def leaf_hashes() -> Iterator[tuple[int, bytes]]:
    connection.ensure_connection()
    for index, h in _stream('SELECT "index", leaf_hash FROM audit_auditleaf ORDER BY "index"'):
        yield index, bytes(h)


def nodes_in_completion_order() -> Iterator[tuple[int, int, bytes]]:
    connection.ensure_connection()
    sql = ('SELECT level, "index", hash FROM audit_auditnode '
           "ORDER BY completed_by, level")
    for level, index, h in _stream(sql):
        yield level, index, bytes(h)


def pending_entries(after_id: int | None, limit: int) -> list[tuple[int, bytes]]:
    """(id, canonical bytes) of committed entries without a leaf, in id order (``after_id``:
    only ids above it)."""
    postgres = _postgres()
    columns = f"e.id, {_canonical_sql()}" if postgres else _entry_select()
    # With ``after_id`` both sides are bounded to the window (l.entry_id = e.id > after_id):
    # the leaves are read by a range of their entry_id index, not the whole table each poll.
    window = " AND l.entry_id > %s" if after_id is not None else ""
    sql = (f"SELECT {columns} FROM audit_auditentry e WHERE NOT EXISTS "  # noqa: S608
           f"(SELECT 1 FROM audit_auditleaf l WHERE l.entry_id = e.id{window})")
    params: list = []
    if after_id is not None:
        sql += " AND e.id > %s"
        params += [after_id, after_id]
    sql += " ORDER BY e.id LIMIT %s"
    params.append(limit)
    with connection.cursor() as cur:
        cur.execute(sql, params)
        if postgres:
            return [(entry_id, canonical_bytes(prefix, details, suffix))
                    for entry_id, prefix, details, suffix in cur.fetchall()]
        return [(raw[0], encode_row(entry_row(raw, False))) for raw in cur.fetchall()]


def insert(table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    if not rows:
        return
    names = ", ".join(f'"{c}"' for c in columns)
    with connection.cursor() as cur:
        if _postgres():
            with cur.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("%s" for _ in columns)
            cur.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})",  # noqa: S608
                            rows)


NODE_BATCH = 4000  # node indices per query


def read_nodes(wanted: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """The hashes of the complete subtrees ``wanted`` ((level, index); level 0 = leaves):
    one ``index IN (…)`` list per level, packed into queries of at most NODE_BATCH indices —
    two queries for one proof, a few for the proofs of thousands of leaves (an export, a
    custody report), however far apart they lie."""
    by_level: dict[int, list[int]] = {}
    for level, index in set(wanted):
        by_level.setdefault(level, []).append(index)
    found: dict[tuple[int, int], bytes] = {}
    leaves = sorted(by_level.pop(0, []))
    units = [(level, sorted(ids)[i:i + NODE_BATCH]) for level, ids in sorted(by_level.items())
             for i in range(0, len(ids), NODE_BATCH)]
    with connection.cursor() as cur:
        for i in range(0, len(leaves), NODE_BATCH):
            chunk = leaves[i:i + NODE_BATCH]
            marks = ", ".join("%s" for _ in chunk)
            cur.execute(f'SELECT "index", leaf_hash FROM audit_auditleaf '  # noqa: S608
                        f'WHERE "index" IN ({marks})', chunk)
            found.update(((0, index), bytes(h)) for index, h in cur.fetchall())
        while units:
            where, values, room = [], [], NODE_BATCH
            while units and len(units[0][1]) <= room:
                level, chunk = units.pop(0)
                where.append(f'(level = %s AND "index" IN ({", ".join("%s" for _ in chunk)}))')
                values += [level, *chunk]
                room -= len(chunk)
            cur.execute('SELECT level, "index", hash FROM audit_auditnode '  # noqa: S608
                        f"WHERE {' OR '.join(where)}", values)
            found.update(((level, index), bytes(h)) for level, index, h in cur.fetchall())
    expected = len(leaves) + sum(len(ids) for ids in by_level.values())
    if len(found) != expected:
        raise LookupError(f"{expected - len(found)} audit log nodes missing")
    return found
