"""The recipe flags change what trains (counted on the meta-built tiny model), and the launch flags follow
from the measurements: plain arithmetic on rows."""
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

pytest.importorskip("torch")

from harness.estimate.architecture import build_meta  # noqa: E402
from harness.target.launch import accumulation, largest_fitting, length_at_share, plan_launch  # noqa: E402
from harness.target.presets import with_recipe  # noqa: E402
from tests.estimate.tiny import tiny  # noqa: E402


def _trainable(spec) -> dict[str, int]:
    """Trainable parameters per part, and the LoRA ones apart."""
    model = build_meta(spec)
    out = {"language_model": 0, "vision_tower": 0, "connector": 0, "lora": 0}
    for name, p in model.named_parameters():
        if p.requires_grad:
            out[name.split(".")[0]] += p.numel()
            out["lora"] += p.numel() if "lora_" in name else 0
    return out


def _size(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_recipe_flags_change_the_trainable_parameters_as_each_tune_type_says():
    base = tiny("finetune")                                   # llm full, vision frozen, connector full
    model = build_meta(base)
    lm, conn = _size(model.language_model), _size(model.connector)
    assert _trainable(base) == {"language_model": lm, "vision_tower": 0, "connector": conn, "lora": 0}
    frozen = _trainable(with_recipe(base, llm="frozen"))
    assert frozen == {"language_model": 0, "vision_tower": 0, "connector": conn, "lora": 0}
    assert _trainable(with_recipe(base, llm="frozen", connector="frozen"))["connector"] == 0
    r4 = _trainable(with_recipe(base, llm="lora", lora_rank=4))
    r8 = _trainable(with_recipe(base, llm="lora", lora_rank=8))
    assert 0 < r4["language_model"] == r4["lora"] < lm / 10   # adapters only, the base weights frozen
    assert r8["lora"] == 2 * r4["lora"]                       # A (in x r) and B (r x out): linear in the rank
    both = _trainable(with_recipe(base, llm="lora", vision="lora", lora_rank=4))
    assert 0 < both["vision_tower"] and both["language_model"] == r4["language_model"]
    full_vision = _trainable(with_recipe(base, vision="full"))
    assert full_vision["vision_tower"] == _size(model.vision_tower)


def test_rank_flag_pairs_alpha_and_none_keeps_the_recipe():
    base = tiny("lora both")
    assert with_recipe(base) is base
    spec = with_recipe(base, lora_rank=32)
    assert (spec.recipe.lora_r, spec.recipe.lora_alpha, spec.recipe.llm, spec.recipe.vision) == (32, 64, "lora", "lora")


def test_launch_flags_follow_from_the_rows():
    rows = [{"kind": "measured", "batch_size": b, "llm_layers": 2, "vision_layers": 2, "fits": fits,
             "step_seconds": s} for b, fits, s in ((1, True, 1.0), (2, True, 1.8), (4, False, None))]
    assert largest_fitting(rows)["batch_size"] == 2
    assert largest_fitting([{**r, "fits": False} for r in rows]) is None
    assert accumulation(128, 2) == 64 and accumulation(128, 3, gpus=2) == 22 and accumulation(4, 8) == 1
    lengths = list(range(1, 1001))                            # 1..1000 positions
    assert length_at_share(lengths, 0.99) == 1024             # the 990th, rounded up to a multiple of 64
    assert length_at_share(lengths, 0.5) == 512
    launch = plan_launch(per_device_batch=2, gpus=1, global_batch=128, lengths=lengths, length_share=0.99,
                         device_name="NVIDIA A100-SXM4-80GB", tune=("lora", "frozen", "full"), lora_r=128,
                         lora_alpha=256, where="test")
    assert launch.covered == 1.0 and launch.precision == "bf16"
    cmd = launch.command("data/ds", 3)
    for flag in ("--per_device_train_batch_size 2", "--gradient_accumulation_steps 64", "--model_max_length 1024",
                 "--bf16 True", "--gradient_checkpointing True", "--tune_type_llm lora", "--lora_r 128",
                 "--num_train_epochs 3", "--data_path data/ds/train.json"):
        assert flag in cmd
    old = plan_launch(per_device_batch=4, gpus=2, global_batch=128, lengths=lengths, length_share=0.99,
                      device_name="Tesla V100-SXM2-32GB", tune=("full", "frozen", "full"), lora_r=128,
                      lora_alpha=256, where="test")
    assert old.precision == "fp16" and old.accumulation == 16 and "--lora_r" not in old.command("d", 1)
    huge = plan_launch(per_device_batch=4000, gpus=2, global_batch=128, lengths=lengths, length_share=0.99,
                       device_name="A100", tune=("lora", "frozen", "full"), lora_r=8, lora_alpha=16, where="test")
    assert (huge.per_device_batch, huge.accumulation) == (64, 1)     # never past the global batch
