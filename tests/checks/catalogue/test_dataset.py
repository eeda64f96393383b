"""Dataset checks: across records and splits, and images against the dataset's own distribution."""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from harness.checks import catalogue  # noqa: F401  (registers every check)
from harness.checks.catalogue.distribution import robust_z
from harness.checks.registry import checks, get
from harness.checks.runner import CheckContext, run_checks
from harness.config import CheckConfig
from harness.data.records import Dataset, parse_record
from harness.results.schema import IMAGES
from tests.support.datasets import load, make_clean_dataset, record, render_cad

CFG = CheckConfig()


def run(check, dataset, images=None, cfg=CFG):
    images = images if images is not None else pa.Table.from_pylist([], schema=IMAGES)
    return list(get(check).fn(dataset, images, CheckContext(cfg=cfg, root=None)))


def ds(train, val=()) -> Dataset:
    return Dataset(paths=None, records={"train": [parse_record("train", i, r) for i, r in enumerate(train)],
                                        "val": [parse_record("val", i, r) for i, r in enumerate(val)]})


def views(model, seed, vs=("front", "top", "right")):
    return [record(model, v, seed) for v in vs]


CLEAN = ds(views("00000001", 1) + views("00000002", 2), views("00000003", 3))


def test_clean_records_raise_no_cross_record_warning():
    for c in ("dataset.duplicate_id", "dataset.duplicate_id_across_splits", "dataset.model_leakage",
              "dataset.answer_across_splits", "dataset.answer_shared", "dataset.views_per_model",
              "dataset.model_pattern_unmatched", "dataset.load_error"):
        assert run(c, CLEAN) == [], c


def test_split_counts_are_info():
    found = run("dataset.split_counts", CLEAN)
    assert [(f.split, f.severity, f.message) for f in found] == [
        ("train", "info", "6 records, 6 distinct images"), ("val", "info", "3 records, 3 distinct images")]


def test_duplicate_ids_are_info_within_a_split_and_warn_across():
    """An id repeated within a split: TinyLLaVA never reads ids (LLaVA mixes repeat them), so both records
    train as written: info, not an error. Across splits: a warning."""
    d = ds(views("00000001", 1) + [record("00000001", "front", 1)], [record("00000001", "top", 1)])
    within = run("dataset.duplicate_id", d)
    assert [(f.severity, f.record_index) for f in within] == [("info", 3)]
    across = run("dataset.duplicate_id_across_splits", d)
    assert [f.severity for f in across] == ["warning"] and "00000001_top" in across[0].message


def test_model_in_both_splits_is_leakage():
    d = ds(views("00000001", 1, ("front", "top")), views("00000001", 1, ("right",)))
    found = run("dataset.model_leakage", d)
    assert [(f.severity, f.split) for f in found] == [("error", "val")] and "00000001" in found[0].message


def test_identical_answers_across_splits_warn_but_one_models_views_do_not():
    d = ds(views("00000001", 1), [record("00000009", "front", 1)])   # seed 1: same code, other model
    assert [f.severity for f in run("dataset.answer_across_splits", d)] == ["warning"]
    assert run("dataset.answer_shared", ds(views("00000001", 1))) == []
    shared = run("dataset.answer_shared", ds(views("00000001", 1) + [record("00000009", "front", 1)]))
    assert [f.severity for f in shared] == ["info"]


def test_views_missing_or_extra_warn():
    d = ds(views("00000001", 1, ("front", "top")) + views("00000002", 2, ("front", "top", "right", "iso")))
    msgs = sorted(f.message for f in run("dataset.views_per_model", d))
    assert len(msgs) == 2 and "missing ['right']" in msgs[0] and "extra ['iso']" in msgs[1]


def test_images_outside_the_model_pattern_are_noted():
    found = run("dataset.model_pattern_unmatched", ds([record("x", "y", 1, image="picture.png")]))
    assert [f.severity for f in found] == ["info"]


def test_load_errors_become_findings(tmp_path):
    make_clean_dataset(tmp_path, models=2, val_models=1)
    (tmp_path / "val.json").write_text("{not json")
    found = run("dataset.load_error", load(tmp_path))
    assert [(f.severity, f.split) for f in found] == [("error", "val")]


