"""The proxy vision-language model: a small strided CNN encodes the image, its embedding starts a GRU that
reads the proxy byte tokens, and a linear head predicts the next token.

It stands in for the target VLM in the dry run: it exercises the same batch contract (images,
input_ids, labels with -100 on prompt and pad) at a cost a laptop CPU can train in seconds.
About 650K parameters, like the seed's CNN-GRU (652K).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

IGNORE_INDEX = -100
# The proxy tokenizer's vocabulary (4 specials + 256 bytes); harness.text.proxy.VOCAB_SIZE says the same.
PROXY_VOCAB_SIZE = 260


@dataclass(kw_only=True, frozen=True)
class ProxyModelConfig:
    vocab_size: int = PROXY_VOCAB_SIZE
    channels: tuple[int, ...] = (16, 32, 64, 128, 112)   # one strided conv each; 652K params in all
    embed_dim: int = 128
    hidden_dim: int = 256


class ImageEncoder(nn.Module):
    """Strided convs only: the first one is a 4x4 patchify, every later one halves the grid, so a
    384 px image costs ~50 MFLOPs and the pooled vector does not depend on the image size."""

    def __init__(self, channels: tuple[int, ...], out_dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for i, c in enumerate(channels):
            k, s = (4, 4) if i == 0 else (3, 2)
            layers += [nn.Conv2d(c_in, c, kernel_size=k, stride=s, padding=0 if i == 0 else 1), nn.ReLU()]
            c_in = c
        self.convs = nn.Sequential(*layers)
        self.proj = nn.Linear(c_in, out_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.convs(images)
        return torch.tanh(self.proj(x.mean(dim=(2, 3))))


class ProxyVLM(nn.Module):
    """CNN image embedding -> initial GRU state; byte embeddings -> GRU -> vocabulary logits."""

    def __init__(self, cfg: ProxyModelConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or ProxyModelConfig()
        self.encoder = ImageEncoder(cfg.channels, cfg.hidden_dim)
        self.embed = nn.Embedding(cfg.vocab_size, cfg.embed_dim)
        self.gru = nn.GRU(cfg.embed_dim, cfg.hidden_dim, batch_first=True)
        self.head = nn.Linear(cfg.hidden_dim, cfg.vocab_size)

    def forward(self, images: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
        h0 = self.encoder(images).unsqueeze(0)            # (1, B, H): the image conditions every token
        out, _ = self.gru(self.embed(input_ids), h0)
        return self.head(out)                             # (B, T, V)

    def loss(self, images: torch.Tensor, input_ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return next_token_loss(self(images, input_ids), labels)


def next_token_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of position t's logits against label t+1 (labels are aligned with input_ids,
    as in Hugging Face causal LMs); positions labelled -100 (prompt, image, pad) add nothing."""
    shifted_logits = logits[:, :-1].reshape(-1, logits.shape[-1]).float()
    shifted_labels = labels[:, 1:].reshape(-1)
    # An all-masked batch (answers cut by the window) would be 0/0 = nan; sum / max(count, 1) gives 0.
    total = F.cross_entropy(shifted_logits, shifted_labels, ignore_index=IGNORE_INDEX, reduction="sum")
    return total / (shifted_labels != IGNORE_INDEX).sum().clamp(min=1)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
