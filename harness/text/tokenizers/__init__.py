"""Tokenizers behind one protocol: the byte proxy, a Hugging Face ``tokenizer.json``, a SentencePiece model.
``load_tokenizer`` picks one from a path; the implementations sit below it (``base``, ``tokenizer_json``,
``sentencepiece_model``) and never import this factory.
"""
from __future__ import annotations

import json
from pathlib import Path

from harness.errors import UsageError
from harness.text.tokenizers.base import IMAGE_TOKEN_INDEX, Key, PieceTokenizer, ProxyTokenizer, Tokenizer
from harness.text.tokenizers.sentencepiece_model import SentencePieceTokenizer
from harness.text.tokenizers.tokenizer_json import HFTokenizer

__all__ = ["IMAGE_TOKEN_INDEX", "HFTokenizer", "Key", "PieceTokenizer", "ProxyTokenizer", "SentencePieceTokenizer",
           "Tokenizer", "load_tokenizer", "model_max_length"]


def _special_config(folder: Path) -> dict:
    """bos/eos/pad/unk strings and ``legacy`` from a transformers ``tokenizer_config.json`` beside the file."""
    f = folder / "tokenizer_config.json"
    if not f.is_file():
        return {}
    try:
        cfg = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out = {}
    for k in ("bos", "eos", "pad", "unk"):
        v = cfg.get(f"{k}_token")
        v = v.get("content") if isinstance(v, dict) else v
        if isinstance(v, str):
            out[k] = v
    if isinstance(cfg.get("legacy"), bool):
        out["legacy"] = cfg["legacy"]
    return out


def model_max_length(path: str | Path | None) -> int | None:
    """``model_max_length`` from the ``tokenizer_config.json`` in a tokenizer folder (or beside its file):
    the context TinyLLaVA's training truncates to when the recipe does not set one. None when absent or
    transformers' "unset" sentinel (1e30)."""
    if path is None:
        return None
    p = Path(path)
    f = (p if p.is_dir() else p.parent) / "tokenizer_config.json"
    try:
        value = json.loads(f.read_text(encoding="utf-8")).get("model_max_length")
    except (OSError, ValueError, AttributeError):
        return None
    return int(value) if isinstance(value, int | float) and 0 < value < 10**9 else None


def load_tokenizer(path: str | Path | None, *, legacy: bool | None = None, bos: str | None = None,
                   eos: str | None = None, pad: str | None = None, unk: str | None = None) -> PieceTokenizer:
    """A tokenizer from ``tokenizer.json``, a SentencePiece ``.model``, or a folder holding one of them;
    ``None`` gives the proxy. Special-token strings override the file's; ``legacy`` defaults to the
    ``tokenizer_config.json`` value, else True (transformers' default)."""
    if path is None:
        return ProxyTokenizer(bos=bos or "<s>", eos=eos or "</s>", pad=pad or "<pad>")
    p = Path(path)
    if p.is_dir():
        found = [p / n for n in ("tokenizer.json", "tokenizer.model") if (p / n).is_file()]
        if not found:
            raise UsageError(f"{p} has neither tokenizer.json nor tokenizer.model")
        p = found[0]
    if not p.is_file():
        raise UsageError(f"tokenizer not found: {p}")
    conf = _special_config(p.parent)
    over = {k: v for k, v in (("bos", bos), ("eos", eos), ("pad", pad), ("unk", unk)) if v is not None}
    names = {**{k: v for k, v in conf.items() if k != "legacy"}, **over}
    leg = legacy if legacy is not None else conf.get("legacy", True)
    if p.suffix == ".json":
        return HFTokenizer(p, legacy=leg, **names)
    return SentencePieceTokenizer(p, legacy=leg, **names)
