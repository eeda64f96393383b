"""The openecad-0.89b preset against its published sizes, and the step-cost arithmetic."""
import pytest

from harness.estimate.flops import (
    DEVICE_PEAK_TFLOPS,
    make_divisible,
    mean_step_flops,
    openecad_0_89b,
    sample_cost,
    sample_tokens,
    target_rows,
)


def test_preset_sizes():
    m = openecad_0_89b()
    assert m.lm.params() == pytest.approx(457e6, rel=0.02)
    assert m.vision.params() == pytest.approx(428e6, rel=0.02)
    assert m.connector_params() == pytest.approx(4.1e6, rel=0.02)
    assert m.params() == pytest.approx(0.89e9, rel=0.01)
    lm_lora, vis_lora = m.lora_params()
    assert lm_lora + vis_lora == pytest.approx(119e6, rel=0.02)
    assert m.vision.patches == 729 and m.vision.used_patches == 728


def test_openelm_layerwise_scaling():
    lm = openecad_0_89b().lm
    assert lm.layers == 20
    assert (lm.q_heads[0], lm.q_heads[-1]) == (12, 24)
    assert all(q == 4 * kv for q, kv in zip(lm.q_heads, lm.kv_heads))
    assert (lm.ffn_dims[0], lm.ffn_dims[-1]) == (768, 6144)
    assert make_divisible(1536 * 0.53, 256) == 768


def test_image_forward_and_lora_overheads():
    m = openecad_0_89b()
    assert m.vision.forward_flops() == pytest.approx(666e9, rel=0.01)
    c = sample_cost(m, 1000)
    assert c.lora_token_overhead == pytest.approx(0.12, abs=0.01)
    assert c.lora_image_overhead == pytest.approx(0.15, abs=0.01)
    # frozen weights: a step is about 3 forwards, far below the 6*N*T of full training
    assert 3.0 < c.step / c.forward < 3.6


def test_tokens_per_sample():
    assert sample_tokens(52, 932) == (728 + 15 + 267, 267)
    total, answer = sample_tokens(52, 27_592)
    assert total == 2048 and answer == 2048 - 728 - 15


def test_target_rows_time_and_loader_feed():
    m = openecad_0_89b()
    flops, toks = mean_step_flops(m, [(52, 932)])
    rows = target_rows(model=m, flops_per_sample=flops, tokens_per_sample=toks,
                       conversations=[("1K", 1100, 3000)], batch_size=4, epochs=3, mfu=(0.15, 0.35),
                       loader_samples_per_s=100.0, devices={"H100 SXM": DEVICE_PEAK_TFLOPS["H100 SXM"]})
    assert len(rows) == 2
    lo, hi = rows
    assert lo["total_seconds"] == pytest.approx(3000 * 3 * flops / (0.15 * 989e12))
    assert hi["total_seconds"] == pytest.approx(lo["total_seconds"] * 0.15 / 0.35)
    assert lo["needed_samples_per_s"] == pytest.approx(0.15 * 989e12 / flops)
    assert lo["loader_keeps_up"] is (100.0 >= lo["needed_samples_per_s"])
    assert "TFLOP/s" in lo["assumption"] and "MFU" in lo["assumption"]
