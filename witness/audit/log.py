"""The verifiable audit log (issue 4; ING-4, GB/T 22239-2019 level 3 security audit):
signed checkpoints, inclusion and consistency proofs, full verification and export.

``verify`` trusts nothing stored but the signing keys: it re-encodes every entry from its
stored fields, recomputes every leaf hash and every subtree hash (comparing them with the
stored ones as it goes, so a change is named by its leaf index), and checks every
checkpoint's signature, its root against the recomputed tree, and that the log still holds
every leaf the checkpoint counted. Proofs are checked against the root before they are
handed out, so a damaged node table cannot produce a proof that does not verify.
"""

from __future__ import annotations

import base64
import multiprocessing
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import connections, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from witness.core.errors import NotFound, WitnessError

from . import canonical, keys, merkle, store
from . import services as audit
from .models import AuditEntry, AuditLeaf, Checkpoint
from .sequencer import Sequencer, root, tree_size

CHUNK = 5000


def checkpoint(*, actor=None, sequence: bool = True) -> Checkpoint:
    """Sign the tree as it stands (after sequencing what has committed, by default)."""
    if sequence:
        Sequencer().drain()
    signer = keys.signer()
    with transaction.atomic():
        size = tree_size()
        top = root(size)
        time = canonical.format_time(timezone.now())
        body = canonical.checkpoint_body(size, top.hex(), time)
        made = Checkpoint.objects.create(
            tree_size=size, root=top, time=time, algorithm=signer.algorithm,
            key_id=signer.public.key_id, public_key=signer.public.raw,
            signature=signer.sign(body))
        audit.append(actor or "system:audit", "audit.checkpoint", made, details={
            "tree_size": size, "root": top.hex(), "key_id": made.key_id})
    return made


def latest_checkpoint(covering: int = 0) -> Checkpoint | None:
    return (Checkpoint.objects.filter(tree_size__gte=covering)
            .order_by("-tree_size", "-id").first())


def checkpoint_json(cp: Checkpoint) -> dict:
    return {"type": "checkpoint", "tree_size": cp.tree_size, "root": bytes(cp.root).hex(),
            "time": cp.time, "algorithm": cp.algorithm, "key_id": cp.key_id,
            "signature": base64.b64encode(bytes(cp.signature)).decode()}


class ProofError(WitnessError):
    pass


def _size_for(size: int | None, at_least: int) -> int:
    current = tree_size()
    if size is None:
        cp = latest_checkpoint(at_least)
        size = cp.tree_size if cp else current
    if not at_least <= size <= current:
        raise ProofError(_("No tree of size %(size)s to prove against: the log has %(current)s "
                           "leaves."), code="bad_tree_size", size=size, current=current)
    return size


def inclusion(index: int, size: int | None = None) -> dict:
    """Inclusion proof of leaf ``index`` in the tree of ``size`` leaves (default: the latest
    checkpoint that holds it, else the whole tree). The document has the fields of the
    RFC 6962 test vectors (base64), so ``witness audit check-proof`` reads it back, plus the
    entry itself and the checkpoint of that size if there is one."""
    if index < 0:
        raise ProofError(_("A leaf index is 0 or more."), code="bad_index")
    size = _size_for(size, index + 1)
    wanted = merkle.inclusion_nodes(index, size) + merkle.root_nodes(size)
    nodes = store.read_nodes([*wanted, (0, index)])
    leaf = nodes[0, index]
    proof = merkle.inclusion_proof(index, size, nodes)
    top = merkle.root(size, nodes)
    if not merkle.verify_inclusion(leaf, index, size, proof, top):
        raise ProofError(_("The stored tree does not prove leaf %(index)s: run witness audit "
                           "verify."), code="proof_inconsistent", index=index)
    row = next((r for _i, _h, r in store.leaves_with_entries(index, index + 1)), None)
    cp = Checkpoint.objects.filter(tree_size=size).order_by("-id").first()
    b64 = lambda h: base64.b64encode(h).decode()  # noqa: E731
    return {"leafIdx": index, "treeSize": size, "root": b64(top), "leafHash": b64(leaf),
            "proof": [b64(p) for p in proof],
            "entry": canonical.canonical_object(store.fields_of(row)) if row else None,
            "checkpoint": checkpoint_json(cp) if cp else None}


