import json
import os

import pytest

from harness.data.layout import UnsafePath, resolve_dataset, safe_image_path
from harness.data.records import load_dataset, parse_record
from harness.errors import UsageError


def _dataset(tmp_path, train=None, val=None):
    (tmp_path / "images").mkdir()
    (tmp_path / "train.json").write_text(json.dumps(train if train is not None else []))
    if val is not None:
        (tmp_path / "val.json").write_text(json.dumps(val))
    return tmp_path


def test_resolve_dataset_folder_and_overrides(tmp_path):
    root = _dataset(tmp_path, val=[])
    p = resolve_dataset(root)
    assert p.train == root / "train.json" and p.val == root / "val.json" and p.images == root / "images"
    other = tmp_path / "other.json"
    other.write_text("[]")
    assert resolve_dataset(root, train=other).train == other


@pytest.mark.parametrize("kw", [{"root": "/nonexistent/ds"}, {"root": None}])
def test_resolve_dataset_usage_errors(kw):
    with pytest.raises(UsageError):
        resolve_dataset(kw["root"])


def test_missing_image_folder_is_a_usage_error(tmp_path):
    (tmp_path / "train.json").write_text("[]")
    with pytest.raises(UsageError, match="image folder"):
        resolve_dataset(tmp_path)


def test_safe_image_path_refuses_escapes(tmp_path):
    root = tmp_path / "images"
    root.mkdir()
    (root / "a.png").write_bytes(b"x")
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"y")
    os.symlink(outside, root / "link.png")
    assert safe_image_path(root, "a.png") == (root / "a.png").resolve()
    for bad in ("../secret.png", str(outside), "sub/../../secret.png", "link.png", "", "a\x00.png"):
        with pytest.raises(UnsafePath):
            safe_image_path(root, bad)


def test_symlink_inside_the_root_is_allowed(tmp_path):
    root = tmp_path / "images"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "b.png").write_bytes(b"x")
    os.symlink(root / "sub" / "b.png", root / "alias.png")
    assert safe_image_path(root, "alias.png") == (root / "sub" / "b.png").resolve()


def test_parse_record_is_lenient():
    good = parse_record("train", 0, {"id": 1, "image": "a.png", "conversations": [
        {"from": "human", "value": "<image>\nq"}, {"from": "gpt", "value": "a"}]})
    assert good.id == "1" and good.turns == (("human", "<image>\nq"), ("gpt", "a"))
    assert good.prompt == "<image>\nq" and good.answer == "a"
    assert parse_record("train", 1, {"conversations": [{"from": "human"}]}).turns is None
    assert parse_record("train", 2, ["not", "a", "dict"]).turns is None


def test_load_dataset_reports_unparsable_json(tmp_path):
    root = _dataset(tmp_path, val=[])
    (root / "val.json").write_text("{ not json")
    ds = load_dataset(resolve_dataset(root))
    assert ds.records["val"] == [] and ds.load_errors and ds.load_errors[0][0] == "val"


def test_jsonl_is_read(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "train.jsonl").write_text('{"id": "a", "conversations": []}\n\n{"id": "b", "conversations": []}\n')
    ds = load_dataset(resolve_dataset(tmp_path))
    assert [r.id for r in ds.records["train"]] == ["a", "b"]
