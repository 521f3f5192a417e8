"""RFC 6962 Merkle tree over the audit log: hashing, proofs, verification (issue 4).

This is the pure core of the provable audit log (ING-4; GB/T 22239-2019 level 3 "security
audit": records protected from deletion and overwrite). It imports only the standard library,
so it is easy to review against the RFCs and has no opinion about storage.

Hashing (RFC 6962 §2.1, RFC 9162 §2.1.1)::

    leaf hash  = SHA-256(0x00 || data)
    node hash  = SHA-256(0x01 || left || right)
    MTH({})    = SHA-256("")
    MTH(D[n])  = node(MTH(D[0:k]), MTH(D[k:n]))  with k the largest power of two < n

Node addressing. ``(level, index)`` names the *complete* subtree of ``2**level`` leaves that
starts at leaf ``index * 2**level``; level 0 holds the leaf hashes. A tree of size ``n`` is the
concatenation of the complete subtrees given by the set bits of ``n`` (its "right border",
largest first); every root, inclusion proof and consistency proof is computed from
O(log n) complete subtrees, and the hash of an *incomplete* subtree (RFC 6962's MTH of a range
that is not a power of two) is always folded here from complete ones. The storage layer keeps
the hash of every complete subtree (the :class:`Appender` reports each one as it is created),
so serving a proof is::

    ids = inclusion_nodes(index, size)             # a few dozen (level, index) pairs
    hashes = {(lv, ix): h for lv, ix, h in fetch(ids)}  # ONE query
    proof = inclusion_proof(index, size, hashes)   # microseconds

Every function that reads nodes takes a :data:`NodeSource`: a mapping
``{(level, index): hash}`` or a callable ``node(level, index) -> hash``. It is asked for the
exact pairs that the matching ``*_nodes`` function lists, and for nothing else.

Proof formats are those of RFC 6962 §2.1.1 (audit path) and §2.1.2 (consistency proof),
identical to RFC 9162 §2.1.3.1 / §2.1.4.1 and to transparency-dev/merkle. Verification
follows the algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2 and is strict: malformed input
(wrong types, hashes that are not 32 bytes, proofs of the wrong length, index >= size,
size1 > size2 ...) is a failed verification, never an exception.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

HASH_SIZE = 32
"""Length in bytes of every leaf, node and root hash (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH of the empty tree (RFC 6962 §2.1)."""

NodeId = tuple[int, int]
"""``(level, index)`` of a complete subtree: leaves ``index * 2**level`` up to the next."""

NodeSource = Mapping[NodeId, bytes] | Callable[[int, int], bytes]
"""Where proofs and roots read complete-subtree hashes from (see the module docstring)."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """Hash of one leaf: SHA-256(0x00 || data) (RFC 6962 §2.1)."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an interior node: SHA-256(0x01 || left || right) (RFC 6962 §2.1)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


# --- which complete subtrees a computation needs ------------------------------------------------


def _border(size: int) -> list[NodeId]:
    """The complete subtrees that make up a tree of ``size`` leaves, left to right.

    One per set bit of ``size``, largest first: 13 leaves are (3, 0), (2, 2), (0, 12).
    """
    border: list[NodeId] = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            border.append((level, start >> level))
            start += 1 << level
    return border


def _path(level: int, index: int, size: int) -> tuple[list[NodeId], list[NodeId], list[NodeId]]:
    """Where the RFC 6962 audit path of node ``(level, index)`` in a tree of ``size`` comes from.

    The node lies inside one complete subtree ``P`` of the tree's border (see :func:`_border`).
    The path (RFC 6962 §2.1.1, read bottom-up) is: the siblings of the node's ancestors inside
    ``P``; then, if ``P`` is not the last border subtree, ONE element that is the MTH of all the
    border subtrees right of ``P`` (the only incomplete subtree involved: it is folded from
    them); then the border subtrees left of ``P``, nearest first.

    Returns ``(siblings, right, left)``; ``right`` is in border order (to be folded), ``left``
    in proof order. The caller guarantees ``(level, index)`` is complete in ``size``.
    """
    border = _border(size)
    first_leaf = index << level
    position = 0
    while True:
        top, top_index = border[position]
        if first_leaf < (top_index + 1) << top:
            break
        position += 1
    siblings = []
    for lv in range(level, top):
        siblings.append((lv, index ^ 1))
        index >>= 1
    return siblings, border[position + 1 :], border[position - 1 :: -1] if position else []


def _check_size(size: int, name: str = "size") -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError(f"{name} must be a non-negative integer, not {size!r}")


def root_nodes(size: int) -> list[NodeId]:
    """The complete subtrees whose hashes :func:`root` folds into the root of ``size`` leaves."""
    _check_size(size)
    return _border(size)


def _inclusion_parts(index: int, size: int) -> tuple[list[NodeId], list[NodeId], list[NodeId]]:
    _check_size(size)
    _check_size(index, "index")
    if index >= size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    return _path(0, index, size)


def inclusion_nodes(index: int, size: int) -> list[NodeId]:
    """The complete subtrees that :func:`inclusion_proof` reads: at most two per bit of size."""
    siblings, right, left = _inclusion_parts(index, size)
    return siblings + right + left


def _consistency_start(size1: int) -> NodeId:
    """The last border subtree of the tree of ``size1``: where a consistency proof starts.

    RFC 9162 §2.1.4.1 descends until the old tree is one complete subtree of the new one; that
    subtree is this node (level = trailing zero bits of ``size1``).
    """
    level = (size1 & -size1).bit_length() - 1
    return level, (size1 - 1) >> level


def _consistency_parts(size1: int, size2: int) -> tuple[list[NodeId], list[NodeId],
                                                        list[NodeId], list[NodeId]]:
    """``(own, siblings, right, left)``: the start node (unless the verifier has it as root1,
    i.e. size1 is a power of two) followed by its audit path in the tree of size2."""
    _check_size(size1, "size1")
    _check_size(size2, "size2")
    if size1 > size2:
        raise ValueError(f"size1 {size1} is larger than size2 {size2}")
    if size1 in (0, size2):
        return [], [], [], []
    start = _consistency_start(size1)
    own = [] if start[1] == 0 else [start]
    return own, *_path(*start, size2)


def consistency_nodes(size1: int, size2: int) -> list[NodeId]:
    """The complete subtrees that :func:`consistency_proof` reads."""
    own, siblings, right, left = _consistency_parts(size1, size2)
    return own + siblings + right + left


# --- computing from a node source ---------------------------------------------------------------


def _reader(nodes: NodeSource) -> Callable[[int, int], bytes]:
    if isinstance(nodes, Mapping):
        return lambda level, index: nodes[level, index]
    return nodes


def _fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of consecutive border subtrees given left to right (right-associated, RFC 6962)."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def _proof(read: Callable[[int, int], bytes], siblings: list[NodeId], right: list[NodeId],
           left: list[NodeId]) -> list[bytes]:
    proof = [read(*node) for node in siblings]
    if right:
        proof.append(_fold([read(*node) for node in right]))
    proof.extend(read(*node) for node in left)
    return proof


