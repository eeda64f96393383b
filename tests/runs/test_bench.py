"""``harness bench`` end to end on a tiny dataset, its tables, and its usage errors."""
import pytest
from click.testing import CliRunner

from harness.bench.stages import bottleneck, per_batch, quantiles
from harness.cli import main
from harness.results import schema
from harness.results.write import read_table
from tests.train.test_loop import make_dataset


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("benchset")
    make_dataset(root, 14, 2, size=128)
    return root


@pytest.mark.slow
def test_bench_cli_writes_tables_report_and_plots(tiny_root, tmp_path):
    out = tmp_path / "run"
    r = CliRunner().invoke(main, ["bench", str(tiny_root), "--batch-size", "2,4", "--steps", "2", "--warmup", "1",
                                  "--device", "cpu", "--out", str(out)])
    assert r.exit_code == 0, r.output
    bench = read_table(out / "bench.arrow")
    assert bench.schema.names == schema.BENCH.names
    assert schema.read_metadata(bench.schema)["command"] == "bench"
    rows = bench.to_pylist()
    for bs in (2, 4):
        stages = {(x["stage"], x["pipeline"]) for x in rows if x["batch_size"] == bs}
        for stage in ("read_bytes", "decode", "resize_normalize", "collate_pin", "loader"):
            assert (stage, "harness") in stages and (stage, "torchvision") in stages
        for stage in ("h2d", "forward", "backward", "optimizer", "data_wait", "train_step"):
            assert (stage, "harness") in stages
        step = next(x for x in rows if x["batch_size"] == bs and x["stage"] == "train_step")
        assert 0 <= step["data_wait_share"] <= 1 and step["peak_memory_bytes"] > 0
        assert step["samples_per_s"] == pytest.approx(bs / step["median_seconds"])
        loader = [x for x in rows if x["batch_size"] == bs and x["stage"] == "loader" and x["pipeline"] == "harness"]
        assert loader[0]["ratio_vs_baseline"] > 0
    assert not any(x["compiled"] for x in rows)          # CPU + --compile auto: eager only
    est = read_table(out / "estimates.arrow").to_pylist()
    assert {x["basis"] for x in est} == {"proxy", "target"}
    assert {x["batch_size"] for x in est} == {2, 4}
    proxy = [x for x in est if x["basis"] == "proxy" and x["batch_size"] == 2]
    assert [x["scale"] for x in proxy] == ["dataset", "1K", "10K", "50K"] and proxy[0]["conversations"] == 14
    text = (out / "report.md").read_text()
    assert "torch.compile skipped on CPU" in text and "openecad-0.89b" in text
    assert (out / "throughput.png").stat().st_size > 1000 and (out / "stages.png").stat().st_size > 1000


@pytest.mark.parametrize("args", [
    ["--batch-size", "0"],
    ["--batch-size", "two"],
    ["--mfu", "0.5"],
    ["--mfu", "0.4,0.2"],
    ["--steps", "1"],
    ["--target", "gpt-5"],
    ["--device", "tpu"],
    ["--tune-llm", "half"],
    ["--lora-rank", "0"],
    ["--memory-limit", "0"],
    ["--memory-limit", "lots"],
    ["--gpu", "TPU v9"],
    ["--global-batch", "0"],
])
def test_bad_options_exit_2_without_traceback(tiny_root, args):
    r = CliRunner().invoke(main, ["bench", str(tiny_root), *args])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output


def test_missing_dataset_and_too_small_dataset_exit_2(tmp_path, tiny_root):
    r = CliRunner().invoke(main, ["bench", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "not found" in r.output
    r = CliRunner().invoke(main, ["bench", str(tiny_root), "--batch-size", "8", "--steps", "4"])
    assert r.exit_code == 2 and "needs" in r.output


def test_helpers():
    assert quantiles([1.0, 2.0, 3.0, 4.0, 5.0]) == (3.0, pytest.approx(4.6))
    assert per_batch([1, 2, 3, 4, 5], [2, 2, 1]) == [3, 7, 5]
    stages = {"decode": 0.5, "forward": 0.3}
    assert bottleneck(stages, workers=0) == "decode"
    assert bottleneck(stages, workers=2) == "forward"      # decode spread over two workers: 0.25
