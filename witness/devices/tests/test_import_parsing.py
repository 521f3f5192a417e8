"""Property tests of the device import's kind and status parsing: any spelling the
agencies use parses the same way, and no text makes a parser fail with anything but the
import's own error type (DEV-1)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from witness.core.tabular import CellError
from witness.devices import importing
from witness.devices.models import DeviceKind, DeviceStatus

# The vocabulary of the task, written out here rather than read from the module.
KIND_NAMES = {
    "执法记录仪": "body_camera", "照相机": "camera", "录音机": "recorder", "录音笔": "recorder",
    "录音机/录音笔": "recorder", "摄像机": "video_camera", "手持执法终端": "handheld",
    "视频监控": "surveillance", "存储设备": "storage",
    **{code: code for code in DeviceKind.values},
}


@given(st.sampled_from(sorted(KIND_NAMES)), st.sampled_from(["", " ", "\u3000"]),
       st.booleans())
def test_every_kind_name_parses(name, pad, upper):
    text = pad + (name.upper() if upper else name) + pad
    assert importing.parse_kind(text) == KIND_NAMES[name]


def test_english_kind_labels_parse():
    assert importing.parse_kind("Body camera") == "body_camera"
    assert importing.parse_kind("voice-recorder") == "recorder"
    assert importing.parse_kind("Handheld enforcement terminal") == "handheld"


@given(st.text())
def test_kind_parsing_of_any_text_returns_a_kind_or_a_cell_error(text):
    try:
        assert importing.parse_kind(text) in DeviceKind.values
    except CellError as exc:
        assert exc.code == "bad_kind"


@given(st.text())
def test_status_parsing_never_fails_otherwise(text):
    try:
        assert importing.parse_status(text) in DeviceStatus.values
    except CellError as exc:
        assert exc.code == "bad_status"


@pytest.mark.parametrize(("text", "expected"), [
    ("", "in_service"), ("在用", "in_service"), ("维修中", "under_repair"), ("丢失", "lost"),
    ("报废", "retired"), ("LOST", "lost"), ("under repair", "under_repair"),
])
def test_status_names(text, expected):
    assert importing.parse_status(text) == expected
