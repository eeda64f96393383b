"""Target presets as plain data: the language model's ``transformers`` config, the vision tower's config,
the connector, the image tokens and the training recipe. The names are those of
``harness.estimate.flops.PRESETS`` (plus measured-only ones), so every tool speaks of the same models.

Sources:
- ``openecad-0.89b``: OpenECADv2-SigLIP-0.89B is TinyLLaVA-OpenELM-450M-SigLIP-0.89B fine-tuned with LoRA
  (the architecture as ``harness.estimate.flops`` records it: OpenELM-450M, 20 layers, width 1536, head
  dim 64, GQA 4:1, vocabulary 32,000, tied embeddings; SigLIP so400m patch14-384, 27 layers; connector
  mlp2x_gelu; LoRA r 128, alpha 256 on the LM and vision blocks). OpenELM is not in ``transformers``
  (it needs the hub's remote code, which we never download), and its layer-wise scaling makes blocks
  unequal, which the per-block fit cannot cut; so it is measured as a Llama with uniform blocks of
  OpenELM's mean shape: query width 1,152 and KV width 288 (24 / 6 heads of 48: transformers wants
  the width a multiple of the heads; OpenELM's mean is 1,165 / 291 in heads of 64), FFN 3,456 (its mean),
  GLU and RMSNorm as OpenELM; its q/k norms are left out. Built: LM 456.2M parameters (OpenELM 457.2M),
  vision 428.2M, connector 4.1M: 0.889B in all.
- ``tinyllava-qwen2-0.5b-siglip``: TinyLLaVA-Qwen2-0.5B-SigLIP: Qwen2-0.5B's public config.json (24 layers,
  hidden 896, intermediate 4864, 14 heads, 2 KV heads, vocabulary 151,936, tied, rope theta 1e6) and
  SigLIP so400m patch14-384; TinyLLaVA's fine-tune recipe: LLM and connector full, vision frozen.
- ``tinyllava-tinyllama-1.1b-siglip``: TinyLLaVA-TinyLlama-1.1B-SigLIP: TinyLlama-1.1B's config.json
  (22 layers, hidden 2048, intermediate 5632, 32 heads, 4 KV heads, vocabulary 32,000, untied) and
  SigLIP so400m patch14-384; the same fine-tune recipe.
- ``tinyllava-phi-2-siglip`` / ``tinyllava-phi-2-clip`` (TinyLLaVA-Phi-2-SigLIP-3.1B and its CLIP-L-336
  twin): microsoft/phi-2's config.json (phi, 32 layers, hidden 2560, intermediate 10240, 32 heads, partial
  rotary 0.4, vocabulary 51,200, untied, gelu_new MLP without GLU); context 3072 as TinyLLaVA trains it.
- ``tinyllava-stablelm-2-1.6b-siglip``: stabilityai/stablelm-2-1_6b's config.json (stablelm, 24 layers,
  hidden 2048, intermediate 5632, 32 heads and KV heads, partial rotary 0.25, qkv bias, vocabulary
  100,352, untied).
- ``tinyllava-qwen2-1.5b-siglip``: Qwen/Qwen2-1.5B's config.json (28 layers, hidden 1536, intermediate
  8960, 12 heads, 2 KV heads, vocabulary 151,936, tied, rope theta 1e6).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness.errors import UsageError

TUNE_TYPES = ("full", "lora", "frozen")

# google/siglip-so400m-patch14-384 vision_config (config.json)
SIGLIP_SO400M_384 = {"model_type": "siglip_vision_model", "hidden_size": 1152, "intermediate_size": 4304,
                     "num_hidden_layers": 27, "num_attention_heads": 16, "patch_size": 14, "image_size": 384,
                     "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": 1e-6}
# openai/clip-vit-large-patch14-336 vision_config (config.json)
CLIP_L_336 = {"model_type": "clip_vision_model", "hidden_size": 1024, "intermediate_size": 4096,
              "num_hidden_layers": 24, "num_attention_heads": 16, "patch_size": 14, "image_size": 336,
              "hidden_act": "quick_gelu", "projection_dim": 768, "layer_norm_eps": 1e-5}


@dataclass(frozen=True)
class Recipe:
    """TinyLLaVA's ``tune_type_llm`` / ``tune_type_vision_tower`` / ``tune_type_connector`` and LoRA."""

    llm: str = "full"
    vision: str = "frozen"
    connector: str = "full"
    lora_r: int = 128
    lora_alpha: int = 256

    def __post_init__(self) -> None:
        for part in (self.llm, self.vision, self.connector):
            if part not in TUNE_TYPES:
                raise UsageError(f"tune type {part!r}: must be one of {', '.join(TUNE_TYPES)}")

    def describe(self) -> str:
        lora = f", LoRA r {self.lora_r} alpha {self.lora_alpha}" if "lora" in (self.llm, self.vision) else ""
        return f"llm {self.llm}, vision {self.vision}, connector {self.connector}{lora}"


