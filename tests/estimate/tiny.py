"""Tiny TinyLLaVA-shaped targets built in the tests: a 2-layer Llama-family LM and a tiny SigLIP."""
from __future__ import annotations

import json
from pathlib import Path

from harness.target.presets import Recipe, TargetSpec

TEXT = {"model_type": "llama", "vocab_size": 1000, "hidden_size": 256, "intermediate_size": 688,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "max_position_embeddings": 4096, "tie_word_embeddings": False}
VISION = {"model_type": "siglip_vision_model", "hidden_size": 128, "intermediate_size": 512, "num_hidden_layers": 2,
          "num_attention_heads": 4, "patch_size": 16, "image_size": 224}
RECIPES = {"lora both": Recipe(llm="lora", vision="lora", lora_r=8, lora_alpha=16),
           "finetune": Recipe(llm="full", vision="frozen", connector="full"),
           "pretrain": Recipe(llm="frozen", vision="frozen", connector="full")}


def tiny(recipe: str = "lora both", *, eager: bool = False, **over) -> TargetSpec:
    """``eager``: attention as plain matmuls, so a FLOP counter sees the cores."""
    attn = {"attn_implementation": "eager"} if eager else {}
    return TargetSpec(name=f"tiny {recipe}", text_config={**TEXT, **attn}, vision_config={**VISION, **attn},
                      recipe=RECIPES[recipe], max_length=4096, **over)


def tiny_config_json(folder: Path) -> Path:
    """A TinyLLaVA config.json for the tiny model (what ``--target PATH`` reads)."""
    folder.mkdir(parents=True, exist_ok=True)
    f = folder / "config.json"
    f.write_text(json.dumps({"text_config": TEXT, "vision_config": VISION, "connector_type": "mlp2x_gelu",
                             "tune_type_llm": "lora", "tune_type_vision_tower": "frozen", "lora_r": 8,
                             "lora_alpha": 16, "tokenizer_model_max_length": 4096}))
    return f
