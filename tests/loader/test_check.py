"""Test 3 (harness.loader.check): a clean folder passes; its failures are findings of the registered loader
checks (harness.checks.catalogue.loader), with their ids, severities and the record they concern."""
import json

import pytest
from PIL import Image

import harness.loader
from harness.checks.catalogue import loader as loader_checks
from harness.data.layout import resolve_dataset
from harness.data.records import load_dataset
from harness.loader.check import check_loader

KW = {"batch_size": 2, "image_size": 32, "seq_len": 64, "samples": 3}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    (root / "images").mkdir()
    train = []
    for i in range(5):
        Image.new("RGB", (40, 40), (40 * i, 90, 200 - 30 * i)).save(root / "images" / f"m{i}_front.png")
        train.append({"id": str(i), "image": f"m{i}_front.png", "conversations": [
            {"from": "human", "value": "<image>\nDescribe it."}, {"from": "gpt", "value": f"box {i}"}]})
    (root / "train.json").write_text(json.dumps(train))
    (root / "val.json").write_text(json.dumps(train[:1]))
    return load_dataset(resolve_dataset(root))


def test_clean_data_passes_without_findings(dataset):
    res = check_loader(dataset, dataset.records, **KW)
    assert res.status == "passed" and res.findings == [] and res.pairs_ok == res.pairs_checked == 3


def test_mispaired_samples_are_pairing_findings_on_their_records(dataset):
    res = check_loader(dataset, dataset.records, **KW, tolerance=-1.0)   # no image can match
    assert res.status == "failed" and len(res.findings) == 3
    rec = dataset.records["train"][0]
    f = res.findings[0]
    assert (f.check, f.severity, f.split, f.record_index, f.image) == (
        loader_checks.pairing.id, "error", "train", rec.index, rec.image)


def test_wrong_shapes_and_missing_samples_are_shapes_and_count_findings(dataset, monkeypatch):
    real = harness.loader.Loader

    class FirstBatchAsDouble(real):   # delivers one batch only, its images in the wrong dtype
        def __iter__(self):
            for batch in super().__iter__():
                yield {**batch, "images": batch["images"].double()}
                return

    monkeypatch.setattr(harness.loader, "Loader", FirstBatchAsDouble)
    res = check_loader(dataset, dataset.records, **KW)
    got = [(f.check, f.severity, f.split) for f in res.findings if f.check != loader_checks.pairing.id]
    assert got == [(loader_checks.shapes.id, "error", "train"), (loader_checks.shapes.id, "error", "val"),
                   (loader_checks.count.id, "error", None)]
    assert res.findings[-1].message == f"loader delivered {res.samples} samples, expected 6"


def _with_text_only(root):
    (root / "images").mkdir()
    Image.new("RGB", (40, 40), (200, 90, 30)).save(root / "images" / "a.png")
    turn = lambda q, a: [{"from": "human", "value": q}, {"from": "gpt", "value": a}]  # noqa: E731
    train = [{"id": "t", "conversations": turn("Say hi.", "Hi.")},
             {"id": "i", "image": "a.png", "conversations": turn("<image>\nWhat?", "a box")},
             {"conversations": turn("More text.", "Yes.")}]
    (root / "train.json").write_text(json.dumps(train))
    (root / "val.json").write_text("[]")
    return load_dataset(resolve_dataset(root))


def test_records_without_an_image_pair_with_the_blank(tmp_path):
    """Text-only records (no 'image'): TinyLLaVA pairs them with its zero tensor, so test 3's reference
    for them is the blank; they pass pairing and are counted under paths['blank']."""
    ds = _with_text_only(tmp_path)
    res = check_loader(ds, ds.records, **KW)
    assert res.status == "passed" and res.findings == [] and res.pairs_ok == res.pairs_checked == 3
    assert res.paths["blank"] == 2 and res.max_pixel_error <= 2.5 / 127.5


def test_a_blank_that_is_not_blank_fails_pairing(tmp_path, monkeypatch):
    """A Loader that gave a text-only record a picture would train on something the record does not
    mean: its pairing check against the blank fails on that record."""
    ds = _with_text_only(tmp_path)
    real = harness.loader.Loader

    class NoBlank(real):
        def __iter__(self):
            for batch in super().__iter__():
                yield {**batch, "images": batch["images"] + 1.0}

    monkeypatch.setattr(harness.loader, "Loader", NoBlank)
    res = check_loader(ds, ds.records, **KW)
    assert res.status == "failed" and {f.record_index for f in res.findings} >= {0, 2}