def root(size: int, nodes: NodeSource) -> bytes:
    """MTH of the first ``size`` leaves (RFC 6962 §2.1), from the nodes of :func:`root_nodes`."""
    border = root_nodes(size)
    if not border:
        return EMPTY_ROOT
    read = _reader(nodes)
    return _fold([read(*node) for node in border])


def inclusion_proof(index: int, size: int, nodes: NodeSource) -> list[bytes]:
    """Audit path of leaf ``index`` in the tree of ``size`` leaves (RFC 6962 §2.1.1).

    Reads exactly the nodes of :func:`inclusion_nodes`. Raises ``ValueError`` for an index
    outside the tree.
    """
    return _proof(_reader(nodes), *_inclusion_parts(index, size))


def consistency_proof(size1: int, size2: int, nodes: NodeSource) -> list[bytes]:
    """Consistency proof between the trees of ``size1`` and ``size2`` leaves (RFC 6962 §2.1.2).

    Empty when ``size1`` is 0 or equals ``size2``. Reads exactly the nodes of
    :func:`consistency_nodes`. Raises ``ValueError`` when ``size1 > size2``.
    """
    own, siblings, right, left = _consistency_parts(size1, size2)
    read = _reader(nodes)
    return [read(*node) for node in own] + _proof(read, siblings, right, left)


# --- building the tree ---------------------------------------------------------------------------


