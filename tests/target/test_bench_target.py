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
    gpu = [x for x in read_table(out / "estimates.arrow").to_pylist() if x["basis"] == "target"]
    assert {x["device"] for x in gpu} == {"RTX 4090", "A100", "H100 SXM"}      # the range on the listed GPUs


@pytest.mark.slow
def test_bench_report_leads_with_the_answer_and_ends_the_lead_with_the_launch_flags(tmp_path):
    """The tiny target (2-layer Llama, tiny SigLIP) measured whole at batch 1 and 2, the recipe flags
    applied; the report answers first, then the command; the plot is written."""
    from tests.estimate.tiny import tiny_config_json

    root = tmp_path / "ds"
    make_dataset(root, 6, 1, size=64)
    out = tmp_path / "run"
    r = CliRunner().invoke(main, ["bench", str(root), "--batch-size", "1,2", "--steps", "2", "--warmup", "1",
                                  "--device", "cpu", "--target", str(tiny_config_json(tmp_path / "tiny")),
                                  "--target-depth", "all", "--lora-rank", "4", "--tune-vision", "lora",
                                  "--out", str(out)])
    assert r.exit_code == 0, r.output
    rows = read_table(out / "target.arrow").to_pylist()
    assert [(x["kind"], x["batch_size"], x["fits"]) for x in rows] == [("measured", 1, True), ("measured", 2, True)]
    assert all(x["recipe"] == "llm lora, vision lora, connector full, LoRA r 4 alpha 8" for x in rows)
    assert all(x["predicted_peak_memory_bytes"] > 0 for x in rows)
    text = (out / "report.md").read_text()
    assert text.index("## The answer") < text.index("## What to launch") < text.index("## Throughput")
    assert "batch 2 fits" in text and "Largest batch that fits: **2**" in text and "On the listed GPUs" in text
    for flag in ("--per_device_train_batch_size", "--gradient_accumulation_steps", "--model_max_length",
                 "--bf16 True", "--gradient_checkpointing True", "--lora_r 4 --lora_alpha 8"):
        assert flag in text
    assert "predicted / measured" in text
    assert (out / "target.png").stat().st_size > 1000
    meta = schema.read_metadata(read_table(out / "target.arrow").schema)
    assert meta["launch"]["global_batch"] == 128 and meta["launch"]["per_device_batch"] >= 1


def test_bench_without_target_depth_writes_no_target_table(tmp_path):
    from harness.config import BenchConfig

    assert BenchConfig().target_depths == ()          # off by default: the bench stays as fast as it was
