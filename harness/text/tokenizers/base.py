"""The tokenizer protocol, the shared piece splitting, and the byte proxy behind that protocol.

They split text the way TinyLLaVA's transformers tokenizers do, because label masking depends on it:
special-token strings are cut out first (transformers' added-token trie), each remaining piece is encoded
on its own, and ``add_special_tokens`` wraps the result as the model's post-processor does (BOS for Llama).
Pieces are encoded in batches and keyed by ``(text, at_start)``; ``at_start`` is False for a piece that
follows a special token, which a non-legacy SentencePiece tokenizer encodes without the "▁" prefix.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from harness.text import proxy

IMAGE_TOKEN_INDEX = -200   # what TinyLLaVA puts in input_ids where "<image>" was
Key = tuple[str, bool]


class Tokenizer(Protocol):
    name: str
    kind: str                  # "proxy" | "tokenizers" | "sentencepiece"
    legacy: bool
    bos_id: int | None
    eos_id: int | None
    pad_id: int | None
    unk_id: int | None

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]: ...


class PieceTokenizer:
    """Shared splitting; subclasses encode pieces (``_encode_batch``)."""

    kind = ""

    def __init__(self, *, name: str, legacy: bool, specials: dict[str, int], bos_id: int | None,
                 eos_id: int | None, pad_id: int | None, unk_id: int | None,
                 prefix_ids: Sequence[int] = (), suffix_ids: Sequence[int] = (), start_sensitive: bool = False):
        self.name, self.legacy = name, legacy
        self.bos_id, self.eos_id, self.pad_id, self.unk_id = bos_id, eos_id, pad_id, unk_id
        self.specials = dict(specials)
        self.prefix_ids, self.suffix_ids = list(prefix_ids), list(suffix_ids)
        self.start_sensitive = start_sensitive   # does a piece encode differently after a special token?
        alts = sorted(self.specials, key=len, reverse=True)   # longest first, as the trie matches
        self._special_re = re.compile("|".join(map(re.escape, alts))) if alts else None

    def split(self, text: str) -> list[tuple[int, int, int | None]]:
        """``(start, end, special_id)`` spans of ``text``; ``special_id`` None for an ordinary piece."""
        spans: list[tuple[int, int, int | None]] = []
        pos = 0
        if self._special_re is not None:
            for m in self._special_re.finditer(text):
                if m.start() > pos:
                    spans.append((pos, m.start(), None))
                spans.append((m.start(), m.end(), self.specials[m.group()]))
                pos = m.end()
        if pos < len(text):
            spans.append((pos, len(text), None))
        return spans

    def key(self, piece: str, at_start: bool) -> Key:
        return (piece, at_start or not self.start_sensitive)

    def encode_keys(self, keys: Sequence[Key], *, counting: bool = False) -> list[np.ndarray]:
        """Each key's token ids; one batched call per kind of key. ``counting``: ids that may differ from
        the true ones but never in length, nor in where special and pad ids are (the label analysis)."""
        enc = self.encode_for_counting if counting else self._encode_batch
        out: list[np.ndarray] = [None] * len(keys)  # type: ignore[list-item]
        for flag in (True, False):
            idx = [i for i, k in enumerate(keys) if k[1] is flag]
            if idx:
                for i, arr in zip(idx, enc([keys[i][0] for i in idx], at_start=flag)):
                    out[i] = arr
        return out

    def _encode_batch(self, texts: list[str], *, at_start: bool) -> list[np.ndarray]:
        raise NotImplementedError

    def encode_for_counting(self, texts: list[str], *, at_start: bool) -> list[np.ndarray]:
        return self._encode_batch(texts, at_start=at_start)

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        ids: list[int] = list(self.prefix_ids) if add_special_tokens else []
        for s, e, sid in self.split(text):
            if sid is not None:
                ids.append(sid)
            else:
                ids.extend(self.encode_keys([self.key(text[s:e], s == 0)])[0].tolist())
        if add_special_tokens:
            ids.extend(self.suffix_ids)
        return ids


class ProxyTokenizer(PieceTokenizer):
    """The proxy byte vocabulary with Hugging Face-style special strings, standing in for a real tokenizer."""

    kind = "proxy"

    def __init__(self, *, bos: str = "<s>", eos: str = "</s>", pad: str = "<pad>", add_bos: bool = True):
        specials = {s: i for s, i in ((pad, proxy.PAD), (bos, proxy.BOS), (eos, proxy.EOS)) if s}
        super().__init__(name="proxy-bytes", legacy=True, specials=specials, bos_id=proxy.BOS,
                         eos_id=proxy.EOS, pad_id=proxy.PAD, unk_id=None,
                         prefix_ids=[proxy.BOS] if add_bos else [])

    def _encode_batch(self, texts: list[str], *, at_start: bool) -> list[np.ndarray]:
        return [proxy.encode(t) for t in texts]
