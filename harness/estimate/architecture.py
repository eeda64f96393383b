"""The target model as ``harness estimate`` counts it: built for real (``harness.target.model``: the
``transformers`` towers from their configs, the connector, peft's LoRA where the recipe puts it) on the
meta device, so no weight is allocated, then read as a list of matmuls.

Each matmul is an ``Op``: its tower, the positions it sees (LM tokens, vision positions, image tokens,
or one for SigLIP's pooling probe), its (in, out) shape, whether its weight trains, and its place in the
forward order (``stage``): vision embeddings, each vision block (attention in, core, out, MLP in, out),
connector, each LM block, the head. LoRA's A and B come right after the linear they adapt. The attention
cores (QK^T and AV) are ops without weights, sized from the configs. Whether a gradient reaches an op is
decided from this order in ``harness.estimate.counting``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from harness.target.presets import TargetSpec

# position in a block of a linear's last name part: attention in (0), core (0.5), out (1), MLP in (2), out (3)
_SUBSTAGE = {"q_proj": 0, "k_proj": 0, "v_proj": 0, "qkv_proj": 0, "in_proj": 0, "o_proj": 1, "out_proj": 1,
             "dense": 1, "gate_proj": 2, "up_proj": 2, "fc1": 2, "down_proj": 3, "fc2": 3}
_TOWERS = {"vision_tower": 0, "connector": 1, "language_model": 2}
_LAYER = re.compile(r"\.layers\.(\d+)\.")


@dataclass(frozen=True)
class Op:
    name: str
    tower: str                 # "vision_tower" | "connector" | "language_model"
    stage: tuple               # forward order: (tower, block, position in block)
    macs_per_position: float   # multiply-accumulates per position it sees (per token for LM ops)
    positions: str             # "tokens" (LM context), "vision", "image" (connector), "one"
    trainable: bool
    on_path: bool              # its output reaches the loss
    quadratic: bool = False    # an attention core: MACs per position x positions (set per call)


@dataclass(frozen=True)
class Architecture:
    name: str
    ops: tuple[Op, ...]
    params: int
    trainable_params: int
    vision_positions: int      # patches (+ CLIP's class token)
    image_tokens: int
    llm_layers: int
    vision_layers: int
    vision_used_layers: int    # blocks whose output reaches the LM (vision_feature_layer)
    checkpointing: bool        # the LM's blocks (what ``harness.target.model.build`` checkpoints)
    dims: dict                 # widths the memory model reads: d, q, kv, ffn, vocab, w, mlp, lora_r, ...


def build_meta(spec: TargetSpec):
    """The model on the meta device with its recipe applied (same classes as the measured build)."""
    import torch

    from harness.target.model import TargetVLM, apply_recipe

    with torch.device("meta"):
        model = TargetVLM(spec)
    apply_recipe(model)
    return model


def _stage(name: str, tower: str, vision_layers: int, llm_layers: int) -> tuple:
    t = _TOWERS[tower]
    m = _LAYER.search(name)
    parts = name.split(".")
    if m is None:       # outside the blocks: embeddings before them, heads and final norms after
        after = any(p in ("head", "lm_head", "post_layernorm") for p in parts) or tower == "connector"
        block = (vision_layers if t == 0 else llm_layers) if after else -1
        if tower == "connector":
            block = int(parts[-1]) if parts[-1].isdigit() else 0
        return (t, block, 0.0)
    lora = 0.3 if "lora_A" in parts else 0.6 if "lora_B" in parts else 0.0
    base = next((p for p in reversed(parts) if p in _SUBSTAGE), None)
    return (t, int(m.group(1)), float(_SUBSTAGE.get(base, 0)) + lora)


_BUILT: dict[str, Architecture] = {}     # repr(spec) -> architecture: a meta build takes seconds


def architecture(spec: TargetSpec) -> Architecture:
    """Every matmul of one training sample's forward, read from the meta-built model."""
    key = repr(spec)
    if key not in _BUILT:
        _BUILT[key] = _read(spec)
    return _BUILT[key]


