"""Test 4 of the dry run: train the proxy on sound samples and judge whether it converges."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from harness.config import TrainConfig
from harness.train.analysis import Convergence, analyse
from harness.train.loop import TrainResult, simulate

TEST_ID = "training_simulation"


@dataclass
class TrainingCheck:
    test: dict[str, Any]                  # the TESTS row
    result: TrainResult | None = None     # None when there was nothing to train on
    analysis: Convergence | None = None


def pick_samples(sound: dict[str, list], tc: TrainConfig) -> tuple[list, list]:
    """The seed's 20 samples: 16 train and 4 val, from the sound records; ``all``: both whole splits."""
    n_train, n_val = tc.split_counts()
    train, val = sound.get("train", []), sound.get("val", [])
    if n_train is None:
        return train, val
    if not val:  # no val split: hold out the tail of train, as the seed did with its 20 samples
        return train[:n_train], train[n_train:n_train + n_val]
    return train[:n_train], val[:n_val]


def check_training(tc: TrainConfig, dataset: Any, sound: dict[str, list]) -> TrainingCheck:
    """Passes when the proxy's loss converges (``harness.train.analysis`` states the rule)."""
    train_recs, val_recs = pick_samples(sound, tc)
    if not train_recs:
        return TrainingCheck(test={"test": TEST_ID, "status": "skipped", "seconds": 0.0,
                                   "summary": "no sound train record"})
    t0 = time.perf_counter()
    res = simulate(tc, dataset, train_recs, val_recs)
    a = analyse(res.epochs, res.batches)
    summary = (f"{res.params:,} params on {res.device}: loss {a.train_losses[0]:.3f} -> {a.train_losses[-1]:.3f} "
               f"({a.train_reduction_pct:.0f}% lower), {a.verdict}")
    test = {"test": TEST_ID, "status": "passed" if a.converging else "failed",
            "seconds": time.perf_counter() - t0, "summary": summary}
    return TrainingCheck(test=test, result=res, analysis=a)
