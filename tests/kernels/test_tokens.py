"""kernels.tokens: the batch tokenizer against its plain twin and against harness.text.proxy.encode_sample."""
import os
import subprocess
import sys

import numpy as np
import pytest

from harness.text import proxy
from kernels import reference, tokens

TEXTS = [("<image>\nWrite the CAD code.", "box 1 extrude 2"), ("", "x" * 50), ("héllo " * 10, ""),
         ("  <image> spaced  ", "ünïcode ✓"), ("q", "a")]


def _packed(pairs):
    prompts = [p.replace(proxy.IMAGE_PLACEHOLDER, "").strip().encode() for p, _ in pairs]
    answers = [a.encode() for _, a in pairs]
    return prompts, answers


def test_ids_agree_with_the_proxy_tokenizer():
    assert (tokens.PAD, tokens.BOS, tokens.EOS, tokens.IMAGE) == (proxy.PAD, proxy.BOS, proxy.EOS, proxy.IMAGE)
    assert (tokens.BYTE_OFFSET, tokens.IGNORE_INDEX) == (proxy.BYTE_OFFSET, proxy.IGNORE_INDEX)


@pytest.mark.parametrize("seq_len", [1, 2, 3, 12, 40, 200])
def test_rows_match_twin_and_encode_sample(seq_len):
    prompts, answers = _packed(TEXTS)
    n = len(TEXTS)
    ids = np.full((n + 2, seq_len), 7, np.int64)    # two spare rows: left untouched
    labels, mask = ids.copy(), ids.copy()
    pf, po = tokens.pack(prompts)
    af, ao = tokens.pack(answers)
    assert tokens.fill_rows(pf, po, af, ao, ids, labels, mask) == n
    want_ids, want_labels, want_mask = reference.token_rows(prompts, answers, seq_len)
    np.testing.assert_array_equal(ids[:n], want_ids)
    np.testing.assert_array_equal(labels[:n], want_labels)
    np.testing.assert_array_equal(mask[:n], want_mask)
    assert (ids[n:] == 7).all() and (labels[n:] == 7).all() and (mask[n:] == 7).all()
    for r, (p, a) in enumerate(TEXTS):
        i, lab = proxy.encode_sample(p, a, seq_len)
        np.testing.assert_array_equal(ids[r], i)
        np.testing.assert_array_equal(labels[r], lab)


def test_empty_batch_texts_and_bad_shapes():
    pf, po = tokens.pack([b"", b""])
    ids = np.empty((2, 4), np.int64)
    labels, mask = ids.copy(), ids.copy()
    tokens.fill_rows(pf, po, pf, po, ids, labels, mask)
    assert ids.tolist() == [[1, 3, 2, 0]] * 2 and labels.tolist() == [[-100, -100, 2, -100]] * 2
    with pytest.raises(ValueError):
        tokens.fill_rows(pf, po, pf, po, ids[:1], labels[:1], mask[:1])   # more records than rows
    with pytest.raises(ValueError):
        tokens.fill_rows(pf, po, pf, po, ids, labels.astype(np.int32), mask)


def test_jit_off_matches_twin():
    code = """
import numpy as np
from kernels import _jit, reference, tokens
assert not _jit.JIT_ENABLED
prompts, answers = [b"Write it.", b"", b"q" * 30], [b"box 1", b"a" * 9, b""]
for seq_len in (1, 5, 40):
    ids = np.empty((3, seq_len), np.int64)
    labels, mask = ids.copy(), ids.copy()
    tokens.fill_rows(*tokens.pack(prompts), *tokens.pack(answers), ids, labels, mask)
    for got, want in zip((ids, labels, mask), reference.token_rows(prompts, answers, seq_len)):
        np.testing.assert_array_equal(got, want)
print("ok")
"""
    r = subprocess.run([sys.executable, "-c", code], env={**os.environ, "HARNESS_NO_JIT": "1"},
                       capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"
