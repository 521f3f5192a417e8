"""The RFC 6962 Merkle core of the audit log (issue 4; ING-4; GB/T 22239-2019 security audit).

Checked against every proof vector of transparency-dev/merkle (shared/testdata/rfc6962), the
RFC 6962 test tree, the RFC's recursive definitions, and exhaustively for trees up to 64 leaves.
No database.
"""

from __future__ import annotations

import ast
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from witness.audit import merkle
from witness.audit.merkle import (
    EMPTY_ROOT,
    Appender,
    check_proof_document,
    consistency_nodes,
    consistency_proof,
    inclusion_nodes,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    root_nodes,
    verify_consistency,
    verify_inclusion,
)

# copied from ../shared/testdata/rfc6962 (transparency-dev/merkle, Apache-2.0; see the
# README there): CI runs on a clean clone with nothing beside it
VECTORS = Path(__file__).resolve().parent / "data" / "rfc6962"
VECTOR_FILES = sorted(VECTORS.rglob("*.json"))

# RFC 6962's test tree as used by transparency-dev/merkle (testonly/constants.go).
RFC_LEAVES = [
    b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)), bytes(range(0x60, 0x70)),
]
RFC_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
RFC_NODES = {
    (0, 0): "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    (0, 1): "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    (0, 2): "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    (0, 3): "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    (0, 4): "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    (0, 5): "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    (0, 6): "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    (0, 7): "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    (1, 0): "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    (1, 1): "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    (1, 2): "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    (1, 3): "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    (2, 0): "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    (2, 1): "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    (3, 0): "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}

N = 64


def build(leaves: list[bytes]) -> tuple[dict[tuple[int, int], bytes], list[bytes]]:
    """Node store filled from Appender.append, and the Appender's root after each size."""
    appender, store, roots = Appender(), {}, [EMPTY_ROOT]
    for data in leaves:
        for level, index, digest in appender.append(leaf_hash(data)):
            assert (level, index) not in store
            store[level, index] = digest
        roots.append(appender.root())
    return store, roots


STORE, ROOTS = build([f"entry {i}".encode() for i in range(N)])


def flipped(proof: list[bytes], position: int, bit: int) -> list[bytes]:
    element = bytearray(proof[position])
    element[bit // 8 % len(element)] ^= 1 << bit % 8
    return [*proof[:position], bytes(element), *proof[position + 1:]]


# --- RFC 6962 by its recursive definitions (RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1) ---------------

def split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def naive_mth(data: list[bytes]) -> bytes:
    if not data:
        return hashlib.sha256(b"").digest()
    if len(data) == 1:
        return leaf_hash(data[0])
    k = split(len(data))
    return node_hash(naive_mth(data[:k]), naive_mth(data[k:]))


def naive_path(m: int, data: list[bytes]) -> list[bytes]:
    if len(data) == 1:
        return []
    k = split(len(data))
    if m < k:
        return [*naive_path(m, data[:k]), naive_mth(data[k:])]
    return [*naive_path(m - k, data[k:]), naive_mth(data[:k])]


def naive_subproof(m: int, data: list[bytes], whole: bool) -> list[bytes]:
    if m == len(data):
        return [] if whole else [naive_mth(data)]
    k = split(len(data))
    if m <= k:
        return [*naive_subproof(m, data[:k], whole), naive_mth(data[k:])]
    return [*naive_subproof(m - k, data[k:], False), naive_mth(data[:k])]


# --- the transparency-dev/merkle vectors ---------------------------------------------------------

def test_vector_files_are_there_ING4():
    assert len(VECTOR_FILES) > 0, f"no RFC 6962 vectors under {VECTORS}"
    kinds = {path.relative_to(VECTORS).parts[0] for path in VECTOR_FILES}
    assert kinds == {"inclusion", "consistency"}


@pytest.mark.parametrize("path", VECTOR_FILES, ids=lambda p: str(p.relative_to(VECTORS)))
def test_vector_ING4(path: Path):
    doc = json.loads(path.read_text())
    happy = path.name == "happy-path.json"
    assert doc["wantErr"] is not happy
    assert check_proof_document(doc) is happy


@pytest.mark.parametrize("doc", [
    [],
    "proof",
    {"leafIdx": 0, "treeSize": 1, "root": "", "leafHash": ""},
    {"size1": 1, "size2": 2, "root1": "", "root2": ""},
    {"leafIdx": 0, "size1": 1},
    {"desc": "neither kind"},
    {"leafIdx": "0", "treeSize": 1, "root": "", "leafHash": "", "proof": None},
    {"leafIdx": True, "treeSize": 1, "root": "", "leafHash": "", "proof": None},
    {"leafIdx": 0, "treeSize": 1.0, "root": "", "leafHash": "", "proof": None},
    {"leafIdx": 0, "treeSize": 1, "root": "not base64!", "leafHash": "", "proof": None},
    {"leafIdx": 0, "treeSize": 1, "root": "", "leafHash": 7, "proof": None},
    {"leafIdx": 0, "treeSize": 1, "root": "", "leafHash": "", "proof": "AAAA"},
    {"leafIdx": 0, "treeSize": 1, "root": "", "leafHash": "", "proof": [None]},
    {"size1": 1, "size2": 2, "root1": "", "root2": "", "proof": ["=="]},
])
def test_document_that_is_no_proof_raises_value_error_ING4(doc):
    with pytest.raises(ValueError):  # the CLI maps it to exit status 2
        check_proof_document(doc)


def test_document_with_wrong_hash_lengths_is_a_failed_proof_not_an_error_ING4():
    doc = {"leafIdx": 0, "treeSize": 1, "root": "AAAA", "leafHash": "AAAA", "proof": None}
    assert check_proof_document(doc) is False


# --- the RFC 6962 test tree ----------------------------------------------------------------------

def test_rfc6962_test_tree_roots_and_nodes_ING4():
    store, roots = build(RFC_LEAVES)
    assert [r.hex() for r in roots] == RFC_ROOTS
    assert {node: digest.hex() for node, digest in store.items()} == RFC_NODES
    for size, expected in enumerate(RFC_ROOTS):
        assert root(size, store).hex() == expected
        assert naive_mth(RFC_LEAVES[:size]).hex() == expected


def test_empty_root_and_hash_prefixes_ING4():
    assert EMPTY_ROOT.hex() == RFC_ROOTS[0]
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    left, right = b"a" * 32, b"b" * 32
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()


# --- every proof up to 64 leaves -----------------------------------------------------------------

PAIRS = [(index, size) for size in range(1, N + 1) for index in range(size)]
SIZE_PAIRS = [(size1, size2) for size2 in range(N + 1) for size1 in range(size2 + 1)]


@pytest.mark.parametrize("size", range(1, N + 1))
def test_inclusion_proofs_verify_and_tampering_fails_ING4(size: int):
    tree_root = ROOTS[size]
    for index in range(size):
        leaf, proof = STORE[0, index], inclusion_proof(index, size, STORE)
        assert verify_inclusion(leaf, index, size, proof, tree_root), index
        for position in range(len(proof)):
            for bit in (0, 77, 255):
                assert not verify_inclusion(leaf, index, size, flipped(proof, position, bit),
                                            tree_root), (index, position, bit)
        for other in {index - 1, index + 1, index ^ 1, index ^ 2} - {index}:
            assert not verify_inclusion(leaf, other, size, proof, tree_root), (index, other)
        # A size is checked through its root (a checkpoint signs both): the proof must not
        # show the leaf in the tree of another size.
        for other in {size - 1, size + 1, size * 2, size // 2} - {size}:
            if other <= N:
                assert not verify_inclusion(leaf, index, other, proof, ROOTS[other]), other
        if proof:
            assert not verify_inclusion(leaf, index, size, proof[:-1], tree_root), index
        assert not verify_inclusion(leaf, index, size, [*proof, tree_root], tree_root), index
        assert not verify_inclusion(leaf, index, size, proof, ROOTS[size - 1]), index
        assert not verify_inclusion(flipped([leaf], 0, 9)[0], index, size, proof, tree_root)
        assert not verify_inclusion(leaf, index, size, proof, flipped([tree_root], 0, 9)[0])


@pytest.mark.parametrize("size2", range(N + 1))
def test_consistency_proofs_verify_and_tampering_fails_ING4(size2: int):
    root2 = ROOTS[size2]
    for size1 in range(size2 + 1):
        root1, proof = ROOTS[size1], consistency_proof(size1, size2, STORE)
        assert verify_consistency(size1, size2, root1, root2, proof), size1
        for position in range(len(proof)):
            for bit in (0, 77, 255):
                assert not verify_consistency(size1, size2, root1, root2,
                                              flipped(proof, position, bit)), (size1, position)
        # Another pair of sizes (with its true roots) accepts the proof only where it is
        # exactly that pair's proof too (the empty proof of 0 -> n, or of n -> n).
        for other in {size1 - 1, size1 + 1, size1 * 2, size1 // 2} - {size1}:
            if 0 <= other <= size2:
                assert verify_consistency(other, size2, ROOTS[other], root2, proof) == (
                    consistency_proof(other, size2, STORE) == proof), (size1, other)
        for other in {size2 - 1, size2 + 1, size2 * 2, size2 // 2} - {size2}:
            if size1 <= other <= N:
                assert verify_consistency(size1, other, root1, ROOTS[other], proof) == (
                    consistency_proof(size1, other, STORE) == proof), (size1, other)
        if proof:
            assert not verify_consistency(size1, size2, root1, root2, proof[:-1]), size1
        assert not verify_consistency(size1, size2, root1, root2, [*proof, root2]), size1
        if root1 != root2:
            assert not verify_consistency(size1, size2, root2, root1, proof), size1
        wrong1, wrong2 = flipped([root1], 0, 9)[0], flipped([root2], 0, 9)[0]
        assert not verify_consistency(size1, size2, wrong1, root2, proof), size1
        if size1:  # every tree extends the empty one
            assert not verify_consistency(size1, size2, root1, wrong2, proof), size1


def test_proofs_match_the_rfc_recursive_definitions_up_to_64_ING4():
    leaves = [f"entry {i}".encode() for i in range(N)]
    for index, size in PAIRS:
        assert inclusion_proof(index, size, STORE) == naive_path(index, leaves[:size])
    for size1, size2 in SIZE_PAIRS:
        expected = naive_subproof(size1, leaves[:size2], True) if 0 < size1 < size2 else []
        assert consistency_proof(size1, size2, STORE) == expected


@settings(max_examples=60, deadline=None)
@given(size=st.integers(min_value=0, max_value=300), salt=st.binary(max_size=4),
       data=st.data())
def test_root_and_proofs_match_naive_mth_ING4(size: int, salt: bytes, data: st.DataObject):
    leaves = [salt + i.to_bytes(2, "big") for i in range(size)]
    store, roots = build(leaves)
    assert root(size, store) == roots[size] == naive_mth(leaves)
    if size:
        index = data.draw(st.integers(min_value=0, max_value=size - 1))
        assert inclusion_proof(index, size, store) == naive_path(index, leaves)
        size1 = data.draw(st.integers(min_value=1, max_value=size))
        expected = naive_subproof(size1, leaves, True) if size1 < size else []
        assert consistency_proof(size1, size, store) == expected


# --- only complete subtrees, O(log n) of them, listed beforehand ----------------------------------

def strict_source(size: int, asked: list[tuple[int, int]]) -> Callable[[int, int], bytes]:
    def node(level: int, index: int) -> bytes:
        if (index + 1) << level > size:
            raise AssertionError(f"asked for incomplete subtree ({level}, {index}) of {size}")
        asked.append((level, index))
        return STORE[level, index]
    return node


def test_only_complete_subtrees_are_read_and_exactly_those_listed_ING4():
    for index, size in PAIRS:
        asked: list[tuple[int, int]] = []
        inclusion_proof(index, size, strict_source(size, asked))
        assert asked == inclusion_nodes(index, size)
    for size1, size2 in SIZE_PAIRS:
        asked = []
        consistency_proof(size1, size2, strict_source(size2, asked))
        assert asked == consistency_nodes(size1, size2)
    for size in range(N + 1):
        asked = []
        assert root(size, strict_source(size, asked)) == ROOTS[size]
        assert asked == root_nodes(size)


@pytest.mark.parametrize("size", [1_000_000, 2**40 + 12345])
def test_node_lists_are_logarithmic_ING4(size: int):
    bound = 2 * size.bit_length() + 1
    for index in (0, 1, size // 3, size - 2, size - 1):
        nodes = inclusion_nodes(index, size)
        assert len(nodes) <= bound
        assert all((i + 1) << lv <= size for lv, i in nodes)
    for size1 in (1, 2, 3, size // 2, size - 1):
        nodes = consistency_nodes(size1, size)
        assert len(nodes) <= bound
        assert all((i + 1) << lv <= size for lv, i in nodes)


def test_generation_rejects_impossible_requests_ING4():
    for call in (lambda: inclusion_nodes(5, 5), lambda: inclusion_nodes(-1, 5),
                 lambda: consistency_nodes(6, 5), lambda: root_nodes(-1),
                 lambda: inclusion_proof(0, 0, STORE), lambda: consistency_proof(2, 1, STORE)):
        with pytest.raises(ValueError):
            call()


# --- the Appender --------------------------------------------------------------------------------

def test_appender_reports_every_complete_subtree_exactly_once_ING4():
    expected = {(level, index) for level in range(7) for index in range(N >> level)}
    assert set(STORE) == expected
    appender = Appender()
    created = appender.append(b"\x07" * 32)
    assert created == [(0, 0, b"\x07" * 32)]
    assert appender.size == 1
    assert appender.root() == b"\x07" * 32


@pytest.mark.parametrize("size", [0, 1, 5, 8, 13, 31, 32, 63])
def test_appender_resumes_from_stored_nodes_ING4(size: int):
    resumed = Appender.from_nodes(size, STORE)
    assert resumed.size == size
    assert resumed.root() == ROOTS[size]
    for index in range(size, N):
        for level, node_index, digest in resumed.append(STORE[0, index]):
            assert STORE[level, node_index] == digest
        assert resumed.root() == ROOTS[index + 1]


@pytest.mark.parametrize("bad", [b"short", "x" * 32, None])
def test_appender_rejects_what_is_not_a_leaf_hash_ING4(bad):
    with pytest.raises(ValueError):
        Appender().append(bad)


def test_callable_and_mapping_sources_agree_ING4():
    def node(level: int, index: int) -> bytes:
        return STORE[level, index]

    assert inclusion_proof(5, 13, node) == inclusion_proof(5, 13, STORE)
    assert consistency_proof(5, 13, node) == consistency_proof(5, 13, STORE)
    assert root(13, node) == root(13, STORE) == ROOTS[13]


# --- strict verification -------------------------------------------------------------------------

H = b"\x11" * 32


@pytest.mark.parametrize("args", [
    (H, 0, 0, [], H),                 # empty tree
    (H, 1, 1, [], H),                 # index == size
    (H, -1, 1, [], H),
    (H, True, 2, [H], H),             # bools are not integers here
    (H, 0, 1.0, [], H),
    (H, 0, 1, None, H),
    (H, 0, 2, [H[:31]], H),           # element too short
    (H, 0, 2, ["11" * 32], H),
    (H[:31], 0, 1, [], H[:31]),
    ("11" * 32, 0, 1, [], "11" * 32),
    (H, 0, 1, [H], H),                # too long for a one-leaf tree
    (H, 0, 2**64 - 1, [], H),
])
def test_verify_inclusion_rejects_malformed_input_without_raising_ING4(args):
    assert verify_inclusion(*args) is False


def test_verify_inclusion_one_leaf_tree_ING4():
    assert verify_inclusion(H, 0, 1, [], H) is True


@pytest.mark.parametrize("args", [
    (2, 1, H, H, []),                 # size1 > size2
    (1, 1, H, H, [H]),                # equal sizes need an empty proof
    (1, 1, H, b"\x22" * 32, []),      # ... and equal roots
    (0, 5, EMPTY_ROOT, H, [H]),       # size1 == 0 with a proof
    (0, 5, H, H, []),                 # size1 == 0 but root1 is not the empty root
    (1, 2, H, H, []),                 # empty proof
    (-1, 2, H, H, []),
    (1, True, H, H, []),
    (1, 2, H, H, None),
    (1, 2, H, H, [b""]),
    (1, 2, H[:1], H, [H]),
    (3, 8, H, H, [H]),                # wrong length
])
def test_verify_consistency_rejects_malformed_input_without_raising_ING4(args):
    assert verify_consistency(*args) is False


def test_verify_consistency_trivial_cases_ING4():
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 7, EMPTY_ROOT, ROOTS[7], [])
    assert verify_consistency(7, 7, ROOTS[7], ROOTS[7], ())


def test_module_is_standard_library_only_ING4():
    tree = ast.parse(Path(merkle.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}
