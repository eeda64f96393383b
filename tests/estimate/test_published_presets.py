"""The presets the published checks need, built on the meta device, against their public parameter counts
(Phi-2 2.78B, StableLM-2-1.6B 1.64B, Qwen2-1.5B 1.54B; SigLIP so400m 428.2M, CLIP-L-336 303.5M)."""
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
pytest.importorskip("torch")

from harness.estimate.architecture import build_meta  # noqa: E402
from harness.target.presets import TARGET_PRESETS  # noqa: E402


@pytest.mark.slow
@pytest.mark.parametrize("name, lm_m, vision_m", [("tinyllava-phi-2-siglip", 2779.7, 428.2),
                                                  ("tinyllava-phi-2-clip", 2779.7, 303.5),
                                                  ("tinyllava-stablelm-2-1.6b-siglip", 1644.5, 428.2),
                                                  ("tinyllava-qwen2-1.5b-siglip", 1543.7, 428.2)])
def test_preset_sizes(name, lm_m, vision_m):
    model = build_meta(TARGET_PRESETS[name])
    assert sum(p.numel() for p in model.language_model.parameters()) / 1e6 == pytest.approx(lm_m, abs=0.5)
    assert sum(p.numel() for p in model.vision_tower.parameters()) / 1e6 == pytest.approx(vision_m, abs=0.5)


@pytest.mark.slow
def test_openecad_published_fine_tune_inside_the_range():
    """OpenECADv2-0.89B, LoRA r128 on both towers, 100K samples, 1 epoch, 2x RTX 4090: about 2 hours."""
    from harness.estimate.architecture import architecture
    from harness.estimate.devices import resolve_device
    from harness.estimate.training import Workload, assumed_mfu, estimate_rows

    spec = TARGET_PRESETS["openecad-0.89b"]
    arch = architecture(spec)
    row = estimate_rows(arch=arch, work=Workload(samples=100_000, epochs=1, tokens=(arch.image_tokens + 400,),
                                                 source="test"),
                        devices=[resolve_device("RTX 4090")], gpus=2, batch_size=4, dtype="fp16",
                        mfu=assumed_mfu(), max_length=spec.max_length)[0]
    published = 2 * 3600
    assert row["total_seconds_low"] <= published <= row["total_seconds_high"]
    assert 1 / 1.5 <= row["total_seconds"] / published <= 1.5
    assert row["fits"] is True
