"""Image checks over measured rows: each problem class is judged, clean rows raise nothing."""
from __future__ import annotations

import pytest

from harness.checks import catalogue  # noqa: F401  (registers every check)
from harness.checks.image_pass import PROBLEMS, measure_image
from harness.checks.registry import checks, get
from harness.checks.runner import CheckContext
from harness.config import CheckConfig
from tests.support.datasets import huge_png, png_bytes, render_cad

CTX = CheckContext(cfg=CheckConfig(), root=None)


def judge(row) -> list:
    return [f for spec in checks("image") for f in spec.fn(row, CTX)]


@pytest.fixture
def rows(tmp_path):
    good = png_bytes(render_cad(1))
    files = {"clean.png": good, "trunc.png": good[: len(good) // 2],
             "crc.png": good[:300] + bytes([good[300] ^ 1]) + good[301:], "big.png": huge_png(),
             "text.png": b"hello", "tail.png": good + b"xx", "grey.png": png_bytes(render_cad(1).convert("L")),
             "rgba.png": png_bytes(render_cad(1).convert("RGBA"))}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    names = list(files) + ["missing.png"]
    return {n: measure_image(str(tmp_path), n, max_pixels=178_956_970) | {"split": "train"} for n in names}


@pytest.mark.parametrize("name,check,severity", [
    ("missing.png", "image.missing", "error"),
    ("trunc.png", "image.truncated", "error"),
    ("crc.png", "image.crc_mismatch", "error"),
    ("big.png", "image.pixel_limit", "error"),
    ("text.png", "image.not_an_image", "error"),
    ("tail.png", "image.trailing_data", "warning"),
    ("grey.png", "image.mode_converted", "info"),
    ("rgba.png", "image.mode_converted", "info"),      # alpha fully opaque: dropped unchanged
])
def test_planted_image_problem_raises_its_finding(rows, name, check, severity):
    found = judge(rows[name])
    assert [(f.check, f.severity, f.image) for f in found] == [(check, severity, name)]


def test_clean_image_raises_nothing(rows):
    assert judge(rows["clean.png"]) == []


def test_truncated_message_says_what_training_does(rows):
    assert "TinyLLaVA sets LOAD_TRUNCATED_IMAGES" in judge(rows["trunc.png"])[0].message


def test_flags_from_the_header_are_info():
    row = {"image": "x.png", "mode": "RGB", "bit_depth": 16, "interlaced": True, "decode_problem": None}
    assert sorted((f.check, f.severity) for f in judge(row)) == [("image.interlaced", "info"),
                                                                 ("image.sixteen_bit", "info")]


def test_worker_failure_is_an_error():
    row = {"image": "x.png", "decode_problem": "worker_failed", "decode_error": "worker failed: boom"}
    assert [(f.check, f.severity) for f in judge(row)] == [("image.worker_failed", "error")]


def test_every_problem_class_but_unsafe_paths_has_a_check():
    # unsafe paths never reach the image pass from the runner: record.image_path_unsafe reports them.
    judged = {s.params.get("decode_problem") for s in checks("image")}
    assert set(PROBLEMS) - judged == {"unsafe_path"}
    assert get("image.trailing_data").severity == "warning"