def _read(spec: TargetSpec) -> Architecture:
    from torch import nn

    model = build_meta(spec)
    vcfg, tcfg = model.vision_tower.config, model.language_model.config
    V, L = int(vcfg.num_hidden_layers), int(tcfg.num_hidden_layers)
    clip = "clip" in vcfg.model_type
    n = (vcfg.image_size // vcfg.patch_size) ** 2 + (1 if clip else 0)
    fl = spec.vision_feature_layer
    used = fl if fl >= 0 else V + 1 + fl          # hidden_states[k] is the output of block k - 1
    ops = []
    for name, mod in model.named_modules():
        tower = name.split(".")[0]
        if tower not in _TOWERS:
            continue
        stage = _stage(name, tower, V, L)
        on_path = not (tower == "vision_tower" and (stage[1] >= used or stage[1] >= V))
        train = any(p.requires_grad for p in mod.parameters(recurse=False))
        if isinstance(mod, nn.Linear):
            pos = {"vision_tower": "vision", "connector": "image", "language_model": "tokens"}[tower]
            if ".head." in f".{name}.":            # SigLIP's pooling probe: one query position
                pos = "one"
            ops.append(Op(name=name, tower=tower, stage=stage, macs_per_position=mod.in_features * mod.out_features,
                          positions=pos, trainable=train, on_path=on_path))
        elif isinstance(mod, nn.Conv2d):
            k = mod.kernel_size[0] * mod.kernel_size[1]
            ops.append(Op(name=name, tower=tower, stage=stage, positions="vision", trainable=train,
                          on_path=on_path, macs_per_position=mod.in_channels * k * mod.out_channels))
        elif isinstance(mod, nn.MultiheadAttention):   # the probe's q (1 position), k and v (every patch)
            e = mod.embed_dim
            ops.append(Op(name=name + ".q", tower=tower, stage=stage, macs_per_position=e * e, positions="one",
                          trainable=train, on_path=on_path))
            ops.append(Op(name=name + ".kv", tower=tower, stage=stage, macs_per_position=2 * e * e,
                          positions="vision", trainable=train, on_path=on_path))
    heads = int(tcfg.num_attention_heads)
    head_dim = int(getattr(tcfg, "head_dim", None) or tcfg.hidden_size // heads)
    kv_heads = int(getattr(tcfg, "num_key_value_heads", None) or heads)
    w = int(vcfg.hidden_size)
    for i in range(V):        # QK^T and AV: 2 x positions x width MACs per position, non-causal
        ops.append(Op(name=f"vision_tower.layers.{i}.attention_core", tower="vision_tower", stage=(0, i, 0.5),
                      macs_per_position=2 * w, positions="vision", trainable=False,
                      on_path=i < used, quadratic=True))
    for i in range(L):        # causal: half the square (flash kernels skip the masked blocks)
        ops.append(Op(name=f"language_model.layers.{i}.attention_core", tower="language_model",
                      stage=(2, i, 0.5), macs_per_position=heads * head_dim, positions="tokens",
                      trainable=False, on_path=True, quadratic=True))
    ops.sort(key=lambda o: o.stage)
    rec = spec.recipe
    lora_linears = sum(1 for o in ops if o.stage[1] == 0 and ".lora_A" in o.name and o.tower == "language_model")
    vis_lora = sum(1 for o in ops if o.stage[1] == 0 and ".lora_A" in o.name and o.tower == "vision_tower")
    dims = {"d": int(tcfg.hidden_size), "q": heads * head_dim, "kv": kv_heads * head_dim,
            "ffn": int(tcfg.intermediate_size), "vocab": int(tcfg.vocab_size),
            "glu": tcfg.model_type not in ("phi", "gpt2", "gpt_neox"),
            "w": w, "mlp": int(vcfg.intermediate_size), "lora_r": rec.lora_r,
            "llm_lora_linears": lora_linears, "vision_lora_linears": vis_lora}
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return Architecture(name=spec.name, ops=tuple(ops), params=params, trainable_params=trainable,
                        vision_positions=n, image_tokens=spec.image_tokens, llm_layers=L, vision_layers=V,
                        vision_used_layers=used, checkpointing=spec.gradient_checkpointing, dims=dims)
