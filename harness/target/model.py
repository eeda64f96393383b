"""The target model built from its configs with random weights (``from_config``: nothing is downloaded),
trained as TinyLLaVA trains it.

Forward (TinyLLaVA's): the vision tower's hidden states at ``vision_feature_layer`` (-2), the first token
dropped ("patch"), projected by the connector (mlp2x_gelu), spliced into the LM's token embeddings in
place of the image placeholder (``IMAGE_TOKEN_INDEX``); loss on the answer labels (-100 elsewhere).
Recipe: ``lora`` parts get peft LoRA adapters on their block linears (base weights frozen), ``frozen``
parts have ``requires_grad`` False, ``full`` parts train; gradient checkpointing on the LM; AdamW over
the trainable parameters.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from harness.target.presets import TargetSpec

IMAGE_TOKEN_INDEX = -200        # TinyLLaVA's placeholder id in input_ids
IGNORE_INDEX = -100
LM_LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
VISION_LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2")


def _config(d: dict) -> Any:
    from transformers import AutoConfig

    d = dict(d)
    return AutoConfig.for_model(d.pop("model_type"), **d)


class TargetVLM(nn.Module):
    """vision tower -> connector -> causal LM, TinyLLaVA's layout."""

    def __init__(self, spec: TargetSpec) -> None:
        super().__init__()
        from transformers import AutoModelForCausalLM, CLIPVisionModel, SiglipVisionModel

        self.spec = spec
        vcfg = _config(spec.vision_config)
        tower = CLIPVisionModel if vcfg.model_type == "clip_vision_model" else SiglipVisionModel
        self.vision_tower = tower._from_config(vcfg)
        tcfg = _config(spec.text_config)
        tcfg.use_cache = False
        self.language_model = AutoModelForCausalLM.from_config(tcfg)
        vh, th = vcfg.hidden_size, tcfg.hidden_size
        self.connector = nn.Sequential(nn.Linear(vh, th), nn.GELU(), nn.Linear(th, th))

    def image_features(self, images: torch.Tensor) -> torch.Tensor:
        out = self.vision_tower(images, output_hidden_states=True)
        feats = out.hidden_states[self.spec.vision_feature_layer][:, 1:]
        return self.connector(feats)

    def embed(self, input_ids: torch.Tensor, labels: torch.Tensor,
              images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each sample's embeddings with its image features in place of its one placeholder."""
        feats = self.image_features(images)
        embed = self.language_model.get_input_embeddings()
        rows, labs = [], []
        for i in range(input_ids.shape[0]):
            ids, lab = input_ids[i], labels[i]
            at = (ids == IMAGE_TOKEN_INDEX).nonzero()
            if len(at) != 1:
                raise ValueError(f"sample {i}: {len(at)} image placeholders, TinyLLaVA needs one per image")
            k = int(at[0, 0])
            f = feats[i].to(embed.weight.dtype)
            rows.append(torch.cat([embed(ids[:k]), f, embed(ids[k + 1:])]))
            labs.append(torch.cat([lab[:k], lab.new_full((f.shape[0],), IGNORE_INDEX), lab[k + 1:]]))
        return torch.stack(rows), torch.stack(labs)

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        embeds, labs = self.embed(input_ids, labels, images)
        return self.language_model(inputs_embeds=embeds, labels=labs).loss


def _lora(module: nn.Module, names: tuple[str, ...], r: int, alpha: int) -> None:
    from peft import LoraConfig, inject_adapter_in_model

    # only the blocks' linears: not the LM head, nor SigLIP's pooling head (the LM never sees its output)
    pattern = rf".*layers\.\d+\..*\b({'|'.join(names)})$"
    inject_adapter_in_model(LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.0, target_modules=pattern), module)


def apply_recipe(model: TargetVLM) -> None:
    """LoRA adapters where the recipe says lora; requires_grad as the recipe trains each part."""
    rec = model.spec.recipe
    for part, tune, names in ((model.language_model, rec.llm, LM_LORA_TARGETS),
                              (model.vision_tower, rec.vision, VISION_LORA_TARGETS),
                              (model.connector, rec.connector, ())):
        if tune == "lora" and names:
            _lora(part, names, rec.lora_r, rec.lora_alpha)
        for name, p in part.named_parameters():
            p.requires_grad_(tune == "full" or (tune == "lora" and "lora_" in name))


@dataclass
class Built:
    model: TargetVLM
    optimizer: torch.optim.Optimizer
    trainable: int
    total: int


def build(spec: TargetSpec, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
          lr: float = 2e-4, seed: int = 0) -> Built:
    """The model with random weights, its recipe applied, gradient checkpointing on, AdamW."""
    torch.manual_seed(seed)
    model = TargetVLM(spec)
    apply_recipe(model)
    if spec.gradient_checkpointing:
        lm = model.language_model         # transformers 5 renamed it; older releases have the first only
        enable = getattr(lm, "activation_checkpointing_enable", None) or lm.gradient_checkpointing_enable
        enable({"use_reentrant": False})     # first parameter of both: the checkpoint kwargs
    model.to(device=device, dtype=dtype)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr)
    return Built(model=model, optimizer=opt, trainable=sum(p.numel() for p in params),
                 total=sum(p.numel() for p in model.parameters()))


def cut(spec: TargetSpec, depth: int | None = None, *, llm_layers: int | None = None,
        vision_layers: int | None = None) -> TargetSpec:
    """A copy with ``num_hidden_layers`` of each tower cut to ``depth`` blocks (or each to its own)."""
    return spec.cut(llm_layers if llm_layers is not None else depth,
                    vision_layers if vision_layers is not None else depth)


def synthetic_batch(spec: TargetSpec, batch_size: int, tokens: int, device: torch.device | str = "cpu",
                    dtype: torch.dtype = torch.float32, seed: int = 0) -> dict[str, torch.Tensor]:
    """A batch of ``tokens`` LM positions per sample (image tokens included): a prompt of a quarter of the
    text with the placeholder at its start, the rest answer (labelled), random ids and pixels."""
    g = torch.Generator().manual_seed(seed)
    text = max(2, tokens - spec.image_tokens)
    vocab = int(spec.text_config["vocab_size"])
    ids = torch.randint(0, vocab, (batch_size, text + 1), generator=g)
    prompt = max(1, text // 4)
    ids[:, 1] = IMAGE_TOKEN_INDEX
    labels = ids.clone()
    labels[:, :prompt + 1] = IGNORE_INDEX
    s = spec.image_size
    images = torch.randn(batch_size, 3, s, s, generator=g)
    return {"input_ids": ids.to(device), "labels": labels.to(device), "images": images.to(device, dtype)}
