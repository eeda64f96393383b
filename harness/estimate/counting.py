"""FLOPs of one training sample, counted over the matmuls of the built architecture
(``harness.estimate.architecture``), with the recipe's backward:

- forward: 2 FLOPs per multiply-accumulate of every matmul, on every position it sees;
- weight gradients: the same again for every weight that trains (LoRA A/B, a fully tuned part);
- activation gradients: the same again for a matmul only when something earlier in the forward order
  trains: a frozen tower passes gradients down only where a trainable part lies below it (a frozen
  vision tower under a trained connector gets no backward at all; a frozen LM over a trained connector
  passes them all the way down); an attention core's backward is twice its forward (dQ, dK, dV);
- recomputation: with gradient checkpointing, each LM block the backward reaches runs its forward again,
  but for its last matmul (torch's non-reentrant checkpoint stops once the last saved tensor is back, and
  that matmul's output is saved by nothing);
- nothing for blocks whose output never reaches the loss (the vision blocks past
  ``vision_feature_layer``, SigLIP's pooling head), nor for element-wise work (norms, activations).

An LM attention core is causal: half the square (flash kernels skip the masked blocks). The count is a
polynomial in the LM context length T, exactly: a + b T + c T^2.
"""
from __future__ import annotations

from dataclasses import dataclass

from harness.estimate.architecture import Architecture, Op

RULE = ("FLOPs counted over the built model's matmuls: forward; + weight gradients of trainable weights; "
        "+ activation gradients only below the lowest trainable part (frozen towers under nothing "
        "trainable get no backward; attention core backward = 2x forward); + the forward of every "
        "checkpointed LM block again; causal LM attention = half the square; element-wise ops not counted")


@dataclass(frozen=True)
class Poly:
    """a + b T + c T^2 FLOPs for an LM context of T tokens."""

    a: float = 0.0
    b: float = 0.0
    c: float = 0.0

    def __call__(self, tokens: float) -> float:
        return self.a + self.b * tokens + self.c * tokens * tokens

    def __add__(self, o: Poly) -> Poly:
        return Poly(self.a + o.a, self.b + o.b, self.c + o.c)

    def scaled(self, k: float) -> Poly:
        return Poly(self.a * k, self.b * k, self.c * k)


@dataclass(frozen=True)
class SampleFlops:
    forward: Poly
    weight_grads: Poly
    activation_grads: Poly
    recompute: Poly

    @property
    def step(self) -> Poly:
        return self.forward + self.weight_grads + self.activation_grads + self.recompute

    def at(self, tokens: float) -> dict[str, float]:
        return {"forward": self.forward(tokens), "weight_grads": self.weight_grads(tokens),
                "activation_grads": self.activation_grads(tokens), "recompute": self.recompute(tokens),
                "step": self.step(tokens)}


def op_flops(op: Op, arch: Architecture) -> Poly:
    """Forward FLOPs of one op for one sample, as a polynomial in the LM context."""
    f = 2.0 * op.macs_per_position
    if op.positions == "tokens":
        return Poly(c=f) if op.quadratic else Poly(b=f)
    n = {"vision": arch.vision_positions, "image": arch.image_tokens, "one": 1}[op.positions]
    return Poly(a=f * n * n) if op.quadratic else Poly(a=f * n)


def count(arch: Architecture) -> SampleFlops:
    """The four parts of one sample's training FLOPs."""
    fwd, dw, dx, rec = Poly(), Poly(), Poly(), Poly()
    first_trainable = min((o.stage for o in arch.ops if o.trainable and o.on_path), default=None)
    reached: set[int] = set()          # LM blocks the backward runs through
    for op in arch.ops:
        f = op_flops(op, arch)
        fwd = fwd + f
        if not op.on_path:
            continue
        if op.trainable:
            dw = dw + f
        needs_dx = first_trainable is not None and first_trainable < op.stage
        if needs_dx:
            dx = dx + (f.scaled(2.0) if op.quadratic else f)
        if op.tower == "language_model" and (needs_dx or op.trainable):
            reached.add(op.stage[1])
    if arch.checkpointing:
        blocks = [o for o in arch.ops if o.tower == "language_model" and 0 <= o.stage[1] < arch.llm_layers]
        last = {}
        for o in blocks:
            last[o.stage[1]] = max(last.get(o.stage[1], o.stage), o.stage)
        for op in blocks:
            # the recompute stops once the last saved tensor is back: the block's last matmul is not rerun
            if op.stage[1] in reached and op.stage != last[op.stage[1]]:
                rec = rec + op_flops(op, arch)
    return SampleFlops(forward=fwd, weight_grads=dw, activation_grads=dx, recompute=rec)


def sample_tokens(text_tokens: float, arch: Architecture, max_length: int) -> float:
    """LM positions of one sample: its image tokens plus its text, capped at the context."""
    return min(float(max_length), arch.image_tokens + float(text_tokens))
