"""``harness estimate`` against published TinyLLaVA-family training times.

For each published run: the preset, the recipe, the samples, the GPUs, and the hours its authors report;
the estimate's central figure and range (assumed MFU 15-35 %, central 25 %), and the ratio
estimate / published. A run passes when the published time lies inside the range and the central
estimate is within 1.5x of it. Beside it, the classic 6 x parameters x tokens rule at the same MFU: it
charges weight gradients to frozen weights and backward to towers nothing trains under, and ignores the
checkpoint recompute, LoRA's matmuls and attention.

Text tokens per sample are assumptions (the datasets are not here): LLaVA-1.5's 665K mix about 300
(short VQA answers, long ShareGPT conversations), its 558K BLIP captions about 30, OpenECADv2's code
answers about 400. Sources are in README.md ("harness estimate").

    python benchmarks/bench_estimate_published.py
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, replace

from harness.estimate.architecture import architecture
from harness.estimate.devices import resolve_device
from harness.estimate.training import Workload, assumed_mfu, estimate_rows
from harness.target.presets import TARGET_PRESETS, Recipe

FINETUNE = Recipe(llm="full", vision="frozen", connector="full")
PRETRAIN = Recipe(llm="frozen", vision="frozen", connector="full")
ISSUE_67 = "https://github.com/TinyLLaVA/TinyLLaVA_Factory/issues/67"
OPENECAD = "https://huggingface.co/datasets/Yuki-Kokomi/OpenECADv2-Datasets"


@dataclass(frozen=True)
class Published:
    label: str
    preset: str
    recipe: Recipe | None        # None: the preset's own
    samples: int
    text_tokens: int
    device: str
    gpus: int
    hours: float
    source: str


RUNS = [
    Published("OpenECADv2-0.89B LoRA r128 fine-tune", "openecad-0.89b", None, 100_000, 400, "RTX 4090", 2, 2.0,
              OPENECAD),
    Published("TinyLlama-1.1B+SigLIP fine-tune (665K)", "tinyllava-tinyllama-1.1b-siglip", FINETUNE, 665_000, 300,
              "A100 40GB", 4, 6.5, ISSUE_67),
    Published("StableLM-2-1.6B+SigLIP fine-tune (665K)", "tinyllava-stablelm-2-1.6b-siglip", FINETUNE, 665_000, 300,
              "A100 40GB", 4, 7.5, ISSUE_67),
    Published("Phi-2+SigLIP fine-tune (665K)", "tinyllava-phi-2-siglip", FINETUNE, 665_000, 300, "A100 40GB", 4, 14.0,
              ISSUE_67),
    Published("Phi-2+CLIP-L-336 fine-tune (665K)", "tinyllava-phi-2-clip", FINETUNE, 665_000, 300, "A100 40GB", 4,
              13.0, ISSUE_67),
    Published("TinyLlama-1.1B+SigLIP pretrain (558K)", "tinyllava-tinyllama-1.1b-siglip", PRETRAIN, 558_000, 30,
              "A100 40GB", 4, 2.5, ISSUE_67),
    Published("StableLM-2-1.6B+SigLIP pretrain (558K)", "tinyllava-stablelm-2-1.6b-siglip", PRETRAIN, 558_000, 30,
              "A100 40GB", 4, 2.6, ISSUE_67),
    Published("Phi-2+SigLIP pretrain (558K)", "tinyllava-phi-2-siglip", PRETRAIN, 558_000, 30, "A100 40GB", 4, 5.0,
              ISSUE_67),
    Published("Phi-2+CLIP-L-336 pretrain (558K)", "tinyllava-phi-2-clip", PRETRAIN, 558_000, 30, "A100 40GB", 4, 4.0,
              ISSUE_67),
]


def check(run: Published) -> dict:
    spec = TARGET_PRESETS[run.preset]
    if run.recipe is not None:
        spec = replace(spec, recipe=run.recipe)
    arch = architecture(spec)
    tokens = min(spec.max_length, arch.image_tokens + run.text_tokens)
    device = resolve_device(run.device)
    mfu = assumed_mfu()
    row = estimate_rows(arch=arch, work=Workload(samples=run.samples, epochs=1, tokens=(tokens,), source="bench"),
                        devices=[device], gpus=run.gpus, batch_size=4, dtype="bf16", mfu=mfu,
                        max_length=spec.max_length)[0]
    six_nt = 6 * arch.params * tokens * run.samples / (run.gpus * mfu.central * device.peak_tflops * 1e12)
    h = 3600.0
    inside = row["total_seconds_low"] / h <= run.hours <= row["total_seconds_high"] / h
    ratio = row["total_seconds"] / h / run.hours
    return {"run": run, "central_h": row["total_seconds"] / h, "low_h": row["total_seconds_low"] / h,
            "high_h": row["total_seconds_high"] / h, "ratio": ratio, "six_nt_ratio": six_nt / h / run.hours,
            "ok": inside and 1 / 1.5 <= ratio <= 1.5, "tflops": row["flops_per_sample"] / 1e12}


def main() -> int:
    print(f"{'published run':42s} {'GPUs':>13s} {'published':>9s} {'estimate':>9s} {'range':>15s} "
          f"{'ratio':>6s} {'6NT ratio':>9s}  ok")
    results = [check(r) for r in RUNS]
    for res in results:
        r = res["run"]
        print(f"{r.label:42s} {f'{r.gpus}x {r.device}':>13s} {r.hours:8.1f}h {res['central_h']:8.2f}h "
              f"{res['low_h']:6.2f}-{res['high_h']:6.2f}h {res['ratio']:6.2f} {res['six_nt_ratio']:9.2f}  "
              f"{'yes' if res['ok'] else 'NO'}")
    print("\nsources: " + ", ".join(sorted({r.source for r in RUNS})))
    return 0 if all(res["ok"] for res in results) else 1


if __name__ == "__main__":
    sys.exit(main())
