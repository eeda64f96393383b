"""Cross-split leakage names the val records concerned, so a script (or ``--write-clean``) can leave out
exactly those: one finding per val record, with its split, index and image; the train side is not named."""
from __future__ import annotations

import json

from harness.checks import catalogue  # noqa: F401  (registers every check)
from harness.checks.runner import run_checks
from harness.config import CheckConfig
from tests.checks.catalogue.test_dataset import ds, run, views
from tests.support.datasets import load, make_clean_dataset, record, write_json


def test_model_leakage_names_each_val_record_of_the_leaked_model():
    # model 1: two views in val, one in train; model 3: val only (no leak)
    d = ds(views("00000001", 1, ("front",)) + views("00000002", 2),
           views("00000003", 3) + views("00000001", 1, ("top", "right")))
    found = run("dataset.model_leakage", d)
    assert [(f.severity, f.split, f.record_index, f.image) for f in found] == [
        ("error", "val", 3, "00000001_top.png"), ("error", "val", 4, "00000001_right.png")]
    assert all("'00000001'" in f.message and "1 record(s)" in f.message for f in found)


def test_a_sample_copied_into_val_names_the_val_record_and_puts_it_out_of_the_sound_set(tmp_path):
    root = make_clean_dataset(tmp_path / "d", models=4, val_models=1, size=(128, 128))
    train = json.loads((root / "train.json").read_text())
    val = json.loads((root / "val.json").read_text())
    # a train sample (picture and answer) copied into val under another model's name
    (root / "images" / "40000001_front.png").write_bytes((root / "images" / train[0]["image"]).read_bytes())
    val.append(record("40000001", "front", 0))   # seed 0: the answer of train[0]
    write_json(root, train, val)
    res = run_checks(load(root), CheckConfig())
    copied = [f for f in res.findings.to_pylist() if f["check"] == "dataset.image_copied_across_splits"]
    assert [(f["split"], f["record_index"], f["image"]) for f in copied] == [("val", len(val) - 1,
                                                                               "40000001_front.png")]
    assert len(val) - 1 not in {r.index for r in res.sound["val"]}
    assert {r.index for r in res.sound["train"]} == set(range(len(train)))   # the train side stays
