"""The label analysis against a plain re-statement of TinyLLaVA's make_labels, and the cases its loader
meets (each gives the finding TinyLLaVA's behaviour leads to)."""
import pytest

from harness.checks.catalogue.labels import run_label_checks
from harness.config import CheckConfig
from harness.results.schema import RECORDS
from harness.text.labels import analyse_records, make_context, token_columns
from harness.text.templates import SYSTEM, TEMPLATES
from harness.text.tokenizers import load_tokenizer
from tests.support.text import PROMPT, cad_code, clean, rec

EOT = {"llama": "</s>", "phi": "<|endoftext|>", "gemma": "<eos>", "qwen2_base": "<|endoftext|>",
       "qwen2_instruct": "<|im_end|>"}


def reference(turns, tok, name, max_length=10**6):
    """TinyLLaVA's data path written out with whole token lists: (cur_len, total_len), learned count, length."""
    eot, msg = EOT[name], SYSTEM + " "
    for q, a in zip(turns[::2], turns[1::2]):
        if "<image>" in q:
            q = ("<image>\n" + q.replace("<image>", "").strip()).strip()
        msg += "USER: " + q + " " + "ASSISTANT: " + a + eot

    def tii(text):
        chunks = [tok.encode(c, add_special_tokens=True) for c in text.split("<image>")]
        off = 1 if chunks[0] and chunks[0][0] == tok.bos_id else 0
        ids = chunks[0][:off]
        for k, c in enumerate(chunks):
            ids += ([-200] if k else []) + c[off:]
        return ids

    ids = tii(msg)
    labels = list(ids)
    total = sum(i != tok.pad_id for i in ids) + (msg.count(eot) if tok.pad_id == tok.eos_id else 0)
    bos_rule = name in ("llama", "gemma")
    cur = 1 if bos_rule else 0
    labels[:cur] = [-100] * cur
    eos_len = 1 if bos_rule else len(tok.encode(eot, add_special_tokens=True))
    for i, rou in enumerate(msg.split(eot)):
        parts = rou.split(" ASSISTANT: ")
        if rou == "" or len(parts) != 2:
            break
        rl = len(tii(rou)) + eos_len - (1 if bos_rule else 0)
        il = len(tii(parts[0] + " ASSISTANT: ")) - (2 if bos_rule else 1)
        if name == "llama" and i and not tok.legacy:
            rl, il = rl - 1, il - 1
        a, b, _ = slice(cur, cur + il).indices(len(labels))
        labels[a:b] = [-100] * max(b - a, 0)
        cur += rl
    labels[cur:] = [-100] * max(len(labels) - cur, 0)
    if cur < max_length and cur != total:
        labels = [-100] * len(labels)
    return (cur, total), sum(x not in (-100, -200) for x in labels), len(ids)


CASES = [
    [PROMPT, cad_code(0)],
    [PROMPT, "a </s> b <|endoftext|> c <eos>"],
    [PROMPT + " ASSISTANT: x", "y"],
    [PROMPT, "code <image> more"],
    [PROMPT, cad_code(1, 2), "And the next one?", cad_code(2, 2), "<image>\nonce more", "ok"],
    [PROMPT, ""],
    ["no image here", "  spaced   answer  "],
    ["<image> <image> twice", "<unk> x"],
]


@pytest.mark.parametrize("fixture", ["sp_path", "bpe_path", "bytelevel_path", None])
@pytest.mark.parametrize("legacy", [True, False])
@pytest.mark.parametrize("name", sorted(EOT))
def test_template_rule_matches_tinyllava(fixture, legacy, name, request):
    tok = load_tokenizer(request.getfixturevalue(fixture) if fixture else None, legacy=legacy)
    if fixture is None:
        tok.legacy = legacy
    records = [rec(*[("human" if i % 2 == 0 else "gpt", t) for i, t in enumerate(c)], index=k)
               for k, c in enumerate(CASES)]
    got = analyse_records(records, tok, TEMPLATES[name], max_length=10**6, image_tokens=5)
    for case, a in zip(CASES, got):
        lengths, learned, n = reference(case, tok, name)
        assert a.mismatch == lengths, case
        assert a.blanked == (lengths[0] != lengths[1])
        assert a.supervised_tokens_template == learned, case
        assert a.total_tokens == n + 4 * a.image_tokens_inserted


def test_correct_mask_is_the_answer_and_its_end_of_turn(sp_path):
    tok = load_tokenizer(sp_path)
    answer = cad_code(7)
    a = analyse_records([clean(7)], tok, TEMPLATES["llama"], max_length=4096, image_tokens=728)[0]
    assert a.answer_tokens == len(tok._sp.encode(answer)) + 1     # "▁Sketch..." then </s>
    assert a.supervised_tokens_template == a.supervised_tokens_correct == a.answer_tokens
    assert a.wrongly_learned == a.wrongly_ignored == 0
    assert a.prompt_tokens + a.answer_tokens == a.total_tokens


def findings(records, **cfg):
    ctx = make_context(CheckConfig(**cfg))
    return {(f.check, f.severity, f.record_index): f.message for f in run_label_checks(records, ctx)}


@pytest.fixture(params=["sp_path", "bpe_path", None])
def tokenizer(request):
    return request.getfixturevalue(request.param) if request.param else None


def test_clean_records_give_no_finding(tokenizer):
    assert findings([clean(i, index=i) for i in range(6)], tokenizer=tokenizer) == {}


def test_end_of_turn_inside_an_answer_blanks_the_labels(tokenizer):
    got = findings([rec(("human", PROMPT), ("gpt", "x = 1 </s> y = 2"))], tokenizer=tokenizer)
    msg = got[("labels.blanked", "error", 0)]
    assert "tokenization mismatch:" in msg and " vs. " in msg


