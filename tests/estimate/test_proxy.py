"""Proxy full-training estimate: steps x measured step time x epochs."""
import pytest

from harness.estimate.proxy import estimate, proxy_estimates, scale_conversations


def test_seed_estimate_arithmetic():
    # the seed: 3,000 conversations, batch 2, ~0.2 s/step, 3 epochs -> 1,500 steps/epoch, ~15 minutes
    e = estimate(3000, 2, 0.2, 3)
    assert e.steps_per_epoch == 1500
    assert e.total_seconds == pytest.approx(900.0)


def test_partial_last_batch_is_a_step():
    assert estimate(3001, 2, 0.2, 1).steps_per_epoch == 1501


def test_scale_rule_matches_the_seed_1k():
    assert scale_conversations(1100) == 3000          # 1,100 models x 3 views x 10/11
    assert scale_conversations(11_000) == 30_000
    assert scale_conversations(55_000) == 150_000


def test_rows_dataset_then_scales():
    rows = proxy_estimates(step_seconds=0.2, batch_size=2, epochs=3, dataset_conversations=16, device="cpu")
    assert [r["scale"] for r in rows] == ["dataset", "1K", "10K", "50K"]
    assert rows[0]["conversations"] == 16 and rows[0]["steps_per_epoch"] == 8 and rows[0]["models"] is None
    assert rows[1]["total_seconds"] == pytest.approx(900.0)
    assert all(r["basis"] == "proxy" and r["mfu"] is None and "ceil(conversations / 2)" in r["assumption"]
               for r in rows)
    assert "10/11" in rows[1]["assumption"]


def test_bad_input():
    with pytest.raises(ValueError):
        estimate(10, 0, 0.2, 1)
