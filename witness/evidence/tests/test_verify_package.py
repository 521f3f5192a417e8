"""``witness verify-package`` and witness/evidence/verify.py (EVD-1, EVD-3): a strict BagIt
1.0 checker of its own (every manifest including SM3, completeness, the signature).

The bags are built here by a small builder of this test's own (independent of the exporter),
plus the BagIt conformance suite in /work/shared/testdata (read in place, not copied)."""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from witness.audit import keys
from witness.evidence import verify

ROOT = Path(__file__).resolve().parents[3]
VERIFY_PY = ROOT / "witness" / "evidence" / "verify.py"
WITNESS = ROOT / ".venv" / "bin" / "witness"
CONFORMANCE = ROOT.parent / "shared" / "testdata" / "bagit-conformance" / "v1.0"
if not CONFORMANCE.is_dir():
    CONFORMANCE = Path("/work/shared/testdata/bagit-conformance/v1.0")


def bags(kind: str) -> list[Path]:
    folder = CONFORMANCE / kind
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


# --- a tiny bag builder of the test's own --------------------------------------------------

def _encode(path: str) -> str:
    return path.replace("%", "%25").replace("\n", "%0A").replace("\r", "%0D")


def _digest(path: Path, algorithm: str) -> str:
    return hashlib.new(algorithm, path.read_bytes()).hexdigest()


def write_manifest(root: Path, name: str, algorithm: str, paths: list[str]) -> None:
    lines = [f"{_digest(root / p, algorithm)}  {_encode(p)}\n" for p in paths]
    (root / name).write_text("".join(lines), encoding="utf-8")


def sign(root: Path, signer: keys.Signer | None, tag_algorithms=("sha256", "sm3")) -> None:
    """(Re)write the tag manifests over every tag file, then the signature."""
    skip = {"witness-signature.json", "witness-public-key.pem"}
    for name in list(root.iterdir()):
        if name.name.startswith("tagmanifest-"):
            name.unlink()
    tag_files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                       if p.is_file() and not p.relative_to(root).as_posix().startswith("data/")
                       and p.name not in skip)
    for algorithm in tag_algorithms:
        write_manifest(root, f"tagmanifest-{algorithm}.txt", algorithm, tag_files)
    if signer is not None:
        signature = signer.sign((root / "tagmanifest-sha256.txt").read_bytes())
        (root / "witness-signature.json").write_text(json.dumps({
            "algorithm": signer.algorithm, "key_id": signer.public.key_id,
            "signed": "tagmanifest-sha256.txt",
            "signature": base64.b64encode(signature).decode()}))
        (root / "witness-public-key.pem").write_text(signer.public.pem())


def new_signer(algorithm: str = keys.ED25519) -> keys.Signer:
    return keys.Signer(algorithm, keys._new_secret(algorithm))


