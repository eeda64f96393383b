"""Peak memory per GPU of a training step, modelled as ``harness.target.model.build`` trains: every tensor in
the training dtype (``e`` bytes), plain data parallel (each GPU holds the whole model).

  fixed      = weights (all parameters, LoRA included) + gradients of the trainable ones
               + AdamW's two states per trainable parameter
  per sample = activations, for T LM positions and n vision positions:
    LM, checkpointed: each block's input kept (L x T d), one block recomputed during its backward
      (T x [4d + 3q + 2kv + 5 ffn (GLU; 3 ffn otherwise) + r per LoRA linear], the widest gradient
      included), the spliced input embeddings and gradients in flight (3 T d),
      and the loss: logits in the dtype plus fp32 log-softmax, its gradient and the cast back
      (T x vocab x (e + 12)), whichever of the block and the loss is larger;
    vision: the hidden states of every block while the tower runs ((V + 1) x n w, kept for the
      feature layer); when a gradient must pass through it, each used block's saved tensors
      (n x [9w + 2 mlp + r per LoRA linear]) until the backward;
    connector: its input and two outputs (image tokens x (w + 2d)).
  peak = fixed + batch x per sample
Not modelled: fp32 master weights of mixed precision (12 B per trainable parameter more), ZeRO
sharding (less), the CUDA context (~0.5 GiB, outside the allocator's count) and fragmentation: a batch
"fits" when its peak is within ``USABLE`` of the device's memory.
"""
from __future__ import annotations

from dataclasses import dataclass

from harness.estimate.architecture import Architecture
from harness.estimate.counting import count

USABLE = 0.9
DTYPE_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}

RULE = ("memory per GPU = weights + trainable gradients + 2 AdamW states (all in the training dtype) + "
        "batch x activations (LM block inputs kept under checkpointing, one block recomputed, logits and "
        f"fp32 loss; vision activations only where a gradient passes); fits when within {USABLE:.0%} of "
        "the device's memory; no fp32 master weights, no ZeRO sharding")


@dataclass(frozen=True)
class Memory:
    weights: int
    gradients: int
    optimizer: int
    per_sample: int           # activations of one sample

    @property
    def fixed(self) -> int:
        return self.weights + self.gradients + self.optimizer

    def peak(self, batch_size: int) -> int:
        return self.fixed + batch_size * self.per_sample

    def largest_batch(self, capacity_bytes: int, usable: float = USABLE) -> int:
        """The largest batch whose peak is within ``usable`` x capacity (0: not even one sample)."""
        room = usable * capacity_bytes - self.fixed
        return max(0, int(room // self.per_sample)) if self.per_sample > 0 else 0


def _reached(arch: Architecture) -> tuple[bool, bool]:
    """(a gradient passes through the vision tower, through the LM blocks)."""
    flops = count(arch)         # only LM ops grow with T: a T term in the backward means the LM has one
    first = min((o.stage for o in arch.ops if o.trainable and o.on_path), default=None)
    return (first is not None and first[0] == 0,
            flops.activation_grads.b + flops.weight_grads.b > 0)


def activations_per_sample(arch: Architecture, tokens: float, e: int) -> float:
    d, q, kv, f, vocab = (arch.dims[k] for k in ("d", "q", "kv", "ffn", "vocab"))
    w, mlp, r = arch.dims["w"], arch.dims["mlp"], arch.dims["lora_r"]
    n, T, L, V = arch.vision_positions, tokens, arch.llm_layers, arch.vision_layers
    vision_grad, lm_grad = _reached(arch)
    glu = arch.dims["glu"]
    # saved tensors of one block, plus the gradient of its widest intermediate while its backward runs
    block = T * (4 * d + 3 * q + 2 * kv + (5 if glu else 3) * f + r * arch.dims["llm_lora_linears"]) * e
    loss = T * vocab * (e + 12)
    if not lm_grad:
        lm = max(block, T * vocab * e)
    elif arch.checkpointing:
        lm = L * T * d * e + 3 * T * d * e + max(block, loss)    # + the spliced input embeddings
    else:
        lm = L * block + 3 * T * d * e + loss
    hidden = (V + 1) * n * w * e
    vision_saved = 0.0
    if vision_grad:
        vision_saved = arch.vision_used_layers * n * (9 * w + 2 * mlp + r * arch.dims["vision_lora_linears"]) * e
    connector = arch.image_tokens * (w + 2 * d) * e
    return vision_saved + connector + max(hidden, lm)


def memory(arch: Architecture, tokens: float, dtype: str) -> Memory:
    e = DTYPE_BYTES[dtype]
    return Memory(weights=arch.params * e, gradients=arch.trainable_params * e,
                  optimizer=2 * arch.trainable_params * e,
                  per_sample=int(activations_per_sample(arch, tokens, e)))
