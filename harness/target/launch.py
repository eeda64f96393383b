"""What to launch, from the target's measurements: the TinyLLaVA_Factory fine-tuning flags that follow.

  per_device_train_batch_size   the largest batch whose full-depth step fitted (``largest_fitting``),
                                at most the global batch over the GPUs (more would only waste memory)
  gradient_accumulation_steps   ceil(global batch / (per-device batch x GPUs)): TinyLLaVA's fine-tunes
                                keep a global batch of 128 (``scripts/train/lora/finetune_lora.sh``: 4 GPUs
                                x 8 x 4), so the optimisation sees the batch the published recipe saw
  model_max_length              the ``share`` quantile of the samples' LM positions (image tokens
                                included), rounded up to a multiple of 64: that share is never truncated
  bf16 / fp16                   bf16 where the GPU has it (Ampere and later), else fp16, as the scripts do
  gradient_checkpointing True   what was measured (activations of one block at a time)
Plain functions of rows and numbers: no model, no device.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

ROUND_TO = 64
FP16_ONLY = ("RTX 2080", "T4", "V100")      # GPUs without bf16: the scripts' --fp16


def full_depth_rows(rows: Sequence[dict]) -> list[dict]:
    """The rows that stand for the whole model: extrapolated ones when the model was cut, else measured."""
    return [r for r in rows if r["kind"] == "extrapolated"] or [r for r in rows if r["kind"] == "measured"]


def largest_fitting(rows: Sequence[dict]) -> dict | None:
    """The full-depth row of the largest batch that ran and was not found over memory (``fits`` True, or
    null: extrapolated on a CPU with no limit to check against); None when none did."""
    ok = [r for r in full_depth_rows(rows) if r["step_seconds"] is not None and r["fits"] is not False]
    return max(ok, key=lambda r: r["batch_size"]) if ok else None


def length_at_share(lengths: Sequence[float], share: float) -> int:
    """The smallest multiple of ``ROUND_TO`` holding ``share`` of the samples whole."""
    xs = sorted(lengths)
    k = min(len(xs) - 1, max(0, math.ceil(share * len(xs)) - 1))
    return int(math.ceil(xs[k] / ROUND_TO) * ROUND_TO)


def accumulation(global_batch: int, per_device: int, gpus: int = 1) -> int:
    return max(1, math.ceil(global_batch / (per_device * gpus)))


def precision(device_name: str) -> str:
    return "fp16" if any(n.lower() in device_name.lower() for n in FP16_ONLY) else "bf16"


@dataclass(frozen=True)
class Launch:
    per_device_batch: int
    gpus: int
    accumulation: int
    global_batch: int
    model_max_length: int
    length_share: float
    covered: float               # share of samples within model_max_length (>= length_share)
    precision: str
    tune: tuple[str, str, str]   # llm, vision tower, connector
    lora_r: int
    lora_alpha: int
    where: str                   # the device whose batch this is, and how it was found

    def command(self, dataset: str, epochs: int) -> str:
        """The fine-tune command, TinyLLaVA_Factory's flags (``tinyllava/train/train.py``)."""
        llm, vision, connector = self.tune
        lora = (f"    --lora_r {self.lora_r} --lora_alpha {self.lora_alpha} \\\n"
                if "lora" in (llm, vision) else "")
        gpus = f"--num_gpus {self.gpus} " if self.gpus > 1 else ""
        return (f"deepspeed {gpus}tinyllava/train/train.py --deepspeed ./scripts/zero2.json \\\n"
                f"    --data_path {dataset}/train.json --image_folder {dataset}/images \\\n"
                f"    --{self.precision} True --training_recipe common \\\n"
                f"    --tune_type_llm {llm} --tune_type_vision_tower {vision} --tune_type_connector {connector} \\\n"
                f"{lora}"
                f"    --per_device_train_batch_size {self.per_device_batch} "
                f"--gradient_accumulation_steps {self.accumulation} \\\n"
                f"    --model_max_length {self.model_max_length} --gradient_checkpointing True \\\n"
                f"    --num_train_epochs {epochs}")


def plan_launch(*, per_device_batch: int, gpus: int, global_batch: int, lengths: Sequence[float],
                length_share: float, device_name: str, tune: tuple[str, str, str], lora_r: int,
                lora_alpha: int, where: str) -> Launch:
    per_device_batch = max(1, min(per_device_batch, global_batch // gpus))
    mml = length_at_share(lengths, length_share)
    covered = sum(1 for x in lengths if x <= mml) / max(len(lengths), 1)
    return Launch(per_device_batch=per_device_batch, gpus=gpus,
                  accumulation=accumulation(global_batch, per_device_batch, gpus), global_batch=global_batch,
                  model_max_length=mml, length_share=length_share, covered=covered,
                  precision=precision(device_name), tune=tune, lora_r=lora_r, lora_alpha=lora_alpha, where=where)