def build(root: Path, files: dict[str, bytes] | None = None, *, signer=None, witness=True,
          algorithms=("sha256", "sm3")) -> Path:
    files = files if files is not None else {
        "originals/1-执法记录仪 A.mp4": b"\x00\x01video" * 1000,
        "originals/2-audio.wav": b"RIFF....WAVE" * 50,
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    for rel, content in files.items():
        path = root / "data" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    (root / "data").mkdir(exist_ok=True)
    payload = sorted(f"data/{rel}" for rel in files)
    for algorithm in algorithms:
        write_manifest(root, f"manifest-{algorithm}.txt", algorithm, payload)
    info = ["Source-Organization: 庐山市综合行政执法局", "Bagging-Date: 2026-12-02",
            f"Payload-Oxum: {sum(map(len, files.values()))}.{len(files)}",
            "External-Identifier: 庐执罚〔2026〕12号", "Contact-Name: 张三"]
    if witness:
        info += ["Witness-Extracted-At: 2026-12-02T08:00:00+08:00",
                 "Witness-Object: activity 12"]
    (root / "bag-info.txt").write_text("\n".join(info) + "\n", encoding="utf-8")
    (root / "explanation.pdf").write_bytes(b"%PDF-1.7 explanation")
    sign(root, signer if signer is not None or not witness else new_signer())
    return root


@pytest.fixture
def package(tmp_path) -> Path:
    return build(tmp_path / "pkg")


def problem(path: Path, **kwargs) -> verify.Problem:
    report = verify.verify(path, **kwargs)
    assert not report.ok, "the package should have been refused"
    return report.problem


def rewrite_line(path: Path, number: int, new: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[number - 1] = new
    path.write_text("".join(lines), encoding="utf-8")


# --- the conformance suite ----------------------------------------------------------------

@pytest.mark.parametrize("bag", bags("valid"), ids=lambda p: p.name)
def test_EVD1_accepts_every_valid_conformance_bag(bag):
    report = verify.verify(bag)
    assert report.ok, report.problem
    assert report.files >= 1 and report.signature is None


@pytest.mark.parametrize("bag", bags("invalid"), ids=lambda p: p.name)
def test_EVD1_rejects_every_invalid_conformance_bag(bag):
    assert problem(bag).status == verify.INVALID


def test_EVD1_conformance_suite_is_there():
    assert bags("valid") and bags("invalid")


def test_EVD1_conformance_reasons_name_the_file_and_line():
    assert vars_of(problem(CONFORMANCE / "invalid" / "bagit-with-invalid-whitespace")) == (
        "bagit_txt_line", "bagit.txt", 1)
    assert vars_of(problem(CONFORMANCE / "invalid" / "notAllManifestsListAllFiles")) == (
        "unlisted", "manifest-sha512.txt", None)
    # a trailing space after the version; the duplicate line comes later in that bag
    assert vars_of(problem(CONFORMANCE / "invalid" / "same-filename-listed-twice-with-"
                           "different-hashes")) == ("bagit_txt_line", "bagit.txt", 1)
    assert vars_of(problem(CONFORMANCE / "invalid" / "same-filename-listed-twice-with-"
                           "the-same-hash")) == ("duplicate", "manifest-sha256.txt", 2)


def vars_of(p: verify.Problem):
    return p.code, p.file, p.line


# --- packages built here ------------------------------------------------------------------

@pytest.mark.parametrize("algorithm", [keys.ED25519, keys.SM2])
def test_EVD1_accepts_a_signed_witness_package(tmp_path, algorithm):
    signer = new_signer(algorithm)
    report = verify.verify(build(tmp_path / "pkg", signer=signer))
    assert report.ok, report.problem
    assert report.signature == {"algorithm": algorithm, "key_id": signer.public.key_id,
                                "trusted": False}
    assert report.manifests == ["manifest-sha256.txt", "manifest-sm3.txt",
                                "tagmanifest-sha256.txt", "tagmanifest-sm3.txt"]
    # 2 originals + bagit.txt, bag-info.txt, 2 payload manifests, explanation.pdf
    assert report.files == 7
    payload = sum(p.stat().st_size for p in (tmp_path / "pkg" / "data").rglob("*")
                  if p.is_file())
    assert report.bytes > payload


def test_EVD1_sm3_manifest_agrees_with_openssl_and_a_wrong_sm3_line_is_refused(package):
    if not shutil.which("openssl"):
        pytest.fail("openssl is missing")
    lines = (package / "manifest-sm3.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    for line in lines:
        digest, rel = line.split("  ", 1)
        out = subprocess.run(["openssl", "dgst", "-sm3", "-r", str(package / rel)],
                             capture_output=True, text=True, check=True).stdout
        assert out.split()[0] == digest
    assert verify.verify(package).ok
    # a wrong SM3 line (the SHA-256, same length) is caught by the SM3 check itself
    digest, rel = lines[1].split("  ", 1)
    wrong = _digest(package / rel, "sha256")
    rewrite_line(package / "manifest-sm3.txt", 2, f"{wrong}  {rel}\n")
    sign(package, new_signer())
    p = problem(package)
    assert vars_of(p) == ("digest_mismatch", "manifest-sm3.txt", 2)
    assert p.params["algorithm"] == "sm3" and p.params["expected"] == wrong
    assert p.params["found"] == digest


def test_EVD1_one_flipped_byte_in_a_payload_file_is_refused(package):
    target = package / "data" / "originals" / "2-audio.wav"
    content = bytearray(target.read_bytes())
    content[17] ^= 0x01
    target.write_bytes(bytes(content))
    p = problem(package)
    assert (p.code, p.params["path"]) == ("digest_mismatch", "data/originals/2-audio.wav")
    assert p.file == "manifest-sha256.txt" and p.line == 2


def test_EVD1_a_missing_file_is_refused(package):
    (package / "data" / "originals" / "2-audio.wav").unlink()
    p = problem(package)
    # Payload-Oxum is checked first: it already shows the file is gone
    assert vars_of(p) == ("oxum_mismatch", "bag-info.txt", 3)
    # without Payload-Oxum the manifest line names it
    rewrite_line(package / "bag-info.txt", 3, "Contact-Phone: 0792-1234567\n")
    sign(package, new_signer())
    p = problem(package)
    assert vars_of(p) == ("missing", "manifest-sha256.txt", 2)
    assert "data/originals/2-audio.wav" in str(p)


def test_EVD1_an_extra_file_in_data_is_refused(package):
    (package / "data" / "originals" / "3-planted.mp4").write_bytes(b"")  # 0 bytes: Oxum
    rewrite_line(package / "bag-info.txt", 3, "Payload-Oxum: "
                 + verify.verify(package).problem.params["found"] + "\n")
    sign(package, new_signer())
    p = problem(package)
    assert vars_of(p) == ("unlisted", "manifest-sha256.txt", None)
    assert p.params["path"] == "data/originals/3-planted.mp4"


def test_EVD1_every_payload_manifest_must_list_every_file(package):
    rewrite_line(package / "manifest-sm3.txt", 2, "")
    sign(package, new_signer())
    p = problem(package)
    assert vars_of(p) == ("unlisted", "manifest-sm3.txt", None)


def test_EVD3_a_bad_signature_is_refused(package):
    claim = json.loads((package / "witness-signature.json").read_text())
    sig = bytearray(base64.b64decode(claim["signature"]))
    sig[5] ^= 0x40
    claim["signature"] = base64.b64encode(bytes(sig)).decode()
    (package / "witness-signature.json").write_text(json.dumps(claim))
    p = problem(package)
    assert vars_of(p) == ("bad_signature", "witness-signature.json", None)


def test_EVD3_a_bad_sm2_signature_is_refused(tmp_path):
    root = build(tmp_path / "pkg", signer=new_signer(keys.SM2))
    assert verify.verify(root).ok
    other = new_signer(keys.SM2)
    claim = json.loads((root / "witness-signature.json").read_text())
    claim["signature"] = base64.b64encode(
        other.sign((root / "tagmanifest-sha256.txt").read_bytes())).decode()
    (root / "witness-signature.json").write_text(json.dumps(claim))
    assert problem(root).code == "bad_signature"


def test_EVD3_a_witness_package_without_a_signature_is_refused(package):
    (package / "witness-signature.json").unlink()
    (package / "witness-public-key.pem").unlink()
    p = problem(package)
    assert vars_of(p) == ("signature_required", "witness-signature.json", None)
    (package / "witness-signature.json").write_text("{}")
    assert problem(package).code == "signature_required"  # the key is missing too


def test_EVD3_a_plain_bag_need_not_be_signed_but_must_be_when_a_key_is_trusted(tmp_path):
    root = build(tmp_path / "pkg", witness=False)
    assert not (root / "witness-signature.json").exists()
    assert verify.verify(root).ok
    trusted = verify.load_public_key(new_signer().public.pem())[1]
    assert problem(root, trusted_key=trusted).code == "signature_required_trusted"


def test_EVD3_a_tag_file_changed_after_signing_is_refused(package):
    info = package / "bag-info.txt"
    info.write_text(info.read_text(encoding="utf-8").replace("张三", "李四"), encoding="utf-8")
    p = problem(package)
    assert vars_of(p) == ("digest_mismatch", "tagmanifest-sha256.txt", 1)
    assert p.params["path"] == "bag-info.txt"
    # the tag manifests rewritten to match, but not re-signed: the signature fails
    sign(package, None)
    assert vars_of(problem(package)) == ("bad_signature", "witness-signature.json", None)


def test_EVD3_a_tag_file_outside_the_signed_manifest_is_refused(package):
    (package / "note.txt").write_text("added later")
    p = problem(package)
    assert (p.code, p.params["path"]) == ("not_covered", "note.txt")
    (package / "note.txt").unlink()
    (package / "tagmanifest-sha256.txt").unlink()
    assert vars_of(problem(package)) == ("signed_file_missing", "tagmanifest-sha256.txt", None)


def test_EVD3_trusted_key_requires_exactly_that_key(tmp_path):
    agency = new_signer()
    root = build(tmp_path / "pkg", signer=agency)
    der = verify.load_public_key(agency.public.pem())[1]
    report = verify.verify(root, trusted_key=der)
    assert report.ok and report.signature["trusted"] is True
    # someone re-bags and signs with a key of their own: consistent, but not the agency's
    sign(root, new_signer())
    assert verify.verify(root).ok
    p = problem(root, trusted_key=der)
    assert (p.code, p.params["expected"]) == ("untrusted_key", agency.public.key_id)


def test_EVD3_key_and_signature_must_agree(package):
    claim = json.loads((package / "witness-signature.json").read_text())
    (package / "witness-signature.json").write_text(json.dumps({**claim, "key_id": "ab" * 32}))
    assert problem(package).code == "key_id"
    (package / "witness-signature.json").write_text(json.dumps({**claim, "algorithm": "sm2"}))
    assert problem(package).code == "key_algorithm"
    (package / "witness-signature.json").write_text(json.dumps({**claim, "signed": "x"}))
    assert problem(package).code == "signature_malformed"
    (package / "witness-signature.json").write_text(json.dumps(claim))
    (package / "witness-public-key.pem").write_text("not a key")
    assert problem(package).code == "key_malformed"
    # an SM2 key with a compressed point: the cryptography library cannot load it; a
    # malformed key (exit 1), not a crash
    algorithm = bytes.fromhex("301306072a8648ce3d020106082a811ccf5501822d")
    point = bytes.fromhex("032200") + b"\x02" + bytes(range(32))
    der = b"\x30" + bytes([len(algorithm) + len(point)]) + algorithm + point
    pem = ("-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(der).decode()
           + "\n-----END PUBLIC KEY-----\n")
    (package / "witness-public-key.pem").write_text(pem)
    assert problem(package).code == "key_malformed"


@pytest.mark.parametrize("bad", ["data/../bagit.txt", "data/originals/../../x", "/etc/passwd",
                                 "data//x", "data/./x", "data\\originals\\x", "data/100%.mp4"])
def test_EVD1_a_path_outside_data_or_with_dotdot_is_refused(package, bad):
    digest = _digest(package / "bagit.txt", "sha256")
    rewrite_line(package / "manifest-sha256.txt", 1, f"{digest}  {bad}\n")
    sign(package, new_signer())
    p = problem(package)
    assert (p.code, p.file, p.line) == ("bad_path", "manifest-sha256.txt", 1)


def test_EVD1_a_payload_manifest_listing_a_tag_file_is_refused(package):
    digest = _digest(package / "bagit.txt", "sha256")
    rewrite_line(package / "manifest-sha256.txt", 1, f"{digest}  bagit.txt\n")
    sign(package, new_signer())
    assert vars_of(problem(package)) == ("outside_payload", "manifest-sha256.txt", 1)


def test_EVD1_a_duplicate_path_is_refused(package):
    manifest = package / "manifest-sha256.txt"
    first = manifest.read_text().splitlines(keepends=True)[0]
    manifest.write_text(manifest.read_text() + first)
    sign(package, new_signer())
    p = problem(package)
    assert vars_of(p) == ("duplicate", "manifest-sha256.txt", 3)
    assert p.params["first"] == 1


@pytest.mark.parametrize("line", [
    "{d} data/x",            # fine: one space (a control)
    "{d}\tdata/x",           # fine: a tab
    " {d} data/x",           # leading whitespace
    "{d}data/x",             # no separator
    "{d}  ",                 # no path
    "{short} data/x",        # digest of the wrong length
    "{d} data/x\x00",        # NUL
    "",                      # a blank line
])
def test_EVD1_manifest_lines_follow_rfc8493(tmp_path, line):
    root = build(tmp_path / "pkg", {"x": b"x"}, witness=False, algorithms=("sha256",))
    d = _digest(root / "data" / "x", "sha256")
    (root / "manifest-sha256.txt").write_text(line.format(d=d, short=d[:-1]) + "\n")
    sign(root, None)
    report = verify.verify(root)
    if line.startswith("{d}") and line[3] in " \t" and line.endswith("data/x"):
        assert report.ok, report.problem
    else:
        assert not report.ok and report.problem.code in ("manifest_line", "bad_path")


def test_EVD1_percent_encoded_file_names(tmp_path):
    root = build(tmp_path / "pkg", {"50%\nrate.txt": b"a", "plain.txt": b"b"}, witness=False)
    assert "data/50%25%0Arate.txt" in (root / "manifest-sha256.txt").read_text()
    assert verify.verify(root).ok


def test_EVD1_unknown_algorithm_and_missing_payload_manifest(tmp_path):
    root = build(tmp_path / "pkg", witness=False)
    (root / "manifest-sha3_256.txt").write_text("")
    p = problem(root)
    assert (p.code, p.file) == ("unknown_algorithm", "manifest-sha3_256.txt")
    (root / "manifest-sha3_256.txt").unlink()
    for name in ("manifest-sha256.txt", "manifest-sm3.txt"):
        (root / name).unlink()
    sign(root, None)
    assert problem(root).code == "no_manifest"


@pytest.mark.parametrize("algorithm", ["sha512", "sha1", "md5", "sm3"])
def test_EVD1_every_known_algorithm_is_checked(tmp_path, algorithm):
    root = build(tmp_path / "pkg", {"x": b"content"}, witness=False, algorithms=(algorithm,))
    assert verify.verify(root).manifests[0] == f"manifest-{algorithm}.txt"
    (root / "data" / "x").write_bytes(b"Content")
    p = problem(root)
    assert (p.code, p.params["algorithm"]) == ("digest_mismatch", algorithm)


@pytest.mark.parametrize("content, code, line", [
    (b"BagIt-Version: 1.0\n", "bagit_txt_lines", None),
    (b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\nX: y\n", "bagit_txt_lines",
     None),
    (b"BagIt-Version: 2.0\nTag-File-Character-Encoding: UTF-8\n", "bagit_txt_line", 1),
    (b"BagIt-Version: 1.0\nTag-File-Character-Encoding: ISO-8859-1\n", "bagit_txt_line", 2),
    (b"\xef\xbb\xbfBagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n", "bom", None),
    (b"BagIt-Version: 0.97\r\nTag-File-Character-Encoding: UTF-8\r\n", None, None),
])
def test_EVD1_bagit_txt_is_exactly_two_lines(tmp_path, content, code, line):
    root = build(tmp_path / "pkg", witness=False)
    (root / "bagit.txt").write_bytes(content)
    sign(root, None)
    report = verify.verify(root)
    if code is None:
        assert report.ok, report.problem
    else:
        assert (report.problem.code, report.problem.line) == (code, line)


def test_EVD1_missing_bagit_txt_or_data(tmp_path):
    root = build(tmp_path / "pkg", witness=False)
    (root / "bagit.txt").unlink()
    assert problem(root).code == "no_bagit_txt"
    root = build(tmp_path / "pkg2", {}, witness=False)
    shutil.rmtree(root / "data")
    assert problem(root).code == "no_data"


def test_EVD1_bag_info_continuation_lines_and_malformed_lines(package):
    info = package / "bag-info.txt"
    text = info.read_text(encoding="utf-8")
    info.write_text(text + "External-Description: a long\n  description\n\tcontinued\n",
                    encoding="utf-8")
    sign(package, new_signer())
    assert verify.verify(package).ok
    for bad in ("no colon here\n", "Label :x\n", "Label:x\n", "\n"):
        info.write_text(text + bad, encoding="utf-8")
        sign(package, new_signer())
        p = problem(package)
        assert vars_of(p) == ("bag_info_line", "bag-info.txt", 8), bad


def test_EVD1_payload_oxum(package):
    info = package / "bag-info.txt"
    text = info.read_text(encoding="utf-8")
    info.write_text(text.replace("Payload-Oxum: ", "Payload-Oxum: 1"), encoding="utf-8")
    sign(package, new_signer())
    assert vars_of(problem(package)) == ("oxum_mismatch", "bag-info.txt", 3)
    info.write_text(text.replace("Payload-Oxum: ", "Payload-Oxum: x"), encoding="utf-8")
    sign(package, new_signer())
    assert problem(package).code == "oxum_malformed"
    info.write_text(text + text.splitlines(keepends=True)[2], encoding="utf-8")
    sign(package, new_signer())
    assert vars_of(problem(package)) == ("oxum_repeated", "bag-info.txt", 8)


def test_EVD1_symbolic_links_are_refused(package, tmp_path):
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"x")
    (package / "data" / "link.bin").symlink_to(outside)
    p = problem(package)
    assert (p.code, p.file) == ("not_regular", "data/link.bin")


def test_EVD1_large_files_are_read_in_chunks_with_progress(tmp_path):
    big = os.urandom(verify.CHUNK * 2 + 123)
    root = build(tmp_path / "pkg", {"big.bin": big}, witness=False)
    calls = []

    def start(total):
        calls.append(("total", total))
        return lambda count, path: calls.append((count, path))

    report = verify.verify(root, progress=start)
    assert report.ok
    assert calls[0] == ("total", report.bytes)
    payload_reads = [count for count, path in calls[1:] if path == "data/big.bin"]
    assert payload_reads == [verify.CHUNK, verify.CHUNK, 123]
    assert sum(count for count, _ in calls[1:]) == report.bytes


# --- reasons in both languages, the real console script, the standalone script -------------

def test_EVD1_reason_in_chinese_and_english_names_file_and_line(package):
    rewrite_line(package / "manifest-sha256.txt", 2, "zz  data/originals/2-audio.wav\n")
    report = verify.verify(package)
    reason = report.as_dict()["reason"]
    assert reason["file"] == "manifest-sha256.txt" and reason["line"] == 2
    assert "manifest-sha256.txt" in reason["en"] and "line 2" in reason["en"]
    assert "manifest-sha256.txt" in reason["zh"] and "第 2 行" in reason["zh"]


def run_cli(tmp_path, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "WITNESS_HOME": str(tmp_path / "home")}
    env.pop("DATABASE_URL", None)
    return subprocess.run([str(WITNESS), "verify-package", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=120)


def test_EVD1_console_script_exit_status_0_1_2(tmp_path):
    (tmp_path / "home").mkdir()
    agency = new_signer()
    root = build(tmp_path / "pkg", signer=agency)
    ok = run_cli(tmp_path, root, "--json")
    assert ok.returncode == 0, ok.stderr
    data = json.loads(ok.stdout)
    assert data["ok"] is True and data["reason"] is None
    assert data["checked"]["files"] == 7 and data["checked"]["signature"]["key_id"] == (
        agency.public.key_id)
    assert "manifest-sm3.txt" in data["checked"]["manifests"]
    text = run_cli(tmp_path, root)
    assert text.returncode == 0 and "证据包有效" in text.stdout and "Valid package" in text.stdout

    key = tmp_path / "agency.pem"
    key.write_text(agency.public.pem())
    assert run_cli(tmp_path, root, "--trusted-key", key).returncode == 0

    content = bytearray((root / "data" / "originals" / "2-audio.wav").read_bytes())
    content[0] ^= 0xFF
    (root / "data" / "originals" / "2-audio.wav").write_bytes(bytes(content))
    bad = run_cli(tmp_path, root)
    assert bad.returncode == 1
    assert "manifest-sha256.txt" in bad.stderr and "第 2 行" in bad.stderr
    assert "line 2" in bad.stderr
    bad_json = run_cli(tmp_path, root, "--json")
    assert bad_json.returncode == 1
    assert json.loads(bad_json.stdout)["reason"]["code"] == "digest_mismatch"

    missing = run_cli(tmp_path, tmp_path / "nowhere")
    assert missing.returncode == 2 and "nowhere" in missing.stderr
    not_dir = run_cli(tmp_path, root / "bagit.txt", "--json")
    assert not_dir.returncode == 2
    assert json.loads(not_dir.stdout)["reason"]["code"] == "not_a_directory"
    assert run_cli(tmp_path, root, "--trusted-key", tmp_path / "none.pem").returncode == 2


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file whatever its mode")
def test_EVD1_an_unreadable_file_is_status_2(package):
    target = package / "data" / "originals" / "2-audio.wav"
    target.chmod(0)
    try:
        assert problem(package).status == verify.UNREADABLE
    finally:
        target.chmod(0o644)


def test_EVD1_verify_py_imports_only_the_standard_library_and_cryptography():
    tree = ast.parse(VERIFY_PY.read_text(encoding="utf-8"))
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports"
            modules.add(node.module.split(".")[0])
    assert modules - set(sys.stdlib_module_names) == {"cryptography"}


def test_EVD1_verify_py_runs_standalone_outside_witness(tmp_path):
    """A copy of verify.py alone, run with isolated Python (no witness on the path)."""
    alone = tmp_path / "court"
    alone.mkdir()
    shutil.copy(VERIFY_PY, alone / "verify.py")
    root = build(tmp_path / "pkg", signer=new_signer(keys.SM2))
    run = subprocess.run([sys.executable, "-I", str(alone / "verify.py"), str(root), "--json"],
                         capture_output=True, text=True, cwd=alone, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["checked"]["signature"]["algorithm"] == "sm2"
    (root / "data" / "originals" / "1-执法记录仪 A.mp4").write_bytes(b"changed")
    run = subprocess.run([sys.executable, "-I", str(alone / "verify.py"), str(root)],
                         capture_output=True, text=True, cwd=alone, timeout=120)
    assert run.returncode == 1 and "Payload-Oxum" in run.stderr
    # in the checkout it finds the Chinese catalogue
    run = subprocess.run([sys.executable, "-I", str(VERIFY_PY), str(root)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "字节数.文件数" in run.stderr
