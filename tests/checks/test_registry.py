"""The check registry: each check id is written once (its registration), specs make their findings, test 3's
loader checks are in the catalogue (and the runner leaves them alone), duplicate ids raise."""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

from harness.checks import catalogue  # noqa: F401  (registers every check)
from harness.checks.catalogue import loader as loader_checks
from harness.checks.findings import Finding
from harness.checks.registry import CheckSpec, Registry, checks, get, register
from harness.data.records import parse_record

HARNESS = Path(__file__).resolve().parents[2] / "harness"


def _string_constants(tree: ast.AST):
    """(value, line) of every string constant, f-strings' literal parts included; bare string statements
    (docstrings) are prose, not code, and are skipped."""
    prose = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
    for n in ast.walk(tree):
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in prose:
            yield n.value, n.lineno


def test_every_check_id_is_written_once_in_harness():
    ids = {s.id for s in checks()}
    places: dict[str, list[str]] = defaultdict(list)
    for path in sorted(HARNESS.rglob("*.py")):
        for value, line in _string_constants(ast.parse(path.read_text(), str(path))):
            if value in ids:
                places[value].append(f"{path.relative_to(HARNESS.parent)}:{line}")
    wrong = {i: places[i] for i in sorted(ids) if len(places[i]) != 1}
    assert not wrong, "check ids written other than once (refer to the spec's .id instead):\n" + "\n".join(
        f"  {i}: {p or 'nowhere'}" for i, p in wrong.items())


def test_the_scan_sees_f_string_parts_and_skips_docstrings():
    tree = ast.parse('"""x.id"""\ndef f():\n    "x.id"\n    return f"x.id{1}", "x.id"\n')
    assert [v for v, _ in _string_constants(tree) if v == "x.id"] == ["x.id", "x.id"]


def test_register_returns_the_spec_and_findings_carry_its_id_and_severity():
    reg = Registry()

    @reg.register("probe.one", kind="record", severity="warning", description="a probe", limit=3)
    def probe(record, ctx):
        yield probe.on_record(record, "seen")

    assert isinstance(probe, CheckSpec) and reg["probe.one"] is probe
    assert probe.describe() == {"id": "probe.one", "kind": "record", "severity": "warning",
                                "description": "a probe", "params": {"limit": 3}, "pictures": False}
    record = parse_record("val", 7, {"image": "m1_front.png", "conversations": []})
    # called directly and through fn alike
    assert list(probe(record, None)) == list(probe.fn(record, None)) == [
        Finding(severity="warning", check="probe.one", message="seen", split="val", record_index=7,
                image="m1_front.png")]
    assert probe.finding("plain") == Finding(severity="warning", check="probe.one", message="plain")
    assert probe.finding("worse", severity="error", split="train").severity == "error"
    row = {"image": "a.png", "split": "train", "mode": "LA"}
    assert probe.on_image(row, "img", severity="info") == Finding(severity="info", check="probe.one",
                                                                  message="img", split="train", image="a.png")


def test_catalogue_checks_are_specs_of_their_module():
    from harness.checks.catalogue import images, records

    assert get("record.turn_structure") is records.turn_structure
    assert get("image.worker_failed") is images.worker_failed
    assert all(isinstance(s, CheckSpec) for s in checks())


def test_loader_checks_are_registered_and_not_run_by_the_runner():
    loader = checks("loader")
    assert [s.id for s in loader] == ["loader.shapes", "loader.pairing", "loader.count"]
    assert loader == [loader_checks.shapes, loader_checks.pairing, loader_checks.count]
    assert all(s.kind == "loader" and s.severity == "error" and s.fn is None for s in loader)
    assert {s["id"] for s in (x.describe() for x in checks())} >= {s.id for s in loader}
    run_by_runner = {s.id for k in ("record", "image", "dataset") for s in checks(k)}
    assert not run_by_runner & {s.id for s in loader}
    with pytest.raises(TypeError, match="declared only"):
        loader_checks.count()


def test_a_duplicate_id_raises():
    reg = Registry()
    reg.declare("dup", kind="loader", severity="error", description="first")
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("dup", kind="record", severity="info", description="again")(lambda record, ctx: [])
    with pytest.raises(ValueError, match="registered twice"):
        reg.declare("dup", kind="loader", severity="error", description="again")
    with pytest.raises(ValueError, match="registered twice"):   # the default registry, as the catalogue uses it
        register("record.turn_structure", kind="record", severity="error", description="again")(
            lambda record, ctx: [])


def test_unknown_kind_or_severity_raises():
    reg = Registry()
    with pytest.raises(ValueError, match="kind"):
        reg.register("x", kind="nope", severity="info", description="")
    with pytest.raises(ValueError, match="severity"):
        reg.declare("x", kind="loader", severity="fatal", description="")


def test_picture_checks_are_every_image_check_and_the_pixel_dataset_checks():
    pictures = {s.id for s in checks() if s.pictures}
    assert {s.id for s in checks("image")} <= pictures
    assert {"dataset.dark", "dataset.near_duplicate_across_splits", "record.image_path_unsafe"} <= pictures
    assert not pictures & {"tokens.over_max_length", "record.turn_structure", "dataset.orphan_image"}
