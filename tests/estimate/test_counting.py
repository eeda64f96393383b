"""The FLOP count of the built architecture against torch's own FLOP counter tracing a real training step
of the same tiny model (forward, backward with checkpoint recomputation), for each recipe."""
import os
from dataclasses import replace

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch = pytest.importorskip("torch")

from harness.estimate.architecture import architecture  # noqa: E402
from harness.estimate.counting import count  # noqa: E402
from harness.target.model import build, synthetic_batch  # noqa: E402
from tests.estimate.tiny import TEXT, tiny  # noqa: E402


def traced_step(spec, tokens: int) -> tuple[float, float]:
    """(forward, whole step) FLOPs torch counts for one sample."""
    from torch.utils.flop_counter import FlopCounterMode

    built = build(spec, "cpu", torch.float32)
    batch = synthetic_batch(spec, 1, tokens)
    with FlopCounterMode(display=False) as fc:
        loss = built.model(**batch)
        forward = fc.get_total_flops()
        loss.backward()
    return float(forward), float(fc.get_total_flops())


def full_square(arch):
    """Eager attention computes the whole causal square; the count assumes flash's half."""
    ops = tuple(replace(o, macs_per_position=2 * o.macs_per_position)
                if o.quadratic and o.tower == "language_model" else o for o in arch.ops)
    return replace(arch, ops=ops)


@pytest.mark.parametrize("recipe", ["lora both", "finetune", "pretrain"])
def test_count_matches_traced_training_step(recipe):
    spec = tiny(recipe, eager=True)
    arch = architecture(spec)
    tokens = 195 + 300
    flops = count(full_square(arch)).at(tokens)
    forward, step = traced_step(spec, tokens)
    assert flops["forward"] == pytest.approx(forward, rel=0.01)
    assert flops["step"] == pytest.approx(step, rel=0.01)


def test_frozen_towers_pass_gradients_only_where_something_below_trains():
    lora, finetune, pretrain = (count(architecture(tiny(r))) for r in ("lora both", "finetune", "pretrain"))
    vision_fwd = finetune.forward.a        # vision + connector: the part that does not grow with tokens
    # frozen vision under a trained connector: no vision backward, only the connector's second linear
    # (d x d on 195 image tokens) passes a gradient down to the first; the frozen LM passes them all down
    assert finetune.activation_grads.a == 2 * 195 * TEXT["hidden_size"] ** 2
    assert pretrain.activation_grads.b > 0 and pretrain.weight_grads.b == 0
    # every block's forward again but its last matmul (down_proj), never the LM head
    down = 2.0 * TEXT["intermediate_size"] * TEXT["hidden_size"] * TEXT["num_hidden_layers"]
    assert pretrain.recompute.b == pytest.approx(pretrain.forward.b - lm_head_per_token() - down, rel=1e-9)
    # LoRA on the vision tower: its one block below the feature layer (of two) gets activation gradients
    assert 0.4 * vision_fwd < lora.activation_grads.a < 0.6 * vision_fwd


def lm_head_per_token() -> float:
    return 2.0 * TEXT["hidden_size"] * TEXT["vocab_size"]


def test_checkpointing_off_drops_the_recompute():
    on = count(architecture(tiny("finetune")))
    off = count(architecture(tiny("finetune", gradient_checkpointing=False)))
    assert off.recompute.b == 0 and on.recompute.b > 0
    assert on.step(1000) - off.step(1000) == pytest.approx(on.recompute(1000))
