"""``--target-depth auto``: the whole model when its measurement fits the time budget, else cut copies,
and the report says which and why. On the toy TinyLLaVA layout of ``test_bench_target`` (seconds)."""
import json

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.results.write import read_table
from harness.target.measure import choose_depths
from harness.target.presets import resolve_target
from tests.target.test_bench_target import TOY
from tests.train.test_loop import make_dataset


@pytest.fixture
def toy(tmp_path):
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "config.json").write_text(json.dumps(TOY))
    return tmp_path / "toy"


def test_the_budget_decides_whole_model_or_cut_copies(toy):
    spec = resolve_target(str(toy))
    whole, why = choose_depths(spec, (1, 2), 2, 1, "cpu", "fp32", 64, budget_s=1e9, cut=(2, 4))
    assert whole is None and "the whole model measured" in why and "1+1-block copy took" in why
    cut, why = choose_depths(spec, (1, 2), 2, 1, "cpu", "fp32", 64, budget_s=0.0, cut=(2, 4))
    assert cut == [2, 4] and "copies cut to 2, 4 blocks" in why
    shallow, why = choose_depths(spec, (1,), 2, 1, "cpu", "fp32", 64, budget_s=0.0, cut=(2, 40))
    assert shallow is None and "too shallow to cut" in why


@pytest.mark.slow
def test_bench_auto_measures_the_toy_whole_and_says_so(toy, tmp_path):
    root = tmp_path / "ds"
    make_dataset(root, 4, 1, size=64)
    out = tmp_path / "run"
    r = CliRunner().invoke(main, ["bench", str(root), "--batch-size", "1", "--steps", "2", "--warmup", "1",
                                  "--device", "cpu", "--target", str(toy), "--target-depth", "auto",
                                  "--out", str(out)])
    assert r.exit_code == 0, r.output
    rows = read_table(out / "target.arrow").to_pylist()
    assert {row["kind"] for row in rows} == {"measured"}
    assert {(row["llm_layers"], row["vision_layers"]) for row in rows} == {(6, 5)}
    assert "--target-depth auto: the whole model measured" in (out / "report.md").read_text()


def test_auto_is_a_depth_the_config_takes():
    from harness.config import AUTO_DEPTHS, BenchConfig
    from harness.errors import UsageError

    assert BenchConfig(target_depths=AUTO_DEPTHS).target_depths == AUTO_DEPTHS
    with pytest.raises(UsageError, match="'auto'"):
        BenchConfig(target_depths=(-2,))
