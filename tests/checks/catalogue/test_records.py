"""Record checks: each with a planted case and a clean counter-example."""
from __future__ import annotations

import os

import pytest

from harness.checks import catalogue  # noqa: F401  (registers every check)
from harness.checks.registry import get
from harness.checks.runner import CheckContext, run_checks
from harness.config import CheckConfig
from harness.data.records import parse_record
from tests.support.datasets import PROMPT, load, make_mixed_dataset, openecad_code, record


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


def test_an_images_key_where_image_was_meant_is_an_error(ctx):
    """{"images": "a.png", <image> in the question} without 'image': TinyLLaVA reads only 'image', never
    opens the picture and trains on its blank: an error naming the key."""
    bad = {k: v for k, v in CLEAN.items() if k != "image"} | {"images": CLEAN["image"]}
    found = run("record.image_key_misnamed", bad, ctx)
    assert [f.severity for f in found] == ["error"] and "'images'" in found[0].message


def test_an_images_key_beside_image_and_a_text_only_record_raise_nothing(ctx):
    """'image' present (an extra 'images' is ignored, the picture is used), or a text-only record with
    neither key: TinyLLaVA trains both as meant."""
    assert run("record.image_key_misnamed", CLEAN | {"images": ["x.png"]}, ctx) == []
    text_only = {"id": "t", "conversations": conv(("human", "Say hi."), ("gpt", "Hi."))}
    assert run("record.image_key_misnamed", text_only, ctx) == []


def _mixed_with(tmp_path, *extra):
    import json

    root = make_mixed_dataset(tmp_path / "mixed")
    train = json.loads((root / "train.json").read_text())
    (root / "train.json").write_text(json.dumps(train + list(extra)))
    return root, len(train)


def test_text_only_records_in_a_mixed_dataset_raise_no_error(tmp_path):
    """A LLaVA mix (nested COCO JPEGs, PNG renders, multi-turn, text-only records without 'image' or
    <image>, a record without an id, repeated ids): TinyLLaVA trains every record as meant (a text-only
    record gets its zero image and no image token), so no error finding and every record is sound."""
    root, _ = _mixed_with(tmp_path)
    res = run_checks(load(root), CheckConfig())
    errors = [f for f in res.findings.to_pylist() if f["severity"] == "error"]
    assert errors == []
    d = load(root)
    assert {s: len(v) for s, v in res.sound.items()} == {s: len(v) for s, v in d.records.items()}
    assert any(r.image is None for r in res.sound["train"])


def test_image_token_without_an_image_and_images_key_are_errors_in_a_mixed_dataset(tmp_path):
    """<image> in the question but no 'image' (the image slot is filled from a blank picture), and an
    'images' key instead of 'image' (the picture is never used): one error each, on its record."""
    no_image = {"id": "n", "conversations": conv(("human", PROMPT), ("gpt", "a shape"))}
    plural = {"id": "p", "images": "renders/00000000_front.png",
              "conversations": conv(("human", PROMPT), ("gpt", "a shape"))}
    root, n = _mixed_with(tmp_path, no_image, plural)
    res = run_checks(load(root), CheckConfig())
    errors = {(f["check"], f["record_index"]) for f in res.findings.to_pylist() if f["severity"] == "error"}
    assert ("labels.placeholders", n) in errors and ("record.image_key_misnamed", n + 1) in errors
    assert {i for _, i in errors} == {n, n + 1}


# ---- turns as TinyLLaVA pairs them (_get_list_from_message: first turn dropped unless 'human', then by position)

def _turn_findings(ctx, *turns):
    return run("record.turn_structure", {"conversations": conv(*turns)}, ctx)


def test_human_assistant_pairs_train_as_meant(ctx):
    """[human, assistant, user, gpt]: first turn is 'human', the rest pair by position (question, answer),
    roles never read: TinyLLaVA trains it as meant, so no finding."""
    assert _turn_findings(ctx, ("human", PROMPT), ("assistant", "a"), ("user", "q2"), ("gpt", "a2")) == []


def test_the_projects_human_gpt_pairs_raise_nothing(ctx):
    """[human, gpt] x 2 (the project's own layout): trained as meant, no finding."""
    assert _turn_findings(ctx, ("human", PROMPT), ("gpt", "a"), ("human", "q"), ("gpt", "b")) == []