def consistency(size1: int, size2: int) -> dict:
    current = tree_size()
    if not 0 <= size1 <= size2 <= current:
        raise ProofError(_("Consistency needs 0 ≤ size1 ≤ size2 ≤ %(current)s."),
                         code="bad_tree_size", current=current)
    wanted = (merkle.consistency_nodes(size1, size2) + merkle.root_nodes(size1)
              + merkle.root_nodes(size2))
    nodes = store.read_nodes(wanted)
    proof = merkle.consistency_proof(size1, size2, nodes)
    root1, root2 = merkle.root(size1, nodes), merkle.root(size2, nodes)
    if not merkle.verify_consistency(size1, size2, root1, root2, proof):
        raise ProofError(_("The stored tree is not consistent between sizes %(a)s and %(b)s: "
                           "run witness audit verify."), code="proof_inconsistent",
                         a=size1, b=size2)
    b64 = lambda h: base64.b64encode(h).decode()  # noqa: E731
    return {"size1": size1, "size2": size2, "root1": b64(root1), "root2": b64(root2),
            "proof": [b64(p) for p in proof]}


# -- verification ---------------------------------------------------------------------------


@dataclass
class Report:
    tree_size: int = 0
    entries: int = 0
    checkpoints: int = 0
    unsequenced: int = 0
    first_bad_index: int | None = None
    problems: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def bad(self, index: int | None, code: str, text: str, **extra) -> None:
        if index is not None and (self.first_bad_index is None or index < self.first_bad_index):
            self.first_bad_index = index
        self.problems.append({"index": index, "code": code, "problem": text, **extra})

    def as_json(self) -> dict:
        return {"ok": self.ok, "tree_size": self.tree_size, "entries": self.entries,
                "checkpoints": self.checkpoints, "unsequenced": self.unsequenced,
                "first_bad_index": self.first_bad_index, "problems": self.problems}


PARALLEL_FROM = 200_000  # leaves; below this one process is quicker than starting others


