"""A SentencePiece ``.model`` behaving as transformers' ``LlamaTokenizer``.

``legacy=True`` (the historical behaviour): every piece between special tokens is encoded with the
model's dummy "▁" prefix, so ``</s>USER`` becomes ``</s> ▁USER``. ``legacy=False``: only the text's very
start gets the prefix; a piece after a special token is encoded bare (transformers flips the model's
``add_dummy_prefix`` off for that, and so do we, by editing the serialized model).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import sentencepiece as spm

from harness.errors import UsageError
from harness.text.tokenizers.base import PieceTokenizer


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[i]
        value |= (b & 0x7F) << shift
        i += 1
        if b < 0x80:
            return value, i
        shift += 7


def _put_varint(v: int) -> bytes:
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def _fields(buf: bytes):
    """(field number, wire type, raw bytes of the whole field) of a protobuf message."""
    i = 0
    while i < len(buf):
        start = i
        tag, i = _varint(buf, i)
        wt = tag & 7
        if wt == 0:
            _, i = _varint(buf, i)
        elif wt == 1:
            i += 8
        elif wt == 2:
            n, i = _varint(buf, i)
            i += n
        elif wt == 5:
            i += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wt}")
        yield tag >> 3, wt, buf[start:i]


def without_dummy_prefix(model: bytes) -> bytes:
    """The serialized ModelProto with ``normalizer_spec.add_dummy_prefix`` (field 3 of field 3) false."""
    out = bytearray()
    for num, wt, raw in _fields(model):
        if num == 3 and wt == 2:
            _, body_at = _varint(raw, 0)
            n, body_at = _varint(raw, body_at)
            body = raw[body_at:body_at + n]
            kept = b"".join(r for f, w, r in _fields(body) if f != 3)
            body = kept + _put_varint(3 << 3 | 0) + b"\x00"
            raw = _put_varint(3 << 3 | 2) + _put_varint(len(body)) + body
        out += raw
    return bytes(out)


def _normalizer_flags(model: bytes) -> dict[int, int]:
    """Varint fields of ``normalizer_spec`` (3: add_dummy_prefix, 4: remove_extra_whitespaces)."""
    flags = {3: 1, 4: 1}   # the protobuf defaults
    for num, wt, raw in _fields(model):
        if num == 3 and wt == 2:
            _, at = _varint(raw, 0)
            n, at = _varint(raw, at)
            for f, w, r in _fields(raw[at:at + n]):
                if w == 0:
                    flags[f] = _varint(r, _varint(r, 0)[1])[0]
    return flags


# Before the first space of a run: a SentencePiece word starts there and no piece crosses it.
_WORD = re.compile(r"(?<! )(?= )")
_DIGITS = str.maketrans("123456789", "000000000")
_VERIFY = 4   # texts per batch encoded both ways; one difference turns the word cache off for good


class SentencePieceTokenizer(PieceTokenizer):
    kind = "sentencepiece"

    def __init__(self, path: Path, *, legacy: bool = True, bos: str | None = None, eos: str | None = None,
                 pad: str | None = None, unk: str | None = None):
        model = Path(path).read_bytes()
        try:
            self._sp = spm.SentencePieceProcessor(model_proto=model)
        except (RuntimeError, OSError) as e:
            raise UsageError(f"{path} is not a SentencePiece model: {e}") from None
        self._bare = spm.SentencePieceProcessor(model_proto=without_dummy_prefix(model))
        n = self._sp.get_piece_size()
        self._words_ok, self._digits_ok = self._word_split_safe(model)
        self._first: dict[tuple[str, bool], np.ndarray] = {}   # a text's first word, by prefix mode
        self._spaced: dict[str, np.ndarray] = {}               # later words, by their text after the space
        extra: dict[str, int] = {}

        def resolve(text: str | None, default: int) -> int | None:
            if text is None:
                return default if default >= 0 else None
            i = self._sp.piece_to_id(text)
            if i == self._sp.unk_id() and text != self._sp.id_to_piece(i):
                # not in the vocabulary: transformers adds it as a new token after the last piece
                i = extra.setdefault(text, n + len(extra))
            return i

        unk_id = resolve(unk, self._sp.unk_id())
        bos_id, eos_id = resolve(bos, self._sp.bos_id()), resolve(eos, self._sp.eos_id())
        pad_id = resolve(pad, self._sp.pad_id())
        if pad_id is None:
            pad_id = unk_id   # LLaVA-style recipes pad Llama with <unk>
        specials = {self._sp.id_to_piece(i): i for i in (bos_id, eos_id, unk_id, pad_id)
                    if i is not None and i < n}
        specials.update(extra)
        super().__init__(name=Path(path).name, legacy=legacy, specials=specials, bos_id=bos_id, eos_id=eos_id,
                         pad_id=pad_id, unk_id=unk_id, prefix_ids=[bos_id] if bos_id is not None else [],
                         start_sensitive=not legacy)

    def _encode_batch(self, texts: list[str], *, at_start: bool) -> list[np.ndarray]:
        sp = self._sp if at_start else self._bare
        return sp.encode_as_numpy(texts, num_threads=2)

    # ---- counting: word cache ---------------------------------------------------------------------
    def _word_split_safe(self, model: bytes) -> tuple[bool, bool]:
        """Whether texts may be encoded word by word (spaces keep, no piece holds a space after other
        characters), and whether digits may be folded to 0 (every piece holding a digit is that digit)."""
        if _normalizer_flags(model)[4]:
            return False, False   # extra spaces removed: a word's leading space depends on its neighbours
        sp, words, digits = self._sp, True, True
        for i in range(sp.get_piece_size()):
            if sp.is_control(i) or sp.is_unknown(i) or sp.is_byte(i) or sp.is_unused(i):
                continue
            p = sp.id_to_piece(i)
            words = words and "\u2581" not in p.lstrip("\u2581")
            digits = digits and (len(p) == 1 or not any(c.isdigit() for c in p))
        return words, words and digits

    def encode_for_counting(self, texts: list[str], *, at_start: bool) -> list[np.ndarray]:
        """Encodings with the right length, special and pad positions (digits may read as 0): each distinct
        word is encoded once, which is what makes label analysis fast on code-like answers."""
        if not self._words_ok:
            return self._encode_batch(texts, at_start=at_start)
        out = [self._by_words(t, at_start) for t in texts]
        step = max(1, len(texts) // _VERIFY)
        sample = [i for i in range(0, len(texts), step)][:_VERIFY]
        direct = self._encode_batch([texts[i].translate(_DIGITS) if self._digits_ok else texts[i]
                                     for i in sample], at_start=at_start)
        if any(not np.array_equal(out[i], d) for i, d in zip(sample, direct)):
            self._words_ok = False
            self._first.clear()
            self._spaced.clear()
            return self._encode_batch(texts, at_start=at_start)
        return out

    def _by_words(self, text: str, at_start: bool) -> np.ndarray:
        if not text:
            return np.zeros(0, np.int32)
        words = text.translate(_DIGITS).split(" ") if self._digits_ok else text.split(" ")
        if not words[0] or "" in words:
            # a run of spaces is one SentencePiece word with what follows: take the slow split
            words = _WORD.split(text.translate(_DIGITS) if self._digits_ok else text)
            spaced = [w[1:] for w in words[1:]]
            first = words[0]
            if not first:
                first, spaced = " " + spaced[0], spaced[1:]
        else:
            first, spaced = words[0], words[1:]
        if len(self._spaced) > 500_000:
            self._spaced.clear()
        head = self._first.get((first, at_start))
        if head is None:
            head = self._first[(first, at_start)] = self._encode_batch([first], at_start=at_start)[0]
        # words after the first are keyed without their leading space and encoded bare with it
        todo = list(set(spaced).difference(self._spaced))
        if todo:
            self._spaced.update(zip(todo, self._encode_batch([" " + w for w in todo], at_start=False)))
        return np.concatenate([head, *map(self._spaced.__getitem__, spaced)]) if spaced else head
