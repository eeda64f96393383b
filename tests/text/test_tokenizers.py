import json

import numpy as np
import pytest
import sentencepiece as spm
from tokenizers import Tokenizer as HF

from harness.errors import UsageError
from harness.text.tokenizers import ProxyTokenizer, load_tokenizer
from harness.text.tokenizers.sentencepiece_model import without_dummy_prefix
from tests.support.text import cad_code, train_bpe

TEXTS = ["USER: hi</s>USER: more ASSISTANT: x", "a  b   c", " lead", "trail  ", "tab\tand\nnewline 12.5",
         "</s></s>x<s>y", "", cad_code(3, 4), "x <unk> y"]


def test_legacy_prefixes_every_piece_and_non_legacy_only_the_start(sp_path):
    sp = spm.SentencePieceProcessor(model_file=str(sp_path))
    legacy, modern = load_tokenizer(sp_path, legacy=True), load_tokenizer(sp_path, legacy=False)
    assert legacy.legacy and not modern.legacy
    after = legacy.encode("</s>USER", add_special_tokens=True)
    assert after == [1, 2, *sp.encode("USER")]                       # "▁USER": prefix again
    bare = modern.encode("</s>USER", add_special_tokens=True)[2:]
    assert not sp.id_to_piece(bare[0]).startswith("▁")
    assert modern.encode("USER: a") == legacy.encode("USER: a") == sp.encode("USER: a")


def test_without_dummy_prefix_edits_only_that_flag(sp_path):
    raw = sp_path.read_bytes()
    bare = spm.SentencePieceProcessor(model_proto=without_dummy_prefix(raw))
    sp = spm.SentencePieceProcessor(model_proto=raw)
    assert bare.get_piece_size() == sp.get_piece_size()
    assert sp.encode("abc", out_type=str)[0].startswith("▁")
    assert not bare.encode("abc", out_type=str)[0].startswith("▁")
    assert bare.encode(" abc") == sp.encode("abc")


@pytest.mark.parametrize("legacy", [True, False])
def test_word_cache_counts_like_the_model(sp_path, legacy):
    tok = load_tokenizer(sp_path, legacy=legacy)
    assert tok._words_ok and tok._digits_ok
    texts = TEXTS + [cad_code(i) for i in range(20)] + ["  ".join(cad_code(5).split(" "))]
    for at_start in (True, False):
        fast = tok.encode_for_counting(texts, at_start=at_start)
        direct = tok._encode_batch(texts, at_start=at_start)
        assert [len(a) for a in fast] == [len(d) for d in direct]
        # digits may read as 0, nothing else differs
        digits = {tok._sp.piece_to_id(str(d)) for d in range(10)}
        for a, d in zip(fast, direct):
            assert all(x == y or (x in digits and y in digits) for x, y in zip(a.tolist(), d.tolist()))
    assert tok._words_ok


def test_word_cache_off_when_the_model_drops_spaces(tmp_path):
    import io
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter([cad_code(i) for i in range(50)]), model_writer=buf,
                                   model_type="bpe", vocab_size=200, hard_vocab_limit=False, minloglevel=2)
    (tmp_path / "m.model").write_bytes(buf.getvalue())
    tok = load_tokenizer(tmp_path / "m.model")
    assert not tok._words_ok
    assert [len(a) for a in tok.encode_for_counting(["a  b"], at_start=True)] == [len(tok._sp.encode("a  b"))]


@pytest.mark.parametrize("fixture", ["bpe_path", "bytelevel_path"])
def test_tokenizer_json_matches_the_library(fixture, request):
    path = request.getfixturevalue(fixture)
    tok, lib = load_tokenizer(path), HF.from_file(str(path))
    assert (tok.bos_id, tok.eos_id, tok.pad_id, tok.unk_id) == (1, 2, 3, 0)
    assert tok.prefix_ids == [1] and tok.suffix_ids == []
    for t in TEXTS:
        assert tok.encode(t, add_special_tokens=True) == lib.encode(t).ids
        assert tok.encode(t) == lib.encode(t, add_special_tokens=False).ids


def test_prepend_scheme_first_is_detected_and_matched(tmp_path):
    path = train_bpe(tmp_path / "tokenizer.json")
    spec = json.loads(path.read_text())
    spec["pre_tokenizer"]["prepend_scheme"] = "first"
    path.write_text(json.dumps(spec))
    tok, lib = load_tokenizer(path), HF.from_file(str(path))
    assert tok.start_sensitive
    for t in TEXTS:
        assert tok.encode(t, add_special_tokens=True) == lib.encode(t).ids


def test_folder_config_and_overrides(tmp_path, bpe_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "tokenizer.json").write_bytes(bpe_path.read_bytes())
    (folder / "tokenizer_config.json").write_text(json.dumps({"legacy": False, "pad_token": "<unk>"}))
    tok = load_tokenizer(folder)
    assert tok.kind == "tokenizers" and tok.legacy is False and tok.pad_id == 0
    assert load_tokenizer(folder, legacy=True, eos="<pad>").eos_id == 3
    with pytest.raises(UsageError):
        load_tokenizer(tmp_path / "nothing.model")
    with pytest.raises(UsageError):
        load_tokenizer(tmp_path)


def test_proxy_splits_its_specials():
    tok = ProxyTokenizer(eos="<|im_end|>", add_bos=False)
    ids = tok.encode("a<|im_end|>b", add_special_tokens=True)
    assert ids == [ord("a") + 4, 2, ord("b") + 4]
    assert load_tokenizer(None).encode("x", add_special_tokens=True) == [1, ord("x") + 4]
    assert isinstance(tok.encode_keys([("ab", True)])[0], np.ndarray)


def test_model_max_length_is_read_as_training_reads_it(tmp_path, bpe_path):
    """A tokenizer folder's tokenizer_config.json sets model_max_length: the label simulation uses it
    when --max-length is not given (TinyLLaVA truncates to it); transformers' 1e30 'unset' is ignored."""
    from harness.cli.options import check_config
    from harness.text.tokenizers import model_max_length

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "tokenizer.json").write_bytes(bpe_path.read_bytes())
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 512}))
    assert model_max_length(folder) == 512 and model_max_length(folder / "tokenizer.json") == 512
    assert check_config(tokenizer=folder).max_length == 512
    assert check_config(tokenizer=folder, max_length=3072).max_length == 3072     # the flag wins
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 1e30}))
    assert model_max_length(folder) is None and check_config(tokenizer=folder).max_length == 2048
    assert check_config().max_length == 2048