def verify(*, workers: int | None = None) -> Report:
    """Check the whole log (see the module docstring). With ``workers`` > 1 (default: one
    per CPU for logs of ``PARALLEL_FROM`` leaves or more) the entries are re-encoded by
    forked worker processes, each over its own range of leaves, while this process rebuilds
    the tree; call it from a single-threaded process (the CLI)."""
    report = Report()
    checkpoints = list(Checkpoint.objects.order_by("tree_size", "id"))
    wanted_sizes = {cp.tree_size for cp in checkpoints}
    roots: dict[int, bytes] = {0: merkle.EMPTY_ROOT}
    size = tree_size()
    if workers is None:
        workers = (os.cpu_count() or 1) if size >= PARALLEL_FROM else 1
    pending = None
    if workers > 1 and size:
        step = -(-size // workers)
        connections.close_all()  # each child opens its own connection
        pool = multiprocessing.get_context("fork").Pool(workers)
        pending = pool.starmap_async(check_entries,
                                     [(a, min(a + step, size)) for a in range(0, size, step)])
        pool.close()
    with transaction.atomic():  # the server-side cursors live in one transaction
        broken = _walk_tree(report, roots, wanted_sizes)
        if pending is None:
            problems = check_entries(0, report.tree_size)
    if pending is not None:
        problems = [p for part in pending.get() for p in part]
        pool.join()
    for problem in problems:
        report.bad(**problem)
    report.entries = AuditEntry.objects.count()
    report.unsequenced = AuditEntry.objects.filter(leaf__isnull=True).count()
    _check_checkpoints(report, checkpoints, roots, complete=not broken)
    return report


def check_entries(start: int, end: int) -> list[dict]:
    """Each leaf start ≤ i < end against its entry: gone, not encodable, or re-encoding to
    another leaf hash."""
    problems = []
    leaf_hash = merkle.leaf_hash
    with transaction.atomic():
        try:
            for index, leaf, data in store.encoded_leaves(start, end):
                if data is None:
                    problems.append({"index": index, "code": "entry_missing",
                                     "text": "the leaf's entry is gone"})
                elif leaf_hash(data) != leaf:
                    problems.append({"index": index, "code": "entry_changed", "text":
                                     "the entry's stored fields do not give its leaf hash"})
        except ValueError:  # details that JSON cannot carry: again, leaf by leaf, to name it
            problems = _entry_by_entry(start, end)
    return problems


def _entry_by_entry(start: int, end: int) -> list[dict]:
    """The slow path after an entry failed to encode: each leaf on its own."""
    problems = []
    leaf_hash = merkle.leaf_hash
    with transaction.atomic():
        for index, leaf, row in store.leaves_with_entries(start, end):
            if row is None:
                problems.append({"index": index, "code": "entry_missing",
                                 "text": "the leaf's entry is gone"})
                continue
            try:
                same = leaf_hash(store.encode_row(row)) == leaf
            except ValueError as exc:
                problems.append({"index": index, "code": "unreadable_entry",
                                 "text": f"entry cannot be encoded: {exc}"})
                continue
            if not same:
                problems.append({"index": index, "code": "entry_changed",
                                 "text": "the entry's stored fields do not give its leaf hash"})
    return problems


def _walk_tree(report: Report, roots, wanted_sizes) -> bool:
    """The tree rebuilt from the stored leaves, in order, each completed subtree compared
    with the stored one (an entry that no longer gives its leaf is ``check_entries``'s to
    find; a leaf rewritten to match a rewritten entry shows here, as a stored subtree hash
    that differs, or as a root that differs from the signed one). True if it had to stop."""
    appender = merkle.Appender()
    append = appender.append
    stored = store.nodes_in_completion_order()
    expected = 0
    for index, leaf in store.leaf_hashes():
        if index != expected:
            report.bad(expected, "missing_leaf", "leaf missing: the log has a gap here")
            report.tree_size = expected
            return True
        for node in append(leaf)[1:]:
            if next(stored, None) != node:
                # the leaves under this node hashed to something else when it was stored
                level, at, _h = node
                report.bad(at << level, "node_changed", "a stored subtree hash differs from "
                           "the recomputed one: a leaf under it was rewritten",
                           level=level, node_index=at,
                           leaves=[at << level, ((at + 1) << level) - 1])
                report.tree_size = expected + 1
                return True
        expected += 1
        if expected in wanted_sizes:
            roots[expected] = appender.root()
    report.tree_size = expected
    return False


def _check_checkpoints(report: Report, checkpoints, roots, *, complete: bool) -> None:
    trusted = keys.trusted()
    report.checkpoints = len(checkpoints)
    for cp in checkpoints:
        where = {"checkpoint": cp.pk, "tree_size": cp.tree_size}
        key = trusted.get(cp.key_id)
        body_ok = True
        try:
            body = canonical.checkpoint_body(cp.tree_size, bytes(cp.root).hex(), cp.time)
        except ValueError:
            body_ok = False
        if key is None or bytes(cp.public_key) != key.raw:
            report.bad(None, "untrusted_key", "checkpoint signed by a key that is not trusted",
                       **where)
        elif not body_ok or not key.verify(bytes(cp.signature), body):
            report.bad(None, "bad_signature", "checkpoint signature does not verify", **where)
        if cp.tree_size > report.tree_size and complete:
            report.bad(report.tree_size, "log_truncated", "the log has fewer leaves than a "
                       "signed checkpoint counted", **where)
        elif cp.tree_size in roots and roots[cp.tree_size] != bytes(cp.root):
            report.bad(None, "root_differs", "the recomputed root differs from the signed "
                       "one", **where)


# -- export ---------------------------------------------------------------------------------


def export(start: int, end: int | None = None, *, actor=None) -> Iterator[dict]:
    """JSON-lines objects for leaves ``start`` ≤ i < ``end``: each entry with its inclusion
    proof in the tree of the checkpoint that covers ``end`` (made now if none does), that
    checkpoint and the latest, and the consistency proof between them — what
    ``docs/audit_verify.py`` checks with the public key alone."""
    size = tree_size()
    end = size if end is None else end
    if not 0 <= start <= end <= size:
        raise ProofError(_("Export range %(start)s–%(end)s is outside the log (0–%(size)s)."),
                         code="bad_range", start=start, end=end, size=size)
    cp = (Checkpoint.objects.filter(tree_size__gte=end).order_by("tree_size", "id").first()
          or checkpoint(actor=actor, sequence=False))
    newest = latest_checkpoint() or cp
    yield checkpoint_json(cp)
    if newest.pk != cp.pk:
        yield checkpoint_json(newest)
        proof = consistency(cp.tree_size, newest.tree_size)
        yield {"type": "consistency", "size1": cp.tree_size, "size2": newest.tree_size,
               "proof": [base64.b64decode(p).hex() for p in proof["proof"]]}
    for first in range(start, end, CHUNK):
        last = min(first + CHUNK, end)
        nodes = store.read_nodes(
            node for index in range(first, last)
            for node in merkle.inclusion_nodes(index, cp.tree_size))
        for index, leaf, row in store.leaves_with_entries(first, last):
            if row is None:
                raise ProofError(_("Audit entry of leaf %(index)s is missing: run witness "
                                   "audit verify."), code="entry_missing", index=index)
            yield {"type": "entry", "index": index, "tree_size": cp.tree_size,
                   "entry": canonical.canonical_object(store.fields_of(row)),
                   "leaf_hash": leaf.hex(),
                   "proof": [p.hex() for p in merkle.inclusion_proof(index, cp.tree_size,
                                                                    nodes)]}


def entry_index(entry_id: int) -> int:
    leaf = AuditLeaf.objects.filter(entry_id=entry_id).values_list("index", flat=True).first()
    if leaf is None:
        raise NotFound(_("Audit entry %(id)s has no leaf yet (the sequencer has not reached "
                         "it)."), code="not_sequenced", id=entry_id)
    return leaf