def image_rows(**over):
    """Measured rows of identical clean images named <model>_front.png, then overrides by name."""
    rows = []
    for i in range(12):
        rows.append({"image": f"{i:08d}_front.png", "split": "train", "referenced": True, "decode_ok": True,
                     "width_px": 512, "height_px": 512, "mode": "RGB", "pixel_hash": f"sha{i}",
                     "phash": (0xF0F0F0F0F0F0F0F0 * (i + 1)) & (2**64 - 1), "brightness_mean": 240.0 + i % 3,
                     "contrast_std": 35.0 + i % 4, "entropy_bits": 1.0 + 0.05 * (i % 5),
                     "blur_laplacian_var": 1000.0 + 30 * (i % 6), "colorfulness": 0.0})
    for r in rows:
        r.update(over.get(r["image"], {}))
    return pa.Table.from_pylist(rows, schema=IMAGES)


def img_ds(val=(1,)):
    train = [record(f"{i:08d}", "front", i) for i in range(12) if i not in val]
    return ds(train, [record(f"{i:08d}", "front", i) for i in val])


def test_exact_copy_across_splits_is_an_error_only_with_the_same_answer():
    clean = image_rows()
    assert run("dataset.image_copied_across_splits", img_ds(), clean) == []
    assert run("dataset.same_picture_across_splits", img_ds(), clean) == []
    assert run("dataset.near_duplicate_across_splits", img_ds(), clean) == []
    copied = image_rows(**{"00000001_front.png": {"pixel_hash": "sha5"}})
    # val 00000001 shows train 00000005's pixels with its own (different) code: ambiguous, a warning
    assert run("dataset.image_copied_across_splits", img_ds(), copied) == []
    found = run("dataset.same_picture_across_splits", img_ds(), copied)
    assert [(f.severity, f.image) for f in found] == [("warning", "00000001_front.png")]
    # the same picture with the same code: a copied sample, an error
    leaked = ds([record(f"{i:08d}", "front", i) for i in range(12) if i != 1], [record("00000001", "front", 5)])
    found = run("dataset.image_copied_across_splits", leaked, copied)
    assert [(f.severity, f.image) for f in found] == [("error", "00000001_front.png")]
    assert run("dataset.same_picture_across_splits", leaked, copied) == []


def test_near_copy_across_splits_warns_with_the_same_answer_else_info():
    clean = image_rows()
    near = image_rows(**{"00000001_front.png": {"phash": clean.column("phash")[5].as_py() ^ 0b1011}})
    found = run("dataset.near_duplicate_across_splits", img_ds(), near)
    assert [(f.severity, f.image) for f in found] == [("info", "00000001_front.png")]
    assert "distance 3" in found[0].message
    leaked = ds([record(f"{i:08d}", "front", i) for i in range(12) if i != 1], [record("00000001", "front", 5)])
    assert [f.severity for f in run("dataset.near_duplicate_across_splits", leaked, near)] == ["warning"]
    assert run("dataset.near_duplicate_across_splits", img_ds(), near, CheckConfig(phash_distance=2)) == []


def test_exact_duplicates_of_different_models_within_a_split():
    dup = image_rows(**{"00000003_front.png": {"pixel_hash": "sha4"}})
    found = run("dataset.exact_duplicate_within_split", img_ds(), dup)
    assert [(f.severity, f.split) for f in found] == [("info", "train")]   # different code: ambiguous view
    same = ds([record(f"{i:08d}", "front", 4 if i == 3 else i) for i in range(12) if i != 1],
              [record("00000001", "front", 1)])
    found = run("dataset.exact_duplicate_within_split", same, dup)
    assert [(f.severity, f.split) for f in found] == [("warning", "train")]   # duplicated sample
    assert run("dataset.exact_duplicate_within_split", img_ds(), image_rows()) == []


def test_odd_size_and_mode_warn_but_a_uniform_other_size_does_not():
    odd = image_rows(**{"00000004_front.png": {"width_px": 500}, "00000005_front.png": {"mode": "L"}})
    r = run("dataset.resolution_inconsistent", img_ds(), odd)
    assert [(f.severity, f.image) for f in r] == [("warning", "00000004_front.png")] and "500x512" in r[0].message
    m = run("dataset.mode_inconsistent", img_ds(), odd)
    assert [(f.severity, f.image) for f in m] == [("warning", "00000005_front.png")]
    all_640 = image_rows(**{f"{i:08d}_front.png": {"width_px": 640, "height_px": 480} for i in range(12)})
    assert run("dataset.resolution_inconsistent", img_ds(), all_640) == []
    half = image_rows(**{f"{i:08d}_front.png": {"width_px": 640} for i in range(6)})
    assert [f.severity for f in run("dataset.resolution_inconsistent", img_ds(), half)] == ["info"]


