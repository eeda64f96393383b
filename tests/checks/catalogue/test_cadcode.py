"""OpenECAD code check: real converter output parses; each kind of broken code is caught."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.checks import catalogue  # noqa: F401  (registers every check)
from harness.checks.catalogue.cadcode import CodeError, validate_code
from harness.checks.registry import get
from harness.data.records import parse_record
from tests.support.datasets import PROMPT, openecad_code

ORACLE = Path(__file__).resolve().parents[3].parent / "shared" / "deepcad" / "openecad-code"


@pytest.mark.skipif(not ORACLE.is_dir(), reason="shared DeepCAD oracle texts not present")
def test_every_openecad_converter_output_parses():
    files = sorted(ORACLE.glob("*.txt"))
    assert len(files) >= 10
    for f in files:
        validate_code(f.read_text())


def test_fixture_answers_parse():
    validate_code(openecad_code(3))


@pytest.mark.parametrize("code,why", [
    ("Line0 = add_line(start= [0., 0.], end= [1., 0.]", "syntax"),
    ("Line0 = add_line(start= [0., 0.], end= [1., 0.])\nimport os", "Import"),
    ("Line0 = os.system('rm')", "only calls"),
    ("Line0 = draw_line(start= [0., 0.])", "not an OpenECAD API"),
    ("Loop0 = add_loop(Curves0)", "before it is defined"),
    ("Line0 = add_line(start= [1e999, 0.], end= [1., 0.])", "not finite"),
    ("Line0 = add_line(start= [0., 0.] + [1.], end= [1., 0.])", "List is not a number"),
    ("Line0 = add_line(start= [os.sep, 0.], end= [1., 0.])", "Attribute is not a number"),
    ("Line0 = add_line(start= [2 ** 9999, 0.], end= [1., 0.])", "BinOp is not a number"),
    ("a, b = add_line(start= [0., 0.], end= [1., 0.])", "single name"),
    ("Line0 = add_line(**kw)", r"\*\* arguments"),
    ("", "no statements"),
])
def test_broken_code_is_rejected_with_a_reason(code, why):
    with pytest.raises(CodeError, match=why):
        validate_code(code)


def test_placeholders_are_left_to_their_own_check():
    validate_code("Arc0 = add_arc(start= ..., end= ..., mid= ...)")


def _rec(answer: str):
    return parse_record("val", 0, {"conversations": [{"from": "human", "value": PROMPT},
                                                     {"from": "gpt", "value": answer}]})


def test_check_warns_on_broken_code_and_skips_non_code_answers():
    check = get("record.code_does_not_parse")
    assert check.severity == "warning"
    found = list(check.fn(_rec("Loop0 = add_loop(Curves0)"), None))
    assert len(found) == 1 and "code does not parse" in found[0].message
    assert list(check.fn(_rec(openecad_code(5)), None)) == []
    assert list(check.fn(_rec("# CAD Construction Sequence\nA box of 10 mm."), None)) == []


def test_check_parses_each_distinct_answer_once_per_run():
    from harness.checks.runner import CheckContext
    from harness.config import CheckConfig

    ctx = CheckContext(cfg=CheckConfig(), root=None)
    check = get("record.code_does_not_parse")
    broken, good = "Loop0 = add_loop(Curves0)", openecad_code(5)
    found = [list(check.fn(_rec(a), ctx)) for a in (broken, good, broken, good, broken)]
    assert [len(f) for f in found] == [1, 0, 1, 0, 1]   # every view of a broken answer is reported
    assert found[0][0].message == found[2][0].message
    assert sorted(v is None for v in ctx.memo.values()) == [False, True]   # two texts, two parses


def test_only_answers_meant_as_cad_code_are_judged():
    """Answers of a mixed dataset: prose naming add_line mid-sentence, other Python code with add_ methods,
    a plain description: not OpenECAD code, so not judged (no finding); a broken answer whose lines start
    with API calls is judged and warned. TinyLLaVA trains every one of them; only CAD code is meant to run
    in OpenECAD."""
    from harness.checks.catalogue.cadcode import is_cad_code

    check = get("record.code_does_not_parse")
    prose = ["Use add_line( with two points, then add_extrude( to give it depth.",
             "import argparse\nparser = argparse.ArgumentParser()\nparser.add_argument('--x')",
             "fig.add_subplot(1, 1, 1)\nax = fig.add_axes([0, 0, 1, 1])",
             "A grey extruded shape on a white background."]
    for text in prose:
        assert not is_cad_code(text) and list(check.fn(_rec(text), None)) == []
    broken = "SketchPlane0 = add_sketchplane(\n\torigin= [0., 0., 0.], normal= [0., 0., 1.]"
    assert is_cad_code(broken) and is_cad_code("  add_extrude(sketch= Sketch0)")
    assert len(list(check.fn(_rec(broken), None))) == 1


def test_code_in_a_human_assistant_record_is_judged_as_the_answer():
    """[human, assistant] with broken code in the assistant turn: TinyLLaVA pairs it as the answer by
    position, so the check judges it (warning); code in the question is never judged."""
    check = get("record.code_does_not_parse")
    r = parse_record("val", 0, {"conversations": [{"from": "human", "value": "Loop0 = add_loop(Curves0)"},
                                                  {"from": "assistant", "value": "Loop0 = add_loop(Curves0)"}]})
    found = list(check.fn(r, None))
    assert len(found) == 1 and found[0].message.startswith("turn 1:")