@dataclass(frozen=True)
class TargetSpec:
    name: str
    text_config: dict                    # a transformers config dict with "model_type"
    vision_config: dict                  # siglip_vision_model | clip_vision_model
    connector_type: str = "mlp2x_gelu"   # Linear(vision hidden -> LM hidden), GELU, Linear(LM -> LM)
    recipe: Recipe = field(default_factory=Recipe)
    vision_feature_layer: int = -2
    max_length: int = 2048
    gradient_checkpointing: bool = True

    @property
    def image_tokens(self) -> int:
        """Tokens passed to the LM: TinyLLaVA's "patch" strategy drops the first position (CLIP's class
        token; SigLIP has none, so one patch goes: 729 -> 728)."""
        v = self.vision_config
        patches = (v["image_size"] // v["patch_size"]) ** 2
        return patches if "clip" in str(v.get("model_type", "")) else patches - 1

    @property
    def image_size(self) -> int:
        return int(self.vision_config["image_size"])

    @property
    def llm_layers(self) -> int:
        return int(self.text_config["num_hidden_layers"])

    @property
    def vision_layers(self) -> int:
        return int(self.vision_config["num_hidden_layers"])

    def cut(self, llm_layers: int, vision_layers: int) -> TargetSpec:
        """The same model with ``num_hidden_layers`` of each tower cut (for the per-block fit)."""
        return replace(self, text_config={**self.text_config, "num_hidden_layers": llm_layers},
                       vision_config={**self.vision_config, "num_hidden_layers": vision_layers})


def _openelm_450m_uniform() -> dict:
    return {"model_type": "llama", "vocab_size": 32_000, "hidden_size": 1536, "intermediate_size": 3456,
            "num_hidden_layers": 20, "num_attention_heads": 24, "num_key_value_heads": 6, "head_dim": 48,
            "max_position_embeddings": 2048, "rms_norm_eps": 1e-6, "rope_theta": 10_000.0,
            "tie_word_embeddings": True, "hidden_act": "silu"}


def _qwen2_0_5b() -> dict:
    return {"model_type": "qwen2", "vocab_size": 151_936, "hidden_size": 896, "intermediate_size": 4864,
            "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2,
            "max_position_embeddings": 32_768, "rms_norm_eps": 1e-6, "rope_theta": 1_000_000.0,
            "tie_word_embeddings": True, "hidden_act": "silu"}


def _tinyllama_1_1b() -> dict:
    return {"model_type": "llama", "vocab_size": 32_000, "hidden_size": 2048, "intermediate_size": 5632,
            "num_hidden_layers": 22, "num_attention_heads": 32, "num_key_value_heads": 4,
            "max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "rope_theta": 10_000.0,
            "tie_word_embeddings": False, "hidden_act": "silu"}


def _phi_2() -> dict:
    return {"model_type": "phi", "vocab_size": 51_200, "hidden_size": 2560, "intermediate_size": 10_240,
            "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32,
            "partial_rotary_factor": 0.4, "max_position_embeddings": 2048, "layer_norm_eps": 1e-5,
            "rope_theta": 10_000.0, "hidden_act": "gelu_new", "tie_word_embeddings": False}


def _stablelm_2_1_6b() -> dict:
    return {"model_type": "stablelm", "vocab_size": 100_352, "hidden_size": 2048, "intermediate_size": 5632,
            "num_hidden_layers": 24, "num_attention_heads": 32, "num_key_value_heads": 32,
            "partial_rotary_factor": 0.25, "use_qkv_bias": True, "max_position_embeddings": 4096,
            "layer_norm_eps": 1e-5, "rope_theta": 10_000.0, "hidden_act": "silu", "tie_word_embeddings": False}


def _qwen2_1_5b() -> dict:
    return {**_qwen2_0_5b(), "hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28,
            "num_attention_heads": 12, "num_key_value_heads": 2}


TARGET_PRESETS: dict[str, TargetSpec] = {
    "openecad-0.89b": TargetSpec(name="openecad-0.89b", text_config=_openelm_450m_uniform(),
                                 vision_config=SIGLIP_SO400M_384,
                                 recipe=Recipe(llm="lora", vision="lora", connector="full", lora_r=128,
                                               lora_alpha=256)),
    "tinyllava-qwen2-0.5b-siglip": TargetSpec(name="tinyllava-qwen2-0.5b-siglip", text_config=_qwen2_0_5b(),
                                              vision_config=SIGLIP_SO400M_384),
    "tinyllava-tinyllama-1.1b-siglip": TargetSpec(name="tinyllava-tinyllama-1.1b-siglip",
                                                  text_config=_tinyllama_1_1b(), vision_config=SIGLIP_SO400M_384),
    "tinyllava-phi-2-siglip": TargetSpec(name="tinyllava-phi-2-siglip", text_config=_phi_2(),
                                         vision_config=SIGLIP_SO400M_384, max_length=3072),
    "tinyllava-phi-2-clip": TargetSpec(name="tinyllava-phi-2-clip", text_config=_phi_2(), vision_config=CLIP_L_336,
                                       max_length=3072),
    "tinyllava-stablelm-2-1.6b-siglip": TargetSpec(name="tinyllava-stablelm-2-1.6b-siglip",
                                                   text_config=_stablelm_2_1_6b(), vision_config=SIGLIP_SO400M_384),
    "tinyllava-qwen2-1.5b-siglip": TargetSpec(name="tinyllava-qwen2-1.5b-siglip", text_config=_qwen2_1_5b(),
                                              vision_config=SIGLIP_SO400M_384),
}


def from_tinyllava_config(path: Path) -> TargetSpec:
    """A TinyLLaVA model folder or its ``config.json``: ``text_config``, ``vision_config``,
    ``connector_type``, ``tune_type_*``, ``lora_r``, ``lora_alpha`` (absent keys take TinyLLaVA's defaults)."""
    from transformers import CONFIG_MAPPING  # deferred: --help stays light

    path = Path(path)
    file = path / "config.json" if path.is_dir() else path
    try:
        cfg = json.loads(file.read_text())
    except (OSError, ValueError) as e:
        raise UsageError(f"--target {path}: cannot read a TinyLLaVA config.json ({e})") from None
    text, vision = cfg.get("text_config"), cfg.get("vision_config")
    if not isinstance(text, dict) or not isinstance(vision, dict) or "model_type" not in text:
        raise UsageError(f"--target {file}: needs text_config (with model_type) and vision_config")
    vision = {**(CLIP_L_336 if "clip" in str(vision.get("model_type", "")) else SIGLIP_SO400M_384), **vision}
    for part in (text, vision):
        if part["model_type"] not in CONFIG_MAPPING:
            raise UsageError(f"--target {file}: model_type {part['model_type']!r} is not in the installed "
                             "transformers (remote code is never downloaded); a preset stands in for OpenELM")
    if cfg.get("connector_type", "mlp2x_gelu") != "mlp2x_gelu":
        raise UsageError(f"--target {file}: connector {cfg['connector_type']!r}; only mlp2x_gelu is built")
    vision_tune = cfg.get("tune_type_vision_tower", "frozen")
    recipe = Recipe(llm=cfg.get("tune_type_llm", "full"),
                    vision="full" if vision_tune == "partially-tune" else vision_tune,
                    connector=cfg.get("tune_type_connector", "full"),
                    lora_r=int(cfg.get("lora_r") or 128), lora_alpha=int(cfg.get("lora_alpha") or 256))
    return TargetSpec(name=str(cfg.get("_name_or_path") or file.parent.name), text_config=text,
                      vision_config=vision, recipe=recipe,
                      vision_feature_layer=int(cfg.get("vision_feature_layer", -2)),
                      max_length=int(cfg.get("tokenizer_model_max_length") or 2048))


def resolve_target(target: str) -> TargetSpec:
    """A preset name or a path to a TinyLLaVA folder / config.json."""
    if target in TARGET_PRESETS:
        return TARGET_PRESETS[target]
    if Path(target).exists():
        return from_tinyllava_config(Path(target))
    raise UsageError(f"--target {target!r}: not a preset ({', '.join(TARGET_PRESETS)}) nor a TinyLLaVA config")


def with_recipe(spec: TargetSpec, *, llm: str | None = None, vision: str | None = None,
                connector: str | None = None, lora_rank: int | None = None) -> TargetSpec:
    """The target with the recipe flags (``--tune-llm`` ...) applied over its own recipe; None keeps a part.
    A new rank brings alpha = 2 x rank, as TinyLLaVA's scripts pair them (r 128, alpha 256)."""
    over = {k: v for k, v in (("llm", llm), ("vision", vision), ("connector", connector),
                              ("lora_r", lora_rank)) if v is not None}
    if lora_rank is not None:
        over["lora_alpha"] = 2 * lora_rank
    return replace(spec, recipe=replace(spec.recipe, **over)) if over else spec


def configured(cfg) -> TargetSpec:
    """The target a command's config names (``cfg.target``) with its recipe flags applied (``tune_llm``,
    ``tune_vision``, ``tune_connector``, ``lora_rank``): the one reading of those options, bench and estimate."""
    return with_recipe(resolve_target(cfg.target), llm=cfg.tune_llm, vision=cfg.tune_vision,
                       connector=cfg.tune_connector, lora_rank=cfg.lora_rank)