@pytest.mark.parametrize("check,column,value", [
    ("dataset.dark", "brightness_mean", 20.0),
    ("dataset.light", "brightness_mean", 255.0 + 60),   # brighter than the set by far
    ("dataset.low_contrast", "contrast_std", 1.0),
    ("dataset.low_information", "entropy_bits", 0.0),
    ("dataset.blurry", "blur_laplacian_var", 5.0),
])
def test_distribution_outlier_is_flagged_and_clean_set_is_not(check, column, value):
    assert run(check, img_ds(), image_rows()) == []
    found = run(check, img_ds(), image_rows(**{"00000007_front.png": {column: value}}))
    assert [(f.severity, f.image) for f in found] == [("warning", "00000007_front.png")]


def test_grey_content_among_colourful_images():
    colourful = {f"{i:08d}_front.png": {"colorfulness": 60.0 + i} for i in range(12)}
    assert run("dataset.grey_content", img_ds(), image_rows(**colourful)) == []
    colourful["00000002_front.png"] = {"colorfulness": 0.0}
    assert [f.image for f in run("dataset.grey_content", img_ds(), image_rows(**colourful))] == ["00000002_front.png"]


def test_perfectly_uniform_set_raises_nothing_thanks_to_the_mad_floor():
    same = image_rows(**{f"{i:08d}_front.png": {"brightness_mean": 240.0, "entropy_bits": 1.0}
                         for i in range(12)})
    slightly = image_rows(**{f"{i:08d}_front.png": {"brightness_mean": 240.0, "entropy_bits": 1.0}
                             for i in range(11)} | {"00000011_front.png": {"brightness_mean": 236.0,
                                                                              "entropy_bits": 0.95}})
    for c in ("dataset.dark", "dataset.light", "dataset.low_information"):
        assert run(c, img_ds(), same) == [] and run(c, img_ds(), slightly) == []
    assert np.allclose(robust_z(np.array([1.0, 1.0, 1.0, 4.0]), floor=1.0), [0, 0, 0, 3])


def test_clean_cad_renders_raise_no_distribution_warning_where_an_absolute_threshold_would(tmp_path):
    root = make_clean_dataset(tmp_path, models=12, val_models=2)
    res = run_checks(load(root), CFG)
    dist = [s.id for s in checks("dataset") if s.id.startswith(("dataset.dark", "dataset.light", "dataset.low_",
                                                                 "dataset.blurry", "dataset.grey"))]
    assert len(dist) == 6
    assert not [f for f in res.findings.to_pylist() if f["severity"] != "info"]
    # cleanvision-style absolute cut: grey-histogram entropy under 30% of 8 bits flags every render.
    assert max(res.images.column("entropy_bits").to_pylist()) < 0.3 * 8


def test_real_odd_sized_render_among_clean_ones(tmp_path):
    root = make_clean_dataset(tmp_path, models=4, val_models=1)
    render_cad(0, "front", (500, 512)).save(root / "images" / "00000000_front.png")
    res = run_checks(load(root), CFG)
    found = [f for f in res.findings.to_pylist() if f["check"] == "dataset.resolution_inconsistent"]
    assert [(f["severity"], f["image"]) for f in found] == [("warning", "00000000_front.png")]


def test_near_pair_search_by_segments_equals_the_full_distance_matrix():
    from harness.checks.catalogue.duplicates import _near_pairs, _near_pairs_brute

    rng = np.random.default_rng(0)
    base = rng.integers(0, 2**63, 40, dtype=np.uint64)   # look-alike clusters, as CAD renders give

    def noisy(n):
        x = base[rng.integers(0, 40, n)]
        for _ in range(3):
            flip = rng.integers(0, 64, n).astype(np.uint64)
            x ^= (np.uint64(1) << flip) * (rng.random(n) < 0.5).astype(np.uint64)
        return x

    train, val = noisy(2000), noisy(300)
    as_lists = lambda g: [(v, t.tolist(), d.tolist()) for v, t, d in g]  # noqa: E731
    for limit in (0, 1, 4, 9, 20):
        # a small candidate budget forces many blocks, one val row each at times
        got = as_lists(_near_pairs(val, train, limit, max_candidates=3000))
        assert got == as_lists(_near_pairs_brute(val, train, limit, block_bytes=4096)), limit
        assert got and all(max(d) <= limit for _, _, d in got)


def test_records_without_an_id_raise_nothing():
    """Records with no 'id' key: TinyLLaVA never reads ids; no id check reports them."""
    d = ds([{k: v for k, v in record("00000001", v, 1).items() if k != "id"} for v in ("front", "top")])
    assert run("dataset.duplicate_id", d) == [] and run("dataset.duplicate_id_across_splits", d) == []


