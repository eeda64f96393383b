"""A Hugging Face ``tokenizer.json`` (the ``tokenizers`` library), split the way its fast tokenizer splits.

Added tokens are cut out first and every other piece is encoded on its own, as the library itself does.
Whether a piece encodes differently after a special token (Metaspace ``prepend_scheme="first"``) is
probed once; such pieces are encoded behind a special token and that token dropped. ``legacy`` is only
the flag TinyLLaVA's llama rule reads: the file, not the flag, decides how text is split.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from tokenizers import AddedToken
from tokenizers import Tokenizer as _HF

from harness.errors import UsageError
from harness.text.tokenizers.base import PieceTokenizer

_GUESSES = {
    "bos": ("<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>"),
    "eos": ("</s>", "<|endoftext|>", "<|im_end|>", "<eos>", "<|end_of_text|>"),
    "pad": ("<pad>", "<|pad|>", "[PAD]"),
    "unk": ("<unk>", "[UNK]"),
}


class HFTokenizer(PieceTokenizer):
    kind = "tokenizers"

    def __init__(self, path: Path, *, legacy: bool = True, bos: str | None = None, eos: str | None = None,
                 pad: str | None = None, unk: str | None = None):
        try:
            self._tok = _HF.from_file(str(path))
        except Exception as e:  # the library raises a bare Exception on a malformed file
            raise UsageError(f"{path} is not a tokenizer.json: {e}") from None
        named = {k: v for k, v in (("bos", bos), ("eos", eos), ("pad", pad), ("unk", unk)) if v is not None}
        # a named special that the file lacks as a special token becomes one, as transformers would make it
        self._tok.add_special_tokens([AddedToken(v, special=True, normalized=False) for v in named.values()
                                      if v not in self._added()])
        with_sp = self._tok.encode("x", add_special_tokens=True).ids
        bare = self._tok.encode("x", add_special_tokens=False).ids
        at = next((i for i in range(len(with_sp)) if with_sp[i:i + len(bare)] == bare), len(with_sp))
        prefix, suffix = with_sp[:at], with_sp[at + len(bare):]

        def resolve(kind: str) -> int | None:
            for text in ([named[kind]] if kind in named else _GUESSES[kind]):
                i = self._tok.token_to_id(text)
                if i is not None:
                    return i
            return None

        bos_id = resolve("bos") if "bos" in named or not prefix else prefix[0]
        eos_id, unk_id = resolve("eos"), resolve("unk")
        pad_id = resolve("pad")
        specials = self._added()
        probe = "x y\nz"
        after = next(iter(specials), None)
        start_sensitive = after is not None and (
            self._tok.encode(after + probe, add_special_tokens=False).ids[1:]
            != self._tok.encode(probe, add_special_tokens=False).ids)
        self._after = after
        super().__init__(name=Path(path).name, legacy=legacy, specials=specials, bos_id=bos_id, eos_id=eos_id,
                         pad_id=pad_id if pad_id is not None else unk_id, unk_id=unk_id, prefix_ids=prefix,
                         suffix_ids=suffix, start_sensitive=start_sensitive)

    def _added(self) -> dict[str, int]:
        return {t.content: i for i, t in self._tok.get_added_tokens_decoder().items()}

    def _encode_batch(self, texts: list[str], *, at_start: bool) -> list[np.ndarray]:
        if at_start:
            encs = self._tok.encode_batch_fast(texts, add_special_tokens=False)
            return [np.asarray(e.ids, dtype=np.int32) for e in encs]
        encs = self._tok.encode_batch_fast([self._after + t for t in texts], add_special_tokens=False)
        return [np.asarray(e.ids[1:], dtype=np.int32) for e in encs]
