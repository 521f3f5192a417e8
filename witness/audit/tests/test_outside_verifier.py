"""docs/audit_verify.py, the outside verifier (issue 4; ING-4; GB/T 22239-2019 security audit).

An export is written here with Witness's own Merkle core and canonical encoding and an Ed25519
key; the script, run as a separate process that cannot import ``witness``, must accept it and
reject each kind of tampering. No database.
"""

from __future__ import annotations

import ast
import base64
import copy
import importlib.util
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from witness.audit import canonical
from witness.audit.merkle import Appender, consistency_proof, inclusion_proof, leaf_hash, root

SCRIPT = Path(__file__).resolve().parents[3] / "docs" / "audit_verify.py"
T0 = datetime(2026, 12, 1, 6, 15, 29, 123456, tzinfo=UTC)

# Runs the script as __main__ with every import of witness refused.
NO_WITNESS = """
import runpy, sys
class NoWitness:
    def find_spec(self, name, path=None, target=None):
        if name == "witness" or name.startswith("witness."):
            raise ImportError("the outside verifier must not import witness")
sys.meta_path.insert(0, NoWitness())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def entry_fields(index: int) -> dict[str, Any]:
    return {
        "id": 1000 + index * 3,
        "created_at": canonical.format_time(T0 + timedelta(seconds=index, microseconds=index)),
        "actor_type": "user" if index % 2 else "system",
        "actor_id": str(index),
        "actor_label": f"张三{index}" if index % 3 else "system:sequencer",
        "action": "recording.play",
        "object_type": "recordings.recording",
        "object_id": str(index * 7),
        "outcome": "success",
        "request_id": f"req-{index}",
        "client_addr": "10.0.0.8",
        "details": {"文件": f"DSC{index:04}.MP4", "n": index, "nested": {"b": [1, 2.5, None],
                                                                        "a": "\u2603 ✓"}},
    }


class Log:
    """A small audit log: entries, every complete subtree hash, an Ed25519 signing key."""

    def __init__(self, size: int) -> None:
        self.fields = [entry_fields(i) for i in range(size)]
        self.store: dict[tuple[int, int], bytes] = {}
        appender = Appender()
        for fields in self.fields:
            for level, index, digest in appender.append(leaf_hash(canonical.encode_entry(fields))):
                self.store[level, index] = digest
        self.key = Ed25519PrivateKey.generate()
        public = self.key.public_key()
        self.public_pem = public.public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
        self.key_id = canonical.key_id(public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))

    def checkpoint(self, size: int, key: Ed25519PrivateKey | None = None) -> dict[str, Any]:
        root_hex = root(size, self.store).hex()
        time = canonical.format_time(T0 + timedelta(hours=size))
        body = canonical.checkpoint_body(size, root_hex, time)
        signature = (key or self.key).sign(body)
        return {"type": "checkpoint", "tree_size": size, "root": root_hex, "time": time,
                "algorithm": "ed25519", "key_id": self.key_id,
                "signature": base64.b64encode(signature).decode()}

    def export(self, first: int, last: int, sizes: list[int]) -> list[dict[str, Any]]:
        """Entries first..last, each proved in the smallest checkpoint holding it."""
        lines = [self.checkpoint(size) for size in sizes]
        lines += [{"type": "consistency", "size1": a, "size2": b,
                   "proof": [h.hex() for h in consistency_proof(a, b, self.store)]}
                  for a, b in pairwise(sizes)]
        for index in range(first, last + 1):
            size = min(s for s in sizes if s > index)
            lines.append({
                "type": "entry", "index": index,
                "entry": copy.deepcopy(canonical.canonical_object(self.fields[index])),
                "leaf_hash": self.store[0, index].hex(),
                "proof": [h.hex() for h in inclusion_proof(index, size, self.store)],
                "tree_size": size,
            })
        return lines


@pytest.fixture(scope="module")
def log() -> Log:
    return Log(21)


@pytest.fixture
def export(log: Log) -> list[dict[str, Any]]:
    """Entries 3..17 of a 21-entry log, checkpoints at 8, 16 and 21 (lines 1-3), consistency
    proofs (lines 4-5), then the entries: line n (``export[n - 1]``) is entry index n - 3."""
    return log.export(3, 17, [8, 16, 21])


def write(tmp_path: Path, lines: list[dict[str, Any]] | list[str], log: Log) -> list[str]:
    texts = [line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)
             for line in lines]
    (tmp_path / "export.jsonl").write_text("".join(f"{t}\n" for t in texts), encoding="utf-8")
    (tmp_path / "key.pem").write_bytes(log.public_pem)
    return ["export.jsonl", "--public-key", "key.pem"]


def verify(tmp_path: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run the script outside the project: cwd tmp_path, no PYTHONPATH, witness unimportable."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PYTHON", "DJANGO"))}
    return subprocess.run([sys.executable, "-c", NO_WITNESS, str(SCRIPT), *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
                          check=False)


def assert_fails(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    for word in words:
        assert word in result.stderr


def test_valid_export_checks_ING4(tmp_path, log, export):
    result = verify(tmp_path, write(tmp_path, export, log))
    assert result.returncode == 0, result.stderr
    assert "15 entries (indices 3..17), 3 signed checkpoints (tree sizes 8, 16, 21)" in (
        result.stdout)


def test_every_index_and_size_up_to_64_ING4(tmp_path):
    """One checkpoint per tree size 1..64, and the consistency proof between each pair."""
    big = Log(64)
    lines = big.export(0, 63, list(range(1, 65)))
    result = verify(tmp_path, write(tmp_path, lines, big))
    assert result.returncode == 0, result.stderr


def test_script_agrees_with_witness_on_every_proof_up_to_64_ING4():
    """The script's own RFC 9162 code and entry encoding against Witness's (in-process)."""
    script = load_script()
    big = Log(64)
    for fields in big.fields:
        assert script.encode_entry(canonical.canonical_object(fields)) == (
            canonical.encode_entry(fields))
    for size in range(1, 65):
        tree_root = root(size, big.store)
        for index in range(size):
            leaf, proof = big.store[0, index], inclusion_proof(index, size, big.store)
            assert script.verify_inclusion(leaf, index, size, proof, tree_root)
            assert not script.verify_inclusion(leaf, index ^ 1, size, proof, tree_root)
            assert not script.verify_inclusion(leaf, index, size, [*proof, leaf], tree_root)
            for position in range(len(proof)):
                assert not script.verify_inclusion(leaf, index, size, spoil(proof, position),
                                                   tree_root)
        for size1 in range(size + 1):
            proof = consistency_proof(size1, size, big.store)
            root1 = root(size1, big.store)
            assert script.verify_consistency(size1, size, root1, tree_root, proof)
            assert not script.verify_consistency(size1, size, spoil([root1], 0)[0], tree_root,
                                                 proof)
            if size1:
                assert not script.verify_consistency(size1, size, root1,
                                                     spoil([tree_root], 0)[0], proof)
            for position in range(len(proof)):
                assert not script.verify_consistency(size1, size, root1, tree_root,
                                                     spoil(proof, position))
            if proof:
                assert not script.verify_consistency(size1, size, root1, tree_root, proof[:-1])


def test_changed_byte_in_an_entry_ING4(tmp_path, log, export):
    args = write(tmp_path, export, log)
    path = tmp_path / "export.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[9] = lines[9].replace('"recording.play"', '"recording.plaY"')  # entry index 7
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert_fails(verify(tmp_path, args), "line 10", "entry index 7", "leaf hash")


def test_changed_detail_with_recomputed_leaf_hash_ING4(tmp_path, log, export):
    export[7]["entry"]["details"]["n"] = 99
    export[7]["leaf_hash"] = leaf_hash(canonical.encode_entry(export[7]["entry"])).hex()
    assert_fails(verify(tmp_path, write(tmp_path, export, log)), "line 8", "inclusion proof")


@pytest.mark.parametrize(("line", "words"), [
    (10, ("line 10", "entry index 8", "expected 7")),           # an entry
    (1, ("line 3", "consistency 8 -> 16", "no checkpoint")),    # a checkpoint
    (4, ("no consistency proof between checkpoints 8 and 16",)),
])
def test_removed_line_ING4(tmp_path, log, export, line, words):
    del export[line - 1]
    assert_fails(verify(tmp_path, write(tmp_path, export, log)), *words)


def test_swapped_pair_of_entry_lines_ING4(tmp_path, log, export):
    export[8], export[9] = export[9], export[8]
    assert_fails(verify(tmp_path, write(tmp_path, export, log)), "line 9", "entry index 7",
                 "expected 6")


def test_swapped_pair_of_entries_under_their_indices_ING4(tmp_path, log, export):
    export[8]["entry"], export[9]["entry"] = export[9]["entry"], export[8]["entry"]
    assert_fails(verify(tmp_path, write(tmp_path, export, log)), "line 9", "entry index 6")


def test_forged_checkpoint_signature_ING4(tmp_path, log, export):
    export[1] = log.checkpoint(16, key=Ed25519PrivateKey.generate())
    assert_fails(verify(tmp_path, write(tmp_path, export, log)), "line 2",
                 "checkpoint of tree size 16", "signature does not verify")


def test_checkpoint_with_another_root_ING4(tmp_path, log, export):
    export[1]["root"] = log.checkpoint(15)["root"]
    assert_fails(verify(tmp_path, write(tmp_path, export, log)), "signature does not verify")


def test_a_size_signed_twice_ING4(tmp_path, log, export):
    export.insert(2, log.checkpoint(16))
    result = verify(tmp_path, write(tmp_path, export, log))
    assert result.returncode == 0, result.stderr
    assert "4 signed checkpoints (tree sizes 8, 16, 21)" in result.stdout


def test_a_size_signed_twice_with_another_root_is_a_fork_ING4(tmp_path, log, export):
    fork = log.checkpoint(15)
    fork["tree_size"] = 16
    body = canonical.checkpoint_body(16, fork["root"], fork["time"])
    fork["signature"] = base64.b64encode(log.key.sign(body)).decode()
    export.insert(2, fork)
    assert_fails(verify(tmp_path, write(tmp_path, export, log)), "line 3", "forked")


def test_truncated_inclusion_proof_ING4(tmp_path, log, export):
    export[12]["proof"] = export[12]["proof"][:-1]
    assert_fails(verify(tmp_path, write(tmp_path, export, log)), "line 13", "entry index 10",
                 "inclusion proof")


def test_truncated_consistency_proof_ING4(tmp_path, log, export):
    export[3]["proof"] = export[3]["proof"][:-1]
    assert_fails(verify(tmp_path, write(tmp_path, export, log)), "line 4", "consistency")


def test_truncated_checkpoint_line_ING4(tmp_path, log, export):
    del export[2]["signature"]
    assert_fails(verify(tmp_path, write(tmp_path, export, log)), "line 3", "signature")


def test_non_json_file_is_unreadable_ING4(tmp_path, log):
    args = write(tmp_path, ["this is not JSON"], log)
    result = verify(tmp_path, args)
    assert result.returncode == 2, result.stderr
    assert "line 1 is not JSON" in result.stderr


def test_unreadable_key_file_ING4(tmp_path, log, export):
    args = write(tmp_path, export, log)
    (tmp_path / "key.pem").write_text("not a key")
    assert verify(tmp_path, args).returncode == 2


def test_script_imports_only_the_standard_library_and_cryptography_ING4():
    tree = ast.parse(SCRIPT.read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported - set(sys.stdlib_module_names) == {"cryptography", "gmssl"}


def spoil(hashes: list[bytes], position: int) -> list[bytes]:
    """A copy with one bit of hashes[position] flipped."""
    changed = bytes([hashes[position][0] ^ 0x80]) + hashes[position][1:]
    return [*hashes[:position], changed, *hashes[position + 1:]]


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_verify", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