@pytest.mark.parametrize("check,train,what", [
    ("dataset.split_jsonl", lambda rs: "\n".join(map(json.dumps, rs)).encode(), "Extra data"),
    ("dataset.split_bom", lambda rs: b"\xef\xbb\xbf" + json.dumps(rs).encode(), "Unexpected UTF-8 BOM"),
    ("dataset.split_object", lambda rs: json.dumps({"data": rs}).encode(), "KeyError: 0"),
])
def test_split_files_json_load_rejects_are_errors_and_their_records_still_read(tmp_path, check, train, what):
    """train.json as JSONL, with a BOM, or as {"data": [...]}: TinyLLaVA's json.load (or its list indexing)
    stops training, so an error on the split naming TinyLLaVA's exception; the records are still read."""
    make_clean_dataset(tmp_path, models=3, val_models=1)
    rows = json.loads((tmp_path / "train.json").read_text())
    (tmp_path / "train.json").write_bytes(train(rows))
    d = load(tmp_path)
    assert len(d.records["train"]) == len(rows) and d.load_errors == []
    found = run(check, d)
    assert [(f.severity, f.split) for f in found] == [("error", "train")] and what in found[0].message
    others = {"dataset.split_jsonl", "dataset.split_bom", "dataset.split_object"} - {check}
    assert all(run(c, d) == [] for c in others)


def test_a_json_array_raises_no_split_format_finding(tmp_path):
    """A JSON array, as json.load wants it: no split-format finding."""
    make_clean_dataset(tmp_path, models=2, val_models=1)
    d = load(tmp_path)
    assert all(run(c, d) == [] for c in ("dataset.split_jsonl", "dataset.split_bom", "dataset.split_object"))


# ---- do image names encode a model and a view? (decided once per dataset)

def _photos(names, split="train"):
    return [record("x", "y", i, image=n) for i, n in enumerate(names)]


def test_photo_names_with_underscores_are_not_model_ids():
    """train my_photo.jpg, val my_cat.jpg (and other photos whose 'views' are all distinct): the names do
    not encode models, so no model leakage is claimed (TinyLLaVA trains each photo as its own sample;
    leakage is judged by pixels and answers); an info says which way the decision went."""
    train = _photos(["my_photo.jpg", "holiday_beach.jpg", "img_0001.jpg", "img_0002.jpg"])
    val = _photos(["my_cat.jpg", "img_0003.jpg"])
    d = ds(train, val)
    assert run("dataset.model_leakage", d) == [] and run("dataset.views_per_model", d) == []
    found = run("dataset.model_ids", d)
    assert [f.severity for f in found] == ["info"] and "do not encode models" in found[0].message


def test_cad_names_with_shared_views_keep_per_model_leakage():
    """<model>_<view>.png with a few shared view names, one model in both splits: names encode models, so
    leakage is an error as before; the pure CAD case says nothing about the decision (no new finding)."""
    d = ds(views("00000001", 1, ("front", "top")) + views("00000002", 2), views("00000001", 1, ("right",)))
    assert [f.severity for f in run("dataset.model_leakage", d)] == ["error"]
    assert run("dataset.model_ids", d) == []


def test_a_mix_of_photos_and_renders_keeps_models_and_says_so():
    """COCO names (no underscore, unmatched) beside <model>_<view> renders: the matched names carry shared
    view names, so they are model ids; the mix is said in an info finding."""
    train = views("00000001", 1) + _photos(["coco/train2017/000000033471.jpg", "coco/train2017/000000052846.jpg"])
    found = run("dataset.model_ids", ds(train, views("00000002", 2)))
    assert [f.severity for f in found] == ["info"] and "encode a model and a view" in found[0].message


def test_model_of_is_none_when_names_are_not_model_ids():
    """Records of photos named <word>_<word>.jpg: no model (the RECORDS table's model column and the
    duplicate checks use this), as the dataset's names were judged not to encode models; CAD names keep
    their model."""
    from harness.checks.catalogue.dataset import model_of

    d = ds(_photos(["my_photo.jpg", "your_dog.jpg", "a_b.jpg"]))
    ctx = CheckContext(cfg=CFG, root=None)
    assert [model_of(d, ctx, r.image) for r in d.all_records()] == [None, None, None]
    c = ds(views("00000001", 1))
    assert model_of(c, CheckContext(cfg=CFG, root=None), "00000001_front.png") == "00000001"
