"""``harness bench --target-depth`` end to end: target.arrow with measured and extrapolated rows.

The target here is a TinyLLaVA ``config.json`` of the real layout at toy widths (so the CLI test takes
seconds); the real preset's cut copy is trained in ``test_measure.py``."""
import json
import os

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.results import schema
from harness.results.write import read_table
from tests.train.test_loop import make_dataset

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TOY = {"text_config": {"model_type": "qwen2", "vocab_size": 512, "hidden_size": 64, "intermediate_size": 128,
                       "num_hidden_layers": 6, "num_attention_heads": 4, "num_key_value_heads": 2,
                       "tie_word_embeddings": True},
       "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 32, "intermediate_size": 64,
                         "num_hidden_layers": 5, "num_attention_heads": 2, "image_size": 56, "patch_size": 14},
       "connector_type": "mlp2x_gelu", "tune_type_llm": "lora", "tune_type_vision_tower": "frozen",
       "tune_type_connector": "full", "lora_r": 4, "lora_alpha": 8, "tokenizer_model_max_length": 256}


@pytest.mark.slow
def test_bench_measures_the_target_and_extrapolates(tmp_path):
    root = tmp_path / "ds"
    make_dataset(root, 4, 1, size=64)
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "config.json").write_text(json.dumps(TOY))
    out = tmp_path / "run"
    r = CliRunner().invoke(main, ["bench", str(root), "--batch-size", "1", "--steps", "2", "--warmup", "1",
                                  "--device", "cpu", "--target", str(tmp_path / "toy"), "--target-depth", "1,2",
                                  "--out", str(out)])
    assert r.exit_code == 0, r.output
    table = read_table(out / "target.arrow")
    assert table.schema.names == schema.TARGET.names
    assert schema.read_metadata(table.schema)["command"] == "bench"
    rows = table.to_pylist()
    measured = [x for x in rows if x["kind"] == "measured"]
    assert {(x["llm_layers"], x["vision_layers"]) for x in measured} == {(1, 1), (2, 1), (1, 2)}
    assert all(x["fits"] and x["step_seconds"] > 0 and x["peak_memory_bytes"] >= 0 for x in measured)
    assert all(x["device"] == "cpu" and x["dtype"] == "fp32" and 15 < x["tokens_per_sample"] <= 256 for x in rows)
    assert all(x["recipe"].startswith("llm lora, vision frozen, connector full") for x in rows)
    (full,) = [x for x in rows if x["kind"] == "extrapolated"]
    assert (full["llm_layers"], full["vision_layers"]) == (6, 5) and full["fits"] is None
    assert full["step_seconds"] is not None
    text = (out / "report.md").read_text()
    assert "measured with random weights" in text and "ceil(" in text
    assert not any(x["basis"] == "target" for x in read_table(out / "estimates.arrow").to_pylist())


def test_bench_without_target_depth_writes_no_target_table(tmp_path):
    from harness.config import BenchConfig

    assert BenchConfig().target_depths == ()          # off by default: the bench stays as fast as it was
