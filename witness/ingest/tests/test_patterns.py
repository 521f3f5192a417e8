"""File-name patterns per device model (issue 3 item 3): the agency adds its own pattern,
assigns patterns to a model, and ingest reads that model's names with them (DEV-3, ACT-5)."""

import json
import subprocess

import pytest
from django.utils import timezone

from witness.audit.models import AuditEntry
from witness.core.errors import WitnessError
from witness.ingest import naming, patterns
from witness.ingest.services import ingest_volume
from witness.recordings.models import Recording, TimeSource
from witness.storage.backends.local import LocalBackend
from witness.testing import factories as f
from witness.testing.child import child_env, witness_binary
from witness.testing.media import make_wav

pytestmark = pytest.mark.django_db

RECORDER = r"REC(?P<start>[0-9]{14})N(?P<seq>[0-9]{1,6})"


def test_models_without_a_list_use_every_builtin_pattern():
    assert patterns.for_model("") == naming.DEFAULT
    assert patterns.for_model("DSJ-UNKNOWN") == naming.DEFAULT


def test_own_pattern_assigned_to_a_model_reads_its_files_at_ingest_ING1(make_agency, tmp_path):
    ns = make_agency()
    device = f.DeviceFactory(unit=ns.field, serial="XY-R1-0007", model="XY-R1")
    card = tmp_path / "card"
    card.mkdir()
    (card / "DEVICE.TXT").write_text("SERIAL=XY-R1-0007\nMODEL=XY-R1\n")
    make_wav(card / "REC20261120093005N12.WAV", 1)
    backend = LocalBackend(tmp_path / "store")

    ingest_volume(card, backend=backend, actor="test")  # no pattern fits: file times
    first = Recording.objects.get()
    assert first.time_source == TimeSource.FILE_TIME and first.sequence is None

    patterns.add_pattern("xy-recorder", RECORDER, "REC20261120093005N12.WAV", actor="test")
    patterns.assign("XY-R1", ["xy-recorder"], actor="test")
    (card / "REC20261120093005N12.WAV").rename(card / "REC20261120094500N13.WAV")
    make_wav(card / "REC20261120094500N13.WAV", 2)  # new bytes, a new recording
    ingest_volume(card, backend=backend, actor="test")
    second = Recording.objects.exclude(pk=first.pk).get()
    assert (second.name_pattern, second.sequence) == ("xy-recorder", 13)
    assert second.time_source == TimeSource.FILE_NAME
    assert timezone.localtime(second.device_start).strftime("%Y%m%d%H%M%S") == "20261120094500"
    assert second.device == device


def test_a_pattern_must_compile_have_start_be_new_and_read_its_example():
    cases = [("bad", "REC(?P<start>[0-9]{14}", "REC20261120093005", "invalid_name_pattern"),
             ("nostart", r"REC(?P<seq>\d+)", "REC12", "invalid_name_pattern"),
             ("serial-badge-time-seq", RECORDER, "REC20261120093005N1", "duplicate_name_pattern"),
             ("typo", RECORDER, "RC20261120093005N1.WAV", "example_not_matched")]
    for name, regex, example, code in cases:
        with pytest.raises(WitnessError) as caught:
            patterns.add_pattern(name, regex, example, actor="test")
        assert caught.value.code == code, name
    assert not AuditEntry.objects.filter(action="naming.pattern_add").exists()


def test_assignments_are_audited_with_before_and_after():
    with pytest.raises(WitnessError) as caught:
        patterns.assign("DSJ-A9", ["no-such-pattern"], actor="test")
    assert caught.value.code == "unknown_name_pattern"
    patterns.assign("DSJ-A9", ["date-time-seq"], actor="test")
    patterns.assign("DSJ-A9", ["serial-badge-time-seq", "date-time-seq"], actor="test")
    assert [p.name for p in patterns.for_model("DSJ-A9")] == ["serial-badge-time-seq",
                                                             "date-time-seq"]
    patterns.assign("DSJ-A9", None, actor="test")
    assert patterns.for_model("DSJ-A9") == naming.DEFAULT
    trail = [e.details for e in AuditEntry.objects.filter(action="naming.assign")
             .order_by("id")]
    assert [(d["before"], d["after"]) for d in trail] == [
        (None, ["date-time-seq"]),
        (["date-time-seq"], ["serial-badge-time-seq", "date-time-seq"]),
        (["serial-badge-time-seq", "date-time-seq"], None)]


@pytest.mark.django_db(transaction=True)
def test_witness_naming_from_the_shell(tmp_path):
    env = child_env()

    def run(*args):
        return subprocess.run([str(witness_binary()), "naming", *args], env=env,
                              capture_output=True, text=True, timeout=120, check=False)

    added = run("add", "xy-recorder", RECORDER, "--example", "REC20261120093005N12.WAV",
                "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["reads"]["seq"] == 12
    assert run("assign", "XY-R1", "xy-recorder").returncode == 0
    tested = json.loads(run("test", "REC20261120093005N12.WAV", "--model", "XY-R1",
                            "--json").stdout)
    assert tested["reads"]["pattern"] == "xy-recorder"
    bad = run("add", "broken", "REC(?P<start>", "--example", "REC1")
    assert bad.returncode == 1
    assert "不是有效的正则表达式" in bad.stderr and "not a valid regular expression" in bad.stderr
    listed = run("list")
    assert listed.returncode == 0 and "XY-R1" in listed.stdout
