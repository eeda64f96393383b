"""Record checks: each with a planted case and a clean counter-example."""
from __future__ import annotations

import os

import pytest

from harness.checks import catalogue  # noqa: F401  (registers every check)
from harness.checks.registry import get
from harness.checks.runner import CheckContext
from harness.config import CheckConfig
from harness.data.records import parse_record
from tests.support.datasets import PROMPT, openecad_code, record


@pytest.fixture
def ctx(tmp_path):
    (tmp_path / "images").mkdir()
    return CheckContext(cfg=CheckConfig(), root=tmp_path / "images")


def run(check: str, raw, ctx) -> list:
    return list(get(check).fn(parse_record("train", 3, raw), ctx))


def conv(*turns):
    return [{"from": f, "value": v} for f, v in turns]


CLEAN = record("00000001", "front", 1)


@pytest.mark.parametrize("check,bad", [
    ("record.not_object", ["a", "list"]),
    ("record.conversations_missing", {"id": "x", "image": "a_front.png"}),
    ("record.conversations_malformed", {"conversations": "human: hi"}),
    ("record.conversations_malformed", {"conversations": [{"from": "human", "value": 3}]}),
    ("record.turn_structure", {"conversations": conv(("human", PROMPT))}),
    ("record.turn_structure", {"conversations": conv(("human", PROMPT), ("gpt", "a"), ("human", "b"))}),
    ("record.turn_structure", {"conversations": conv(("robot", PROMPT), ("gpt", "a"))}),
    ("record.turn_structure", {"conversations": conv(("gpt", "a"), ("human", PROMPT))}),
    ("record.turn_structure", {"conversations": []}),
    ("record.prompt_empty", {"conversations": conv(("human", ""), ("gpt", "a"))}),
    ("record.image_path_unsafe", {"image": 7, "conversations": conv(("human", PROMPT), ("gpt", "a"))}),
    ("record.image_path_unsafe", {"image": "../x.png", "conversations": conv(("human", PROMPT), ("gpt", "a"))}),
    ("record.image_path_unsafe", {"image": "/etc/passwd", "conversations": conv(("human", PROMPT), ("gpt", "a"))}),
    ("record.image_path_unsafe", {"image": "sub/../../x.png", "conversations": conv(("human", PROMPT), ("gpt", "a"))}),
    ("record.placeholder_parameters",
     {"conversations": conv(("human", PROMPT), ("gpt", "Arc0 = add_arc(start= ..., end= ..., mid= ...)"))}),
])
def test_planted_record_defect_is_found_and_clean_record_is_not(check, bad, ctx):
    found = run(check, bad, ctx)
    assert len(found) == 1 and found[0].check == check
    assert found[0].severity == get(check).severity
    assert (found[0].split, found[0].record_index) == ("train", 3)
    assert run(check, CLEAN, ctx) == []


def test_severities_follow_what_tinyllava_does(ctx):
    # Stops training or spoils the sample silently: error. Loads and trains, but suspicious: warning.
    errors = ["record.not_object", "record.conversations_missing", "record.conversations_malformed",
              "record.turn_structure", "record.image_path_unsafe"]
    assert all(get(c).severity == "error" for c in errors)
    assert get("record.prompt_empty").severity == "warning"
    assert get("record.placeholder_parameters").severity == "warning"


def test_symlink_out_of_the_image_folder_is_unsafe_but_one_inside_is_fine(tmp_path, ctx):
    (tmp_path / "outside.png").write_bytes(b"x")
    (ctx.root / "in_front.png").write_bytes(b"x")
    os.symlink(tmp_path / "outside.png", ctx.root / "out_front.png")
    os.symlink(ctx.root / "in_front.png", ctx.root / "alias_front.png")
    found = run("record.image_path_unsafe", record("out", "front", 1), ctx)
    assert len(found) == 1 and "symlink" in found[0].message
    assert run("record.image_path_unsafe", record("alias", "front", 1), ctx) == []


def test_a_record_without_image_has_no_path_finding(ctx):
    text_only = {"conversations": conv(("human", "Write a cube."), ("gpt", openecad_code(1)))}
    assert run("record.image_path_unsafe", text_only, ctx) == []


def test_placeholder_counts_every_occurrence(ctx):
    raw = {"conversations": conv(("human", PROMPT), ("gpt", "a ... b ... c ..."))}
    assert "3 time(s)" in run("record.placeholder_parameters", raw, ctx)[0].message
