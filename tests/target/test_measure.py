"""The target model built from config (no network), one training step on a cut copy, and the per-block
extrapolation."""
import math
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

torch = pytest.importorskip("torch")

from harness.target.measure import depth_plan, extrapolate, fit_blocks  # noqa: E402
from harness.target.presets import TARGET_PRESETS, Recipe  # noqa: E402


def test_fit_recovers_fixed_and_per_block_exactly():
    fixed, per_llm, per_vis = 0.7, 0.25, 0.125
    pts = [(llm, vis, fixed + per_llm * llm + per_vis * vis) for llm, vis in ((1, 1), (2, 1), (1, 2), (3, 1))]
    assert fit_blocks(pts) == pytest.approx((fixed, per_llm, per_vis), abs=1e-12)
    with pytest.raises(ValueError):
        fit_blocks([(1, 1, 1.0), (2, 2, 2.0)])          # both towers moved together: not separable


def test_extrapolated_rows_at_full_depth():
    spec = TARGET_PRESETS["openecad-0.89b"]
    assert depth_plan(spec, [1, 2]) == [(1, 1), (2, 1), (1, 2)]
    assert depth_plan(spec, None) == [(20, 27)]
    rows = [{"kind": "measured", "batch_size": 2, "llm_layers": llm, "vision_layers": vis, "fits": True,
             "step_seconds": 1 + 0.5 * llm + 0.25 * vis, "step_seconds_p90": 2 + 0.5 * llm + 0.25 * vis,
             "peak_memory_bytes": 1000 + 100 * llm + 10 * vis} for llm, vis in depth_plan(spec, [1, 2])]
    (row,) = extrapolate(rows, spec, [2], {}, torch.device("cpu"))
    assert row["kind"] == "extrapolated" and (row["llm_layers"], row["vision_layers"]) == (20, 27)
    assert row["step_seconds"] == pytest.approx(1 + 0.5 * 20 + 0.25 * 27)
    assert row["step_seconds_p90"] == pytest.approx(2 + 0.5 * 20 + 0.25 * 27)
    assert row["peak_memory_bytes"] == 1000 + 2000 + 270 and row["fits"] is None
    rows[1]["fits"] = False                              # a cut copy that did not fit: neither does the whole
    (row,) = extrapolate(rows, spec, [2], {}, torch.device("cpu"))
    assert row["fits"] is False and row["step_seconds"] is None


@pytest.mark.slow
def test_cut_copy_builds_offline_and_trains_only_what_the_recipe_trains():
    from harness.target.model import build, cut, synthetic_batch

    spec = TARGET_PRESETS["openecad-0.89b"]
    spec = cut(spec.__class__(**{**spec.__dict__, "recipe": Recipe(llm="lora", vision="frozen", lora_r=8,
                                                                       lora_alpha=16)}), 1)
    built = build(spec, "cpu", torch.float32)
    assert built.model.language_model.config.num_hidden_layers == 1
    assert built.model.vision_tower.config.num_hidden_layers == 1
    batch = synthetic_batch(spec, 1, spec.image_tokens + 16)
    loss = built.model(**batch)
    assert math.isfinite(float(loss.detach()))
    loss.backward()
    grads = {n for n, p in built.model.named_parameters() if p.grad is not None}
    assert grads and all(("lora_" in n and n.startswith("language_model")) or n.startswith("connector")
                         for n in grads)
    assert any(n.startswith("connector") for n in grads) and any("lora_" in n for n in grads)
    assert not any(n.startswith("vision_tower") for n in grads)
    assert all(not p.requires_grad for n, p in built.model.named_parameters() if n.startswith("vision_tower"))
    before = {n: p.detach().clone() for n, p in built.model.named_parameters() if n.startswith("connector")}
    built.optimizer.step()
    assert any(not torch.equal(before[n], p) for n, p in built.model.named_parameters() if n in before)


def _toy_spec(cfg, folder):
    import json

    from harness.target.presets import from_tinyllava_config

    (folder / "config.json").write_text(json.dumps(cfg))
    return from_tinyllava_config(folder)


@pytest.mark.slow
@pytest.mark.parametrize("name, total_m", [("openecad-0.89b", 888.6), ("tinyllava-qwen2-0.5b-siglip", 924.1),
                                           ("tinyllava-tinyllama-1.1b-siglip", 1534.8)])
def test_full_presets_have_their_published_sizes(name, total_m):
    from harness.target.model import TargetVLM

    with torch.device("meta"):                           # shapes only: no memory, no download
        model = TargetVLM(TARGET_PRESETS[name])
    assert sum(p.numel() for p in model.parameters()) / 1e6 == pytest.approx(total_m, abs=0.1)
    assert sum(p.numel() for p in model.vision_tower.parameters()) / 1e6 == pytest.approx(428.2, abs=0.1)


@pytest.mark.slow
def test_whole_model_without_depths_is_measured_not_extrapolated(tmp_path):
    from harness.target.measure import measure_target
    from tests.target.test_bench_target import TOY

    rows = measure_target(_toy_spec(TOY, tmp_path), [1], None, "cpu", "fp32", 2, 0, 40)
    assert [(r["kind"], r["llm_layers"], r["vision_layers"], r["fits"]) for r in rows] == [
        ("measured", 6, 5, True)]
