"""``harness synth``: the dataset writer and its command."""
from __future__ import annotations

import io
import json

import numpy as np
from click.testing import CliRunner
from PIL import Image

from harness.cli import main
from harness.config import SynthConfig
from harness.runs.synth import synthesize


def test_dataset_layout_split_and_records(tmp_path):
    out = tmp_path / "ds"
    s = synthesize(SynthConfig(out=out, models=12, seed=1, workers=1))
    assert (s.models, s.train_models, s.val_models) == (12, 11, 1)
    assert (s.train_records, s.val_records, s.images) == (33, 3, 36) and not s.failures
    train, val = (json.loads((out / f"{k}.json").read_text()) for k in ("train", "val"))
    model = lambda r: r["id"].rsplit("_", 1)[0]  # noqa: E731
    assert not {model(r) for r in train} & {model(r) for r in val}
    for r in train + val:
        human, gpt = r["conversations"]
        assert human["from"] == "human" and human["value"].startswith("<image>\n")
        assert 39 <= len(human["value"]) - len("<image>\n") <= 61
        assert gpt["from"] == "gpt" and "add_extrude" in gpt["value"] and r["image"] == r["id"] + ".png"
    pics = {r["id"]: np.asarray(Image.open(io.BytesIO((out / "images" / r["image"]).read_bytes())))
            for r in train[:6]}
    sizes = [(out / "images" / r["image"]).stat().st_size for r in train]
    assert all(p.shape == (512, 512, 3) and (p < 255).any() for p in pics.values())
    assert 1500 < np.median(sizes) < 6000
    a, b, c, d = list(pics.values())[:4]      # views of one model differ, and so do models
    assert not np.array_equal(a, b) and not np.array_equal(a, d)
    summary = json.loads((out / "synth.json").read_text())
    assert summary["answer_chars"]["min"] > 350 and summary["models"] == 12
    assert "one whole sketch+extrude block" in summary["answer_chars"]["note"]
    again = synthesize(SynthConfig(out=tmp_path / "again", models=12, seed=1, workers=1))
    assert (tmp_path / "again" / "train.json").read_text() == (out / "train.json").read_text()
    assert again.models == 12


def test_cli_refuses_a_busy_folder_and_overwrites_cleanly(tmp_path):
    out = tmp_path / "ds"
    out.mkdir()
    (out / "stale.txt").write_text("x")
    r = CliRunner().invoke(main, ["synth", str(out), "--models", "2", "--size", "64", "--workers", "1"])
    assert r.exit_code == 2, r.output
    r = CliRunner().invoke(main, ["synth", str(out), "--models", "2", "--size", "64", "--workers", "1",
                                  "--overwrite"])
    assert r.exit_code == 0, r.output
    assert not (out / "stale.txt").exists() and len(list((out / "images").iterdir())) == 6
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no temporary left behind
    r = CliRunner().invoke(main, ["synth", str(tmp_path / "v"), "--views", "front,side"])
    assert r.exit_code == 2


def test_process_pool_gives_the_same_dataset(tmp_path):
    synthesize(SynthConfig(out=tmp_path / "a", models=6, size=64, workers=1))
    synthesize(SynthConfig(out=tmp_path / "b", models=6, size=64, workers=2))
    assert (tmp_path / "a" / "train.json").read_text() == (tmp_path / "b" / "train.json").read_text()
    for p in (tmp_path / "a" / "images").iterdir():
        assert p.read_bytes() == (tmp_path / "b" / "images" / p.name).read_bytes()
