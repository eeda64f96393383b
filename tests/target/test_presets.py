"""Target presets and TinyLLaVA config.json reading: plain data, no torch."""
import json

import pytest

from harness.config import TARGETS, BenchConfig
from harness.errors import UsageError
from harness.estimate.flops import PRESETS
from harness.target.presets import TARGET_PRESETS, from_tinyllava_config, resolve_target


def test_flops_names_are_measured_targets_too():
    assert set(PRESETS) <= set(TARGET_PRESETS) and TARGETS[: len(PRESETS)] == tuple(PRESETS)
    spec = TARGET_PRESETS["openecad-0.89b"]
    assert spec.image_tokens == 728 and spec.llm_layers == 20 and spec.vision_layers == 27
    assert spec.recipe.llm == "lora" and spec.recipe.lora_r == 128


def test_cut_changes_only_the_depths():
    spec = TARGET_PRESETS["tinyllava-qwen2-0.5b-siglip"]
    c = spec.cut(2, 1)
    assert (c.llm_layers, c.vision_layers) == (2, 1) and spec.llm_layers == 24
    assert {**c.text_config, "num_hidden_layers": 24} == spec.text_config


def test_tinyllava_config_json(tmp_path):
    cfg = {"text_config": {"model_type": "qwen2", "hidden_size": 64, "num_hidden_layers": 2},
           "vision_config": {"model_type": "clip_vision_model", "image_size": 336, "patch_size": 14},
           "connector_type": "mlp2x_gelu", "tune_type_llm": "lora", "tune_type_vision_tower": "frozen",
           "lora_r": 8, "lora_alpha": 16}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    spec = resolve_target(str(tmp_path))
    assert spec.image_tokens == 576 and spec.recipe.llm == "lora" and spec.recipe.lora_r == 8
    assert spec.vision_config["hidden_size"] == 1024      # CLIP-L/336 defaults fill the gaps
    assert from_tinyllava_config(tmp_path / "config.json") == spec
    BenchConfig(target=str(tmp_path))                     # a path is a valid --target


def test_bad_targets_and_depths_are_usage_errors(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(UsageError):
        resolve_target(str(tmp_path))
    with pytest.raises(UsageError):
        resolve_target("gpt-5")
    (tmp_path / "config.json").write_text(json.dumps({"text_config": {"model_type": "openelm"},
                                                      "vision_config": {"model_type": "siglip_vision_model"}}))
    with pytest.raises(UsageError, match="openelm"):
        resolve_target(str(tmp_path))
    for depths in ((1,), (1, 1), (0, 1)):
        with pytest.raises(UsageError):
            BenchConfig(target_depths=depths)
    assert BenchConfig(target_depths=(0,)).target_depths == (0,)