class Appender:
    """The right border ("compact range") of a growing tree: appends leaves, gives the root.

    Holds one ``(level, hash)`` per set bit of the size, so memory is O(log n) and an append
    costs one node hash on average. Each :meth:`append` returns every complete subtree it
    creates, for the storage layer to keep (those are what proofs are later served from).
    """

    def __init__(self) -> None:
        self.size = 0
        self._border: list[tuple[int, bytes]] = []

    @classmethod
    def from_nodes(cls, size: int, nodes: NodeSource) -> Appender:
        """Resume a tree of ``size`` leaves from its stored border nodes (:func:`root_nodes`)."""
        read = _reader(nodes)
        appender = cls()
        appender._border = [(level, read(level, index)) for level, index in root_nodes(size)]
        appender.size = size
        return appender

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add the leaf with hash ``leaf`` (see :func:`leaf_hash`) at index :attr:`size`.

        Returns the new complete subtrees as ``(level, index, hash)``, the leaf itself first
        (level 0), then each subtree it completes, up to the largest.
        """
        if not isinstance(leaf, bytes) or len(leaf) != HASH_SIZE:
            raise ValueError("a leaf hash is 32 bytes")
        index = self.size
        created = [(0, index, leaf)]
        level, current = 0, leaf
        border = self._border
        while border and border[-1][0] == level:
            current = node_hash(border.pop()[1], current)
            level += 1
            index >>= 1
            created.append((level, index, current))
        border.append((level, current))
        self.size += 1
        return created

    def root(self) -> bytes:
        """MTH of the leaves appended so far (RFC 6962 §2.1)."""
        if not self._border:
            return EMPTY_ROOT
        return _fold([node for _, node in self._border])


# --- verification --------------------------------------------------------------------------------


def _is_hash(value: Any) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_proof(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(_is_hash(item) for item in value)


def _path_length(level: int, index: int, size: int) -> int:
    siblings, right, left = _path(level, index, size)
    return len(siblings) + (1 if right else 0) + len(left)


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes],
                     root_hash: bytes) -> bool:
    """Whether ``proof`` shows leaf hash ``leaf`` at ``index`` in the tree ``(size, root_hash)``.

    RFC 9162 §2.1.3.2, plus an exact check of the proof length. Never raises.
    """
    if not (_is_hash(leaf) and _is_hash(root_hash) and _is_proof(proof)
            and _is_count(index) and _is_count(size) and index < size):
        return False
    if len(proof) != _path_length(0, index, size):
        return False
    fn, sn, result = index, size - 1, leaf
    for element in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            result = node_hash(element, result)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, element)
        fn >>= 1
        sn >>= 1
    return sn == 0 and result == root_hash


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes,
                       proof: Sequence[bytes]) -> bool:
    """Whether ``proof`` shows the tree ``(size1, root1)`` is a prefix of ``(size2, root2)``.

    RFC 9162 §2.1.4.2, plus: size1 > size2 fails; size1 == size2 needs an empty proof and equal
    roots; size1 == 0 needs an empty proof and root1 the empty root; the proof length must be
    exact. Never raises.
    """
    if not (_is_hash(root1) and _is_hash(root2) and _is_proof(proof)
            and _is_count(size1) and _is_count(size2) and size1 <= size2):
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if size1 == 0:
        return not proof and root1 == EMPTY_ROOT
    start = _consistency_start(size1)
    expected = _path_length(*start, size2) + (0 if start[1] == 0 else 1)
    if len(proof) != expected:
        return False
    path = list(proof)
    if start[1] == 0:  # size1 is a power of two
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first_root = second_root = path[0]
    for element in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            first_root = node_hash(element, first_root)
            second_root = node_hash(element, second_root)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            second_root = node_hash(second_root, element)
        fn >>= 1
        sn >>= 1
    return sn == 0 and first_root == root1 and second_root == root2


# --- the JSON proof documents of shared/testdata/rfc6962 ------------------------------------------

_INCLUSION_KEYS = ("leafIdx", "treeSize", "root", "leafHash", "proof")
_CONSISTENCY_KEYS = ("size1", "size2", "root1", "root2", "proof")


def _document_int(doc: Mapping[str, Any], key: str) -> int:
    value = doc[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key} must be an integer")
    return value


def _document_hash(value: Any, key: str) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"{key} is not valid base64: {exc}") from exc


def _document_proof(doc: Mapping[str, Any]) -> list[bytes]:
    value = doc["proof"]
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError("proof must be a list of base64 strings or null")
    return [_document_hash(item, f"proof[{i}]") for i, item in enumerate(value)]


def check_proof_document(doc: Any) -> bool:
    """Verify one inclusion or consistency proof written as in ``shared/testdata/rfc6962``.

    Inclusion: ``leafIdx``, ``treeSize``, ``root``, ``leafHash``, ``proof``; consistency:
    ``size1``, ``size2``, ``root1``, ``root2``, ``proof``; hashes in standard base64, ``proof`` a
    list or null; other keys (``desc``, ``wantErr``) are ignored. Returns whether the proof
    verifies (a well-formed document with a wrong or malformed proof gives ``False``). Raises
    ``ValueError`` when ``doc`` is not such a document at all: not an object, neither or both
    kinds of keys, a missing key, a wrong JSON type or invalid base64 (``witness audit
    check-proof`` exits 2 for it).
    """
    if not isinstance(doc, Mapping):
        raise ValueError("a proof document is a JSON object")
    inclusion, consistency = "leafIdx" in doc, "size1" in doc
    if inclusion == consistency:
        raise ValueError("a proof document has either leafIdx (inclusion) or size1 (consistency)")
    keys = _INCLUSION_KEYS if inclusion else _CONSISTENCY_KEYS
    missing = [key for key in keys if key not in doc]
    if missing:
        raise ValueError(f"proof document lacks {', '.join(missing)}")
    proof = _document_proof(doc)
    if inclusion:
        return verify_inclusion(
            _document_hash(doc["leafHash"], "leafHash"),
            _document_int(doc, "leafIdx"),
            _document_int(doc, "treeSize"),
            proof,
            _document_hash(doc["root"], "root"),
        )
    return verify_consistency(
        _document_int(doc, "size1"),
        _document_int(doc, "size2"),
        _document_hash(doc["root1"], "root1"),
        _document_hash(doc["root2"], "root2"),
        proof,
    )