def test_a_leading_system_turn_is_dropped_with_a_warning(ctx):
    """[system, human, gpt]: TinyLLaVA skips a first turn that is not 'human', and the rest pairs as meant:
    trains, without the record's system prompt: warning naming the dropped turn."""
    found = _turn_findings(ctx, ("system", "You are a CAD expert."), ("human", PROMPT), ("gpt", "a"))
    assert [f.severity for f in found] == ["warning"]
    assert "turn 0 ('system') is dropped" in found[0].message


def test_a_leading_gpt_greeting_is_dropped_with_a_warning(ctx):
    """[gpt, human, gpt]: the opening answer is dropped, the rest pairs: warning."""
    found = _turn_findings(ctx, ("gpt", "Hello!"), ("human", PROMPT), ("gpt", "a"))
    assert [f.severity for f in found] == ["warning"] and "dropped" in found[0].message


def test_a_leading_system_turn_before_an_even_conversation_stops_training(ctx):
    """[system, human, gpt, human]: the system turn dropped, 2 questions and 1 answer remain: the
    'qa is not match' assertion stops training: error."""
    found = _turn_findings(ctx, ("system", "s"), ("human", PROMPT), ("gpt", "a"), ("human", "q"))
    assert [f.severity for f in found] == ["error"]
    assert "dropped" in found[0].message and "qa is not match" in found[0].message


def test_a_user_first_conversation_loses_its_first_question_and_stops(ctx):
    """[user, assistant]: 'user' is not exactly 'human', so TinyLLaVA drops it; one turn remains, a question
    without an answer: assertion stops training: error."""
    found = _turn_findings(ctx, ("user", PROMPT), ("assistant", "a"))
    assert [f.severity for f in found] == ["error"] and "('user') is dropped" in found[0].message


def test_a_user_first_odd_conversation_shifts_the_pairing_and_spoils(ctx):
    """[user, assistant, user]: the first 'user' turn dropped, then 'assistant' is paired as the question and
    'user' as the answer: counts match, training runs on a question trained as an answer: error."""
    found = _turn_findings(ctx, ("user", PROMPT), ("assistant", "a"), ("user", "q"))
    assert [f.severity for f in found] == ["error"]
    assert "turn 2 ('user') is trained as an answer" in found[0].message


def test_an_odd_number_of_turns_leaves_the_last_question_unanswered(ctx):
    """[human, gpt, human]: 2 questions, 1 answer by position: assertion 'qa is not match': error."""
    found = _turn_findings(ctx, ("human", PROMPT), ("gpt", "a"), ("human", "q"))
    assert [f.severity for f in found] == ["error"] and "2 question(s) and 1 answer(s)" in found[0].message


def test_two_human_turns_in_a_row_train_a_question_as_an_answer(ctx):
    """[human, human, gpt, gpt]: paired by position the second human turn is an answer and the first gpt
    turn a question; counts match, so it trains silently on a spoiled sample: error."""
    found = _turn_findings(ctx, ("human", PROMPT), ("human", "more"), ("gpt", "a"), ("gpt", "b"))
    assert [f.severity for f in found] == ["error"]
    assert "turn 1 ('human') is trained as an answer" in found[0].message
    assert "turn 2 ('gpt') is trained as a question" in found[0].message


def test_unknown_roles_after_the_first_turn_are_info(ctx):
    """[human, bard]: TinyLLaVA never reads roles after the first turn and trains 'bard' as the answer:
    info naming the role."""
    found = _turn_findings(ctx, ("human", PROMPT), ("bard", "a"))
    assert [f.severity for f in found] == ["info"] and "'bard'" in found[0].message


def test_empty_prompt_and_placeholders_follow_positional_pairing(ctx):
    """[human, assistant] with an empty question and '...' in the answer: the assistant turn is the answer by
    position, so both checks see it as TinyLLaVA does."""
    raw = {"conversations": conv(("human", ""), ("assistant", "Arc0 = add_arc(start= ..., end= ..., mid= ...)"))}
    assert len(run("record.prompt_empty", raw, ctx)) == 1
    assert "3 time(s)" in run("record.placeholder_parameters", raw, ctx)[0].message
