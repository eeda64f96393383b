"""The proxy byte tokenizer: the proxy model's vocabulary, four specials then the 256 byte values.

Ids: 0 PAD, 1 BOS, 2 EOS, 3 IMAGE, byte ``b`` -> ``b + 4``; ``VOCAB_SIZE = 260``. A sample is
BOS, IMAGE, the prompt's bytes, the answer's bytes, EOS; only the answer and its EOS are learned.
"""
from __future__ import annotations

import numpy as np

PAD, BOS, EOS, IMAGE = 0, 1, 2, 3
BYTE_OFFSET = 4
VOCAB_SIZE = 256 + BYTE_OFFSET
IGNORE_INDEX = -100            # label value the loss skips (torch's cross_entropy default)
IMAGE_PLACEHOLDER = "<image>"


def encode(text: str) -> np.ndarray:
    """UTF-8 bytes of ``text`` shifted past the specials, as int64."""
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int64) + BYTE_OFFSET


def decode(ids: np.ndarray) -> str:
    """Bytes back to text; specials are dropped (debugging aid)."""
    ids = np.asarray(ids)
    body = ids[ids >= BYTE_OFFSET] - BYTE_OFFSET
    return body.astype(np.uint8).tobytes().decode("utf-8", errors="replace")


def prompt_text(prompt: str) -> str:
    """The prompt the sample carries: ``<image>`` removed (the IMAGE id stands for it), the rest stripped,
    as TinyLLaVA's templates do."""
    return prompt.replace(IMAGE_PLACEHOLDER, "").strip()


def encode_sample(prompt: str, answer: str, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """``(input_ids, labels)``, int64 of length ``seq_len``, cut or padded at the end.

    The literal ``<image>`` is removed from the prompt (the IMAGE id stands for it) and the rest stripped,
    as TinyLLaVA's templates do. Labels are IGNORE_INDEX on BOS, IMAGE, prompt and padding.
    """
    if seq_len < 1:
        raise ValueError("seq_len must be at least 1")
    p = encode(prompt_text(prompt))
    a = encode(answer)
    ids = np.full(seq_len, PAD, dtype=np.int64)
    labels = np.full(seq_len, IGNORE_INDEX, dtype=np.int64)
    head = np.concatenate(([BOS, IMAGE], p))
    n_head = min(len(head), seq_len)
    ids[:n_head] = head[:n_head]
    # answer then EOS, learned, in whatever room the prompt left
    start = n_head
    n_ans = min(len(a), seq_len - start)
    ids[start:start + n_ans] = a[:n_ans]
    if start + n_ans < seq_len:
        ids[start + n_ans] = EOS
        n_ans += 1
    labels[start:start + n_ans] = ids[start:start + n_ans]
    return ids, labels
