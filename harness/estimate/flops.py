"""Target-model training time from FLOPs: model presets, device peaks and an assumed MFU range.

The preset ``openecad-0.89b`` is TinyLLaVA's OpenECADv2-SigLIP-0.89B fine-tuned with LoRA:
- language model OpenELM-450M: 20 layers, width 1536, head dim 64, GQA (4 query heads per KV head),
  layer-wise scaling of heads (qkv multiplier 0.5 -> 1.0) and FFN (multiplier 0.5 -> 4.0, GLU, divisor
  256), vocabulary 32,000, tied embeddings: 457M parameters;
- vision tower SigLIP so400m patch14-384: 27 layers, width 1152, MLP 4304, 729 patches (728 passed to the
  LM), attention-pooling head: 428M parameters, ~666 GFLOPs per image forward in the encoder (+4 in
  the head, which Hugging Face's forward also runs);
- connector Linear(1152 -> 1536), GELU, Linear(1536 -> 1536): 4.1M, fully trained;
- LoRA rank 128 on every linear layer of the LM blocks and the vision encoder blocks (the tied LM head
  and the pooling head, whose output the LM never sees, excluded): 119M, fp16, gradient checkpointing on.

Step cost (frozen weights get no weight gradients, so not 6*N*T):
  step = 3 x forward(base + LoRA)      forward, activation backward (~1 forward), recompute (1 forward)
       + attention-core backward extra (scores have two inputs: backward ~2x their forward)
       + LoRA weight gradients (~1 LoRA forward) + connector weight gradients (~1 connector forward)
Time = step FLOPs / (MFU x device dense 16-bit peak).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Dense 16-bit tensor-core peaks, TFLOP/s (vendor data sheets, no sparsity).
DEVICE_PEAK_TFLOPS: dict[str, float] = {
    "A100": 312.0,
    "H100 SXM": 989.0,
    "H100 PCIe": 756.0,
    "H200": 989.0,
    "L40S": 362.0,
    "L4": 121.0,
    "RTX 4090": 165.0,
    "RTX 3090": 71.0,
    "Apple M-series": 13.5,   # ~10-17 depending on chip; the midpoint
}
DEFAULT_MFU = (0.15, 0.35)
CHARS_PER_TOKEN = 3.5          # Llama-family tokenizer on code, when no tokenizer is given


def make_divisible(v: float, divisor: int) -> int:
    """Round to the nearest multiple of ``divisor``, never more than 10% below ``v`` (OpenELM's rule)."""
    out = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * v else out


@dataclass(kw_only=True, frozen=True)
class LMSpec:
    name: str
    width: int
    head_dim: int
    vocab: int
    q_heads: tuple[int, ...]
    kv_heads: tuple[int, ...]
    ffn_dims: tuple[int, ...]             # GLU: the up projection is 2 x ffn_dim wide
    tied_embeddings: bool = True

    @property
    def layers(self) -> int:
        return len(self.q_heads)

    def linears(self) -> list[tuple[int, int]]:
        """(in, out) of every linear layer in the blocks, layer by layer."""
        d, h = self.width, self.head_dim
        out = []
        for q, kv, f in zip(self.q_heads, self.kv_heads, self.ffn_dims):
            out += [(d, (q + 2 * kv) * h), (q * h, d), (d, 2 * f), (f, d)]
        return out

    def params(self) -> int:
        norms = self.layers * (2 * self.width + 2 * self.head_dim) + self.width   # RMSNorms incl. q/k norm
        emb = self.vocab * self.width * (1 if self.tied_embeddings else 2)
        return sum(i * o for i, o in self.linears()) + norms + emb


@dataclass(kw_only=True, frozen=True)
class VisionSpec:
    name: str
    layers: int
    width: int
    mlp: int
    patch: int
    image_size: int
    used_patches: int

    @property
    def patches(self) -> int:
        return (self.image_size // self.patch) ** 2

    def linears(self) -> list[tuple[int, int]]:
        """(in, out) of the encoder's linear layers (q, k, v, o, fc1, fc2 per layer)."""
        w = self.width
        return [(w, w)] * 4 * self.layers + [(w, self.mlp), (self.mlp, w)] * self.layers

    def head_linears(self) -> list[tuple[int, int]]:
        """The attention-pooling head: in-projection (3 x w), out-projection, MLP."""
        w = self.width
        return [(w, 3 * w), (w, w), (w, self.mlp), (self.mlp, w)]

    def params(self) -> int:
        w = self.width
        lin = sum(i * o + o for i, o in self.linears() + self.head_linears())
        norms = (2 * self.layers + 2) * 2 * w
        embed = 3 * self.patch**2 * w + w + self.patches * w
        return lin + norms + embed + w    # + the head's probe vector

    def forward_flops(self) -> float:
        """One image: 2 FLOPs per MAC over patch embedding, linears and (non-causal) attention scores."""
        n, w = self.patches, self.width
        linear = 2 * n * sum(i * o for i, o in self.linears())
        attn = self.layers * 2 * 2 * n * n * w
        embed = 2 * n * 3 * self.patch**2 * w
        head = 2 * (n * 2 * w * w + 4 * w * w + 2 * w * self.mlp + 2 * n * w)   # k,v over all patches
        return float(linear + attn + embed + head)


@dataclass(kw_only=True, frozen=True)
class TargetModel:
    name: str
    lm: LMSpec
    vision: VisionSpec
    connector: tuple[tuple[int, int], ...]
    lora_rank: int
    dtype: str = "fp16"
    gradient_checkpointing: bool = True
    image_tokens: int = 728
    max_length: int = 2048

    def connector_params(self) -> int:
        return sum(i * o + o for i, o in self.connector)

    def params(self) -> int:
        return self.lm.params() + self.vision.params() + self.connector_params()

    def lora_params(self) -> tuple[int, int]:
        """(LM, vision) LoRA parameters: r x (in + out) per adapted linear."""
        r = self.lora_rank
        lm = sum(r * (i + o) for i, o in self.lm.linears())
        vis = sum(r * (i + o) for i, o in self.vision.linears())
        return lm, vis

    def trainable_params(self) -> int:
        return sum(self.lora_params()) + self.connector_params()


def openelm_450m() -> LMSpec:
    layers, d, hd, groups = 20, 1536, 64, 4
    qkv = [round(float(v), 2) for v in np.linspace(0.5, 1.0, layers)]
    ffn = [round(float(v), 2) for v in np.linspace(0.5, 4.0, layers)]
    q_heads = tuple(make_divisible(d * m, hd * groups) // hd for m in qkv)
    return LMSpec(name="OpenELM-450M", width=d, head_dim=hd, vocab=32_000, q_heads=q_heads,
                  kv_heads=tuple(q // groups for q in q_heads),
                  ffn_dims=tuple(make_divisible(m * d, 256) for m in ffn))


def siglip_so400m_384() -> VisionSpec:
    return VisionSpec(name="SigLIP so400m patch14-384", layers=27, width=1152, mlp=4304, patch=14,
                      image_size=384, used_patches=728)


def openecad_0_89b() -> TargetModel:
    return TargetModel(name="openecad-0.89b", lm=openelm_450m(), vision=siglip_so400m_384(),
                       connector=((1152, 1536), (1536, 1536)), lora_rank=128)


PRESETS = {"openecad-0.89b": openecad_0_89b}


def sample_tokens(prompt_chars: int, answer_chars: int, *, image_tokens: int = 728, max_length: int = 2048,
                  chars_per_token: float = CHARS_PER_TOKEN) -> tuple[int, int]:
    """(tokens in the LM context, answer tokens kept) for one sample: image tokens + prompt + answer,
    capped at ``max_length``; text tokens = ceil(chars / chars_per_token)."""
    prompt = math.ceil(prompt_chars / chars_per_token)
    answer = math.ceil(answer_chars / chars_per_token)
    total = min(max_length, image_tokens + prompt + answer)
    return total, max(0, total - image_tokens - prompt)


@dataclass(kw_only=True, frozen=True)
class StepCost:
    """FLOPs of one training sample (one image + its conversation) for the target model."""

    tokens: int
    forward: float
    lora_forward: float
    step: float
    lora_token_overhead: float     # LoRA forward / forward of the LM block linears, per token
    lora_image_overhead: float     # LoRA forward / whole vision-tower forward, per image


def sample_cost(model: TargetModel, tokens: int) -> StepCost:
    lm, vis, r = model.lm, model.vision, model.lora_rank
    lm_lin = 2 * tokens * sum(i * o for i, o in lm.linears())
    lm_head = 2 * tokens * lm.width * lm.vocab
    # causal attention: QK^T and AV, each T^2/2 MACs per query dim, 2 FLOPs per MAC
    lm_attn = sum(2 * tokens * tokens * q * lm.head_dim for q in lm.q_heads)
    vis_attn = vis.layers * 4 * vis.patches**2 * vis.width
    vis_fwd = vis.forward_flops()
    conn = 2 * vis.used_patches * sum(i * o for i, o in model.connector)
    lm_lora = 2 * tokens * sum(r * (i + o) for i, o in lm.linears())
    vis_lora = 2 * vis.patches * sum(r * (i + o) for i, o in vis.linears())
    forward = lm_lin + lm_head + lm_attn + vis_fwd + conn
    lora = lm_lora + vis_lora
    passes = 3 if model.gradient_checkpointing else 2
    step = passes * (forward + lora) + (lm_attn + vis_attn) + lora + conn
    return StepCost(tokens=tokens, forward=forward, lora_forward=lora, step=step,
                    lora_token_overhead=lm_lora / lm_lin,
                    lora_image_overhead=vis_lora / vis_fwd)


STEP_RULE = ("step FLOPs/sample = 3 x forward(base + LoRA) [forward, activation backward, checkpoint "
             "recompute] + attention-core backward extra + LoRA and connector weight gradients; frozen "
             "weights get no weight gradients")


def mean_step_flops(model: TargetModel, texts: list[tuple[int, int]], *,
                    chars_per_token: float = CHARS_PER_TOKEN, scale: float = 1.0) -> tuple[float, float]:
    """(mean step FLOPs per sample, mean LM tokens per sample) over (prompt_chars, answer_chars) pairs;
    ``scale`` multiplies the FLOPs (the --target-params override)."""
    if not texts:
        raise ValueError("no samples to estimate tokens from")
    cache: dict[int, float] = {}
    flops, toks = 0.0, 0
    for p, a in texts:
        t, _ = sample_tokens(p, a, image_tokens=model.image_tokens, max_length=model.max_length,
                             chars_per_token=chars_per_token)
        if t not in cache:
            cache[t] = sample_cost(model, t).step
        flops += cache[t]
        toks += t
    return flops / len(texts) * scale, toks / len(texts)


def target_rows(*, model: TargetModel, flops_per_sample: float, tokens_per_sample: float,
                conversations: list[tuple[str, int | None, int]], batch_size: int, epochs: int,
                mfu: tuple[float, float], loader_samples_per_s: float | None,
                devices: dict[str, float] | None = None, params_note: str = "") -> list[dict]:
    """ESTIMATES rows (basis "target") for every device x MFU bound x scale.

    conversations: (scale, models, train conversations) triples. The loader keeps a device fed when the
    measured loader throughput is at least the samples/s the device consumes at that MFU.
    """
    rows = []
    for device, peak in (devices or DEVICE_PEAK_TFLOPS).items():
        for m in mfu:
            achieved = m * peak * 1e12
            sample_s = flops_per_sample / achieved
            needed = 1.0 / sample_s
            fed = None if loader_samples_per_s is None else loader_samples_per_s >= needed
            for scale, models, conv in conversations:
                steps = math.ceil(conv / batch_size)
                rows.append({
                    "basis": "target", "models": models, "conversations": conv, "batch_size": batch_size,
                    "epochs": epochs, "steps_per_epoch": steps, "step_seconds": sample_s * batch_size,
                    "total_seconds": steps * batch_size * sample_s * epochs, "scale": scale,
                    "device": device, "mfu": m,
                    "needed_samples_per_s": needed, "loader_samples_per_s": loader_samples_per_s,
                    "loader_keeps_up": fed,
                    "assumption": (
                        f"{model.name}{params_note}: {flops_per_sample / 1e12:.2f} TFLOPs/sample "
                        f"({tokens_per_sample:.0f} LM tokens incl. {model.image_tokens} image tokens, "
                        f"text at {CHARS_PER_TOKEN} chars/token, cap {model.max_length}); {STEP_RULE}; "
                        f"time = FLOPs / ({m:.0%} MFU x {peak:g} TFLOP/s dense 16-bit peak of {device})"),
                })
    return rows
