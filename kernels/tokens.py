"""The proxy byte tokenizer's rows for a whole batch in one compiled call.

``harness.text.proxy.encode_sample`` per record costs a dozen small numpy calls with the GIL held;
the Loader's worker threads spent more time waiting for each other there than tokenising. Here the
batch's prompt and answer bytes come in as two flat uint8 buffers with offsets, and one ``nogil``
pass writes ``input_ids``, ``labels`` and ``attention_mask`` rows, the same values as
``encode_sample`` (BOS, IMAGE, prompt, answer, EOS, cut or padded at the end; labels only on the
answer and its EOS; mask = id != PAD). The ids are ``harness.text.proxy``'s (kernels import nothing
from harness; tests/kernels/test_tokens.py checks they agree).
"""
from __future__ import annotations

import itertools

import numpy as np

from kernels._jit import njit

PAD, BOS, EOS, IMAGE = 0, 1, 2, 3
BYTE_OFFSET = 4
IGNORE_INDEX = -100


@njit
def _fill_rows(pbytes, poff, abytes, aoff, ids, labels, mask):
    seq = ids.shape[1]
    for r in range(poff.shape[0] - 1):
        row = ids[r]
        lab = labels[r]
        row[:] = PAD
        lab[:] = IGNORE_INDEX
        # head: BOS, IMAGE, prompt bytes, as far as the row goes
        row[0] = BOS
        n = 1
        if n < seq:
            row[1] = IMAGE
            n = 2
        for k in range(poff[r], poff[r + 1]):
            if n >= seq:
                break
            row[n] = np.int64(pbytes[k]) + BYTE_OFFSET
            n += 1
        # answer then EOS, learned, in whatever room the prompt left
        for k in range(aoff[r], aoff[r + 1]):
            if n >= seq:
                break
            row[n] = np.int64(abytes[k]) + BYTE_OFFSET
            lab[n] = row[n]
            n += 1
        if n < seq:
            row[n] = EOS
            lab[n] = EOS
        m = mask[r]
        for k in range(seq):
            m[k] = 1 if row[k] != PAD else 0


def fill_rows(prompts: np.ndarray, prompt_offsets: np.ndarray, answers: np.ndarray,
              answer_offsets: np.ndarray, ids: np.ndarray, labels: np.ndarray, mask: np.ndarray) -> int:
    """Rows ``0..n-1`` of ``ids``, ``labels``, ``mask`` (int64, (B, T), C-contiguous rows) for n records:
    record r's prompt is ``prompts[prompt_offsets[r]:prompt_offsets[r + 1]]`` (uint8 UTF-8 bytes, the
    ``<image>`` placeholder already removed and stripped), likewise its answer. Returns n."""
    n = len(prompt_offsets) - 1
    if len(answer_offsets) != n + 1 or n > ids.shape[0] or ids.shape[1] < 1:
        raise ValueError(f"{n} prompts, {len(answer_offsets) - 1} answers, {ids.shape[0]} rows")
    for a in (ids, labels, mask):
        if a.dtype != np.int64 or a.ndim != 2 or a.shape != ids.shape:
            raise ValueError("ids, labels and mask must be int64 arrays of one (B, T) shape")
    _fill_rows(prompts, prompt_offsets, answers, answer_offsets, ids, labels, mask)
    return n


def pack(texts: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """``(flat uint8 bytes, int64 offsets)`` of a batch's byte strings, for ``fill_rows``."""
    offsets = np.fromiter(itertools.accumulate(map(len, texts), initial=0), np.int64, len(texts) + 1)
    flat = np.frombuffer(b"".join(texts), np.uint8)
    if flat.size == 0:
        flat = np.zeros(1, np.uint8)  # numba wants a buffer even when every text is empty
    return flat, offsets


__all__ = ["fill_rows", "pack"]
