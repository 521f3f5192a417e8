"""The sequencer: gap-free Merkle leaf indices for committed audit entries (issue 4, ING-4).

Business transactions only INSERT their entry (``audit.append``); they never wait for the
log. The sequencer, in its own short transactions, takes the entries that have committed
and have no leaf yet, in id order, gives each the next leaf index, hashes it (RFC 6962:
SHA-256(0x00 ‖ canonical bytes, ``canonical.encode_entry``)) and stores the leaf and every
complete subtree hash it completes (``AuditNode``), so that proofs need O(log n) rows.

One sequencer at a time: each batch starts by updating the single ``SequencerState`` row,
which holds a row lock on PostgreSQL (the write lock on SQLite) until the batch commits, so
sequencers on several machines take turns and never assign an index twice (the leaf index
is the primary key besides). The tree's size is the leaves' own (max index + 1).

An entry whose transaction commits long after it took its id (ids are handed out at
INSERT, leaves in commit order) is found by the window below the highest sequenced id, and,
whatever its age, by the full sweep every ``SWEEP_EVERY``.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from . import merkle, store
from .models import AuditLeaf, SequencerState

BATCH = 2000
WINDOW = 10_000  # entry ids below the highest sequenced one that are looked at each time
SWEEP_EVERY = timedelta(minutes=5)
LEAF_COLUMNS = ("index", "entry_id", "leaf_hash", "sequenced_at")
NODE_COLUMNS = ("level", "index", "hash", "completed_by")


def tree_size() -> int:
    top = AuditLeaf.objects.aggregate(top=Max("index"))["top"]
    return 0 if top is None else top + 1


def root(size: int) -> bytes:
    return merkle.root(size, store.read_nodes(merkle.root_nodes(size)))


class Sequencer:
    """Keeps the tree's right border in memory between batches (reloaded when another
    sequencer moved the tree on)."""

    def __init__(self, batch: int = BATCH):
        self.batch = batch
        self.appender: merkle.Appender | None = None

    def _appender(self, size: int) -> merkle.Appender:
        if self.appender is None or self.appender.size != size:
            self.appender = merkle.Appender.from_nodes(
                size, store.read_nodes(merkle.root_nodes(size)))
        return self.appender

    def step(self, *, sweep: bool | None = None) -> int:
        """Sequence one batch; returns how many entries got a leaf."""
        now = timezone.now()
        try:
            with transaction.atomic():
                if not SequencerState.objects.filter(pk=1).update(updated_at=now):
                    SequencerState.objects.get_or_create(pk=1)
                    SequencerState.objects.filter(pk=1).update(updated_at=now)
                state = SequencerState.objects.get(pk=1)
                if sweep is None:
                    sweep = state.last_sweep is None or now - state.last_sweep >= SWEEP_EVERY
                return self._batch(now, state, sweep)
        except BaseException:
            self.appender = None  # rolled back: the border in memory is not the tree's
            raise

    def _batch(self, now, state: SequencerState, sweep: bool) -> int:
        top = AuditLeaf.objects.aggregate(index=Max("index"), entry=Max("entry_id"))
        size = 0 if top["index"] is None else top["index"] + 1
        after = None if sweep or top["entry"] is None else top["entry"] - WINDOW
        rows = store.pending_entries(after, self.batch)
        if sweep and len(rows) < self.batch:
            SequencerState.objects.filter(pk=1).update(last_sweep=now)
        if not rows:
            return 0
        appender = self._appender(size)
        now = timezone.now()  # the entries seen are committed by now
        leaves, nodes = [], []
        for entry_id, data in rows:
            h = merkle.leaf_hash(data)
            created = appender.append(h)
            index = created[0][1]
            leaves.append((index, entry_id, h, now))
            nodes.extend((level, i, node, index) for level, i, node in created[1:])
        store.insert("audit_auditleaf", LEAF_COLUMNS, leaves)
        store.insert("audit_auditnode", NODE_COLUMNS, nodes)
        return len(rows)

    def drain(self) -> int:
        """Sequence everything committed so far, ending with a full sweep."""
        total = 0
        for sweep in (False, True):
            n = self.step(sweep=sweep)
            while n:
                total += n
                n = self.step(sweep=sweep)
        return total
