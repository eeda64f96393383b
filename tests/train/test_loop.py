"""The proxy training loop: the rows it writes, determinism, the golden CPU loss curve, and speed."""
import json
import os
import time
from pathlib import Path

import pyarrow as pa
import pytest
from PIL import Image, ImageDraw

from harness.config import TrainConfig
from harness.data import load_dataset, resolve_dataset
from harness.results import schema
from harness.train.analysis import analyse
from harness.train.loop import simulate

GOLDEN = Path(__file__).parents[1] / "golden" / "proxy_loss_cpu.json"
REGEN = os.environ.get("HARNESS_REGEN_GOLDEN") == "1"     # set deliberately to rewrite the golden file


def make_dataset(root: Path, n_train: int, n_val: int, size: int = 512):
    """A tiny LLaVA-format CAD-like dataset: drawn outlines, OpenECAD-ish code answers."""
    (root / "images").mkdir(parents=True)
    splits = {"train": [], "val": []}
    for i in range(n_train + n_val):
        name = f"{i:08d}_front.png"
        im = Image.new("RGB", (size, size), "white")
        d = ImageDraw.Draw(im)
        d.rectangle([40 + i * 7, 60, 300 + i * 5, 200 + i * 9], outline="black", width=3)
        d.ellipse([200, 250, 260 + i * 11, 420], outline=(30, 30, 200), width=2)
        im.save(root / "images" / name)
        code = "\n".join(f"SketchPlane{k}=add_sketchplane(origin=[0,0,{i + k}])\n"
                         f"Loops{k}=Line(start=[{k},{i}],end=[{i},{k}])" for k in range(1 + i % 4))
        splits["train" if i < n_train else "val"].append({
            "id": f"{i:08d}_front", "image": name,
            "conversations": [{"from": "human", "value": "<image>\nWhat is the CAD code for this 3D model?"},
                              {"from": "gpt", "value": "# CAD Construction Sequence\n" + code}]})
    for split, recs in splits.items():
        (root / f"{split}.json").write_text(json.dumps(recs))
    return load_dataset(resolve_dataset(root))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("tiny"), 8, 2)


TINY_CFG = TrainConfig(samples=None, epochs=2, batch_size=4, image_size=64, seq_len=128, device="cpu")


def _run(ds, cfg=TINY_CFG, **kw):
    return simulate(cfg, ds, ds.records["train"], ds.records["val"], **kw)


def test_rows_match_the_schemas(tiny):
    r = _run(tiny)
    pa.Table.from_pylist(r.batches, schema=schema.BATCHES)            # raises on a missing or mistyped column
    pa.Table.from_pylist(r.epochs, schema=schema.EPOCHS)
    assert [b["split"] for b in r.batches] == ["train", "train", "val"] * 2
    assert [e["epoch"] for e in r.epochs] == [1, 2]
    # the epoch's train loss is the sample-weighted mean of its batches
    e1 = [b for b in r.batches if b["epoch"] == 1 and b["split"] == "train"]
    assert r.epochs[0]["train_loss"] == pytest.approx(sum(b["loss"] * b["samples"] for b in e1) / 8)
    # a step's seconds include its wait for data; an epoch's steps fit inside the epoch's time
    assert all(b["seconds"] >= b["data_wait_seconds"] >= 0 for b in r.batches)
    assert sum(b["seconds"] for b in e1) <= r.epochs[0]["train_seconds"] + 1e-6
    assert r.params == 652_388 and r.device == "cpu" and not r.compiled
    assert r.samples_per_s == pytest.approx(4 / r.steady_step_seconds)
    assert r.peak_memory_bytes > 0 and r.peak_memory_kind == "process peak RSS"
    import torch
    assert not torch.are_deterministic_algorithms_enabled()     # the run's setting does not leak out


def test_golden_cpu_loss_curve(tiny):
    losses = [round(b["loss"], 6) for b in _run(tiny).batches]
    if REGEN:
        GOLDEN.write_text(json.dumps({"config": "8 train + 2 val samples, 2 epochs, batch 4, 64 px, 128 tokens, "
                                      "seed 0, CPU", "losses": losses}, indent=1) + "\n")
    golden = json.loads(GOLDEN.read_text())["losses"]
    assert losses == pytest.approx(golden, abs=1e-4)


def test_same_seed_same_curve_other_seed_differs(tiny):
    a = [b["loss"] for b in _run(tiny).batches]
    b = [b["loss"] for b in _run(tiny).batches]
    c = [b["loss"] for b in _run(tiny, TrainConfig(**{**TINY_CFG.__dict__, "seed": 1})).batches]
    assert a == b
    assert a != c


def test_torchvision_loader_gives_the_same_kind_of_batches(tiny):
    # the bench's peer pipeline plugs into the same loop; pixels differ slightly (Pillow vs kernels)
    from harness.loader.torchvision_peer import torchvision_loader

    harness_curve = [b["loss"] for b in _run(tiny).batches]
    tv_curve = [b["loss"] for b in _run(tiny, loader_factory=torchvision_loader).batches]
    assert tv_curve[0] == pytest.approx(harness_curve[0], abs=1e-2)
    assert len(tv_curve) == len(harness_curve)


@pytest.mark.slow
def test_default_dry_run_training_is_fast_and_converges(tmp_path):
    ds = make_dataset(tmp_path / "d", 16, 4)
    t0 = time.perf_counter()
    r = simulate(TrainConfig(device="cpu"), ds, ds.records["train"], ds.records["val"])   # 20 samples, 5 epochs, 384 px
    seconds = time.perf_counter() - t0
    print(f"default test 4: {seconds:.1f} s, steady step {r.steady_step_seconds * 1e3:.0f} ms")
    c = analyse(r.epochs, r.batches)
    assert c.converging, c.summary()
    load = os.getloadavg()[0]
    if load > (os.cpu_count() or 1):
        pytest.skip(f"timing not judged: load average {load:.1f} exceeds the {os.cpu_count()} cores")
    assert seconds < 30     # ~6 s on an idle 2-core CPU; the whole dry run has 2 minutes
