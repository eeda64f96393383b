"""``harness estimate`` end to end on a tiny TinyLLaVA config.json: the table, the report, the usage errors."""
import json
import os

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from click.testing import CliRunner

os.environ.setdefault("HF_HUB_OFFLINE", "1")
pytest.importorskip("torch")

from harness.cli import main  # noqa: E402
from harness.estimate.devices import known  # noqa: E402
from harness.results.schema import TARGET, read_metadata, with_metadata  # noqa: E402
from tests.estimate.tiny import tiny_config_json  # noqa: E402

CONTRACT = ("gpus", "samples", "total_seconds", "total_seconds_low", "total_seconds_high", "peak_memory_bytes",
            "fits", "assumption", "flops_assumption", "memory_assumption", "samples_assumption")


def run(args):
    return CliRunner().invoke(main, ["estimate", *args])


def test_rows_per_device_and_scale(tmp_path):
    target = tiny_config_json(tmp_path / "model")
    out = tmp_path / "out"
    res = run(["--target", str(target), "--device", "rtx-4090", "--device", "A100", "--gpus", "2",
               "--samples", "5000", "--text-tokens", "300", "--epochs", "2", "--out", str(out)])
    assert res.exit_code == 0, res.output
    table = ipc.open_file(out / "estimates.arrow").read_all()
    assert set(CONTRACT) <= set(table.column_names)
    rows = table.to_pylist()
    assert [(r["device"], r["scale"]) for r in rows] == [
        (d, s) for d in ("rtx-4090", "A100") for s in ("dataset", "1K", "10K", "50K")]   # names as given
    for r in rows:
        assert r["basis"] == "target" and r["gpus"] == 2 and r["epochs"] == 2
        assert r["total_seconds_low"] < r["total_seconds"] < r["total_seconds_high"]
        assert r["fits"] is True and r["peak_memory_bytes"] > 0
        assert all(r[k] for k in CONTRACT if k.endswith("assumption"))
    first = rows[0]
    assert first["samples"] == 5000 and first["tokens_per_sample"] == 195 + 300
    # the same work on the faster device: time in the ratio of the peaks
    a100 = next(r for r in rows if r["device"] == "A100" and r["scale"] == "dataset")
    assert first["total_seconds"] / a100["total_seconds"] == pytest.approx(known()["A100"][0] / known()["RTX 4090"][0])
    assert (out / "report.md").read_text().startswith("# harness estimate")
    assert json.loads((out / "run.json").read_text())["command"] == "estimate"


def test_a_batch_too_large_does_not_fit(tmp_path):
    target = tiny_config_json(tmp_path / "model")
    res = run(["--target", str(target), "--device", "L4", "--samples", "100", "--text-tokens", "3000",
               "--batch-size", "4096", "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    row = ipc.open_file(tmp_path / "out" / "estimates.arrow").read_all().to_pylist()[0]
    assert row["fits"] is False and row["max_batch_size"] < 4096


def test_unknown_device_is_a_usage_error_listing_the_table(tmp_path):
    res = run(["--device", "TPU v9", "--samples", "10", "--text-tokens", "10", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "TPU v9" in res.output and "RTX 4090" in res.output and "H100 SXM" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "o").exists()


@pytest.mark.parametrize("args", [["--device", "A100"],                               # neither workload
                                  ["--device", "A100", "--samples", "10"],            # half of one
                                  ["--device", "A100", "--samples", "10", "--text-tokens", "5", "--gpus", "0"],
                                  ["--device", "A100", "--samples", "10", "--text-tokens", "5", "--tokenizer", "."]])
def test_bad_workload_is_a_usage_error(args):
    res = run(args)
    assert res.exit_code == 2 and "Traceback" not in res.output


def test_mfu_from_a_gpu_measurement(tmp_path):
    from harness.estimate.architecture import architecture
    from harness.estimate.counting import count
    from harness.estimate.training import measured_mfu
    from harness.target.presets import from_tinyllava_config

    target = tiny_config_json(tmp_path / "model")
    arch = architecture(from_tinyllava_config(target))
    row = {"kind": "measured", "batch_size": 4, "llm_layers": 2, "vision_layers": 2, "step_seconds": 0.01,
           "step_seconds_p90": 0.011, "peak_memory_bytes": 10**9, "memory_source": "cuda", "fits": True,
           "device": "cuda", "dtype": "bf16", "recipe": "x", "tokens_per_sample": 495}
    schema = with_metadata(TARGET, {"device": {"cuda": "NVIDIA A100-SXM4-80GB", "device": "cuda"}})
    path = tmp_path / "target.arrow"
    with ipc.new_file(path, schema) as w:
        w.write_table(pa.Table.from_pylist([row], schema=schema))
    assert read_metadata(ipc.open_file(path).schema)["device"]["cuda"].startswith("NVIDIA")
    mfu = measured_mfu(path, arch)
    expected = count(arch).step(495) * 4 / 0.01 / (known()["A100"][0] * 1e12)
    assert mfu.central == pytest.approx(expected) and mfu.low < mfu.central < mfu.high
    out = tmp_path / "out"
    res = run(["--target", str(target), "--device", "A100", "--samples", "1000", "--text-tokens", "300",
               "--measured", str(path), "--out", str(out)])
    assert res.exit_code == 0, res.output
    r = ipc.open_file(out / "estimates.arrow").read_all().to_pylist()[0]
    assert r["mfu"] == pytest.approx(expected) and "measured on NVIDIA A100" in r["assumption"]
    assert "against the GPU measurement" in r["memory_assumption"]


def test_samples_and_tokens_from_a_dataset(tmp_path, clean_dataset):
    from tests.support.datasets import load

    target = tiny_config_json(tmp_path / "model")
    out = tmp_path / "out"
    res = run([str(clean_dataset), "--target", str(target), "--device", "H100 SXM", "--out", str(out)])
    assert res.exit_code == 0, res.output
    rows = ipc.open_file(out / "estimates.arrow").read_all().to_pylist()
    train = load(clean_dataset).records["train"]
    chars = [len(f"{r.prompt}\n{r.answer}") for r in train]
    assert rows[0]["samples"] == len(train)
    assert rows[0]["tokens_per_sample"] == pytest.approx(195 + sum(-(-c * 2 // 7) for c in chars) / len(chars))
    assert "3.5 chars per token" in rows[0]["flops_assumption"]