def test_separator_inside_a_prompt_blanks_the_labels(tokenizer):
    got = findings([rec(("human", PROMPT + " ASSISTANT: hint"), ("gpt", cad_code(1)))], tokenizer=tokenizer)
    assert ("labels.blanked", "error", 0) in got and "tokenization mismatch: 1 vs." in got[
        ("labels.blanked", "error", 0)]


def test_image_placeholders(tokenizer):
    got = findings([rec(("human", PROMPT), ("gpt", "a <image> b"), index=0),
                    rec(("human", "What is the CAD code?"), ("gpt", "a"), index=1),
                    rec(("human", PROMPT), ("gpt", "a"), image=None, index=2),
                    rec(("human", "<image>\n<image> twice"), ("gpt", "a"), index=3)], tokenizer=tokenizer)
    placeholder = {k[2]: v for k, v in got.items() if k[0] == "labels.placeholders"}
    assert "mid-answer" in placeholder[0] and "silently ignored" in placeholder[1]
    assert "no image" in placeholder[2] and 3 not in placeholder   # twice in one question collapses to one


def test_multi_turn_and_legacy(sp_path):
    turns = [("human", PROMPT), ("gpt", cad_code(1, 2)), ("human", "And the next one?"), ("gpt", cad_code(2, 2))]
    assert findings([rec(*turns)], tokenizer=sp_path, legacy=True) == {}
    # without legacy the llama rule takes one token off each later round; this vocabulary differs by
    # another, so TinyLLaVA would blank the sample (as the reference test confirms)
    got = findings([rec(*turns)], tokenizer=sp_path, legacy=False)
    assert list(got) == [("labels.blanked", "error", 0)]


def test_empty_answer_is_an_error(tokenizer):
    got = findings([rec(("human", PROMPT), ("gpt", ""))], tokenizer=tokenizer)
    assert "zero-length supervised answer" in got[("labels.empty_supervision", "error", 0)]


def test_over_long_answer_reports_the_cut(sp_path):
    tok = load_tokenizer(sp_path)
    r = rec(("human", PROMPT), ("gpt", cad_code(4, 80)))
    a = analyse_records([r], tok, TEMPLATES["llama"], max_length=1500, image_tokens=728)[0]
    assert a.total_tokens > 1500
    assert a.truncated_answer_tokens == a.total_tokens - 1500        # the answer is the sample's tail
    got = findings([r], tokenizer=sp_path, max_length=1500)
    assert f"{a.truncated_answer_tokens} of {a.answer_tokens} answer tokens cut" in got[
        ("tokens.over_max_length", "warning", 0)]


def test_an_answer_cut_entirely_is_an_error(sp_path):
    """Layout: a prompt whose image tokens alone fill max_length (TinyLLaVA's old default of 512 against
    728 image tokens). Verdict: error, not the partial-cut warning. TinyLLaVA's collator truncates to
    model_max_length, every answer label falls past the cut, and the sample trains on nothing."""
    got = findings([rec(("human", PROMPT), ("gpt", cad_code(0)))], tokenizer=sp_path, max_length=740)
    msg = got[("tokens.over_max_length", "error", 0)]
    assert "the whole answer, so the sample trains on nothing" in msg


def test_mask_mismatch_when_the_rule_misses_without_blanking(sp_path):
    got = findings([rec(("human", PROMPT), ("gpt", ""))], tokenizer=sp_path)
    assert "1 prompt tokens learned" in got[("labels.mask_mismatch", "warning", 0)]


def test_token_columns_are_records_columns(sp_path):
    a = analyse_records([clean(0)], load_tokenizer(sp_path), TEMPLATES["llama"], max_length=2048,
                        image_tokens=728)[0]
    cols = token_columns(a)
    assert set(cols) <= set(RECORDS.names) and all(isinstance(v, int) for v in cols.values())
    assert token_columns(None) == dict.fromkeys(cols)
    assert analyse_records([rec(("human", PROMPT))], load_tokenizer(sp_path), TEMPLATES["llama"],
                           max_length=2048, image_tokens=728) == [None]


def test_pretrain_learns_all_but_the_image(sp_path):
    tok = load_tokenizer(sp_path)
    a = analyse_records([clean(2)], tok, TEMPLATES["pretrain"], max_length=4096, image_tokens=3)[0]
    assert not a.blanked and a.mismatch is None
    assert a.supervised_tokens_template == a.answer_tokens == len(tok.encode(cad_code(2) + "\n"))


def test_a_context_shorter_than_the_image_is_one_preflight_error(tmp_path):
    """Layout: a clean dataset checked with max_length 512 and 728 image tokens (TinyLLaVA's default
    model_max_length against SigLIP-384's tokens). Verdict: one dataset-level error, not a refused option,
    and each sample's answer-cut error. TinyLLaVA's collator cuts every image sample before its answer."""
    from harness.checks.runner import run_checks
    from tests.support.datasets import load, make_clean_dataset

    root = make_clean_dataset(tmp_path / "d", models=2, val_models=1)
    res = run_checks(load(root), CheckConfig(max_length=512, image_tokens=728))
    rows = res.findings.to_pylist()
    pre = [f for f in rows if f["check"] == "labels.context_too_short"]
    assert len(pre) == 1 and pre[0]["severity"] == "error" and "train on nothing" in pre[0]["message"]
    cut = [f for f in rows if f["check"] == "tokens.over_max_length"]
    assert cut and all(f["severity"] == "error" for f in cut)
    ok = run_checks(load(root), CheckConfig())
    assert not [f for f in ok.findings.to_pylist() if f["check"] == "labels.context_too_short"]
