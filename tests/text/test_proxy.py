import numpy as np

from harness.text import proxy


def test_bytes_shift_past_the_specials():
    ids = proxy.encode("aé")
    assert ids.dtype == np.int64
    assert ids.tolist() == [ord("a") + 4, 0xC3 + 4, 0xA9 + 4]
    assert proxy.decode(ids) == "aé"
    assert proxy.VOCAB_SIZE == 260


def test_sample_layout_and_labels():
    ids, labels = proxy.encode_sample("<image>\nWhat?", "ab", 16)
    want = [proxy.BOS, proxy.IMAGE, *proxy.encode("What?").tolist(), *proxy.encode("ab").tolist(), proxy.EOS]
    assert ids[:len(want)].tolist() == want and (ids[len(want):] == proxy.PAD).all()
    learned = labels != proxy.IGNORE_INDEX
    assert labels[learned].tolist() == [*proxy.encode("ab").tolist(), proxy.EOS]
    assert learned.sum() == 3


def test_sample_cut_at_seq_len_drops_eos_first():
    ids, labels = proxy.encode_sample("<image>\nQ", "abcdef", 6)
    assert ids.tolist() == [proxy.BOS, proxy.IMAGE, ord("Q") + 4, *(proxy.encode("abc").tolist())]
    assert (labels[3:] == ids[3:]).all() and (labels[:3] == proxy.IGNORE_INDEX).all()
