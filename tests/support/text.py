"""Tokenizers built inside the tests (no download) and record builders, shared by the text/label tests.

``train_sentencepiece(path, vocab_size)``: a Llama-recipe SentencePiece BPE (byte fallback, split digits,
identity normalisation keeping whitespace, <unk>=0 <s>=1 </s>=2, no pad) trained from an in-memory corpus
of chat-formatted CAD code.
``train_bpe(path, pre="metaspace"|"bytelevel")``: a ``tokenizers`` BPE with <s> </s> <unk> <pad> specials and
a post-processor that prepends <s>, saved as tokenizer.json.
"""
from __future__ import annotations

import io
import random
from pathlib import Path

import pytest

from harness.data.records import Record, parse_record
from harness.text.templates import SYSTEM

PROMPT = "<image>\nWhat is the CAD code for this 3D model?"


def cad_code(seed: int, lines: int = 12) -> str:
    rng = random.Random(seed)
    out = ["SketchPlane0 = add_sketchplane(origin= [0., 0., 0.], normal= [0., 0., 1.])", "Loops0 = []"]
    for k in range(lines):
        out.append(f"Line0_0_{k} = add_line(start= [{rng.uniform(-50, 50):.4f}, {rng.uniform(-50, 50):.4f}], "
                   f"end= [{rng.randint(-60, 60)}, {rng.randint(-60, 60)}])")
    out += ["Profile0 = add_profile(Loops0)", "Extrude0 = add_extrude(sketch= Sketch0, operation= 0)"]
    return "\n".join(out) + "\n"


def corpus(n: int = 300):
    for i in range(n):
        yield f"{SYSTEM} USER: {PROMPT} ASSISTANT: {cad_code(i)}"
        yield "What does this part look like? Describe the sketch and the extrusion in a few words."


def train_sentencepiece(path: Path, vocab_size: int = 600) -> Path:
    import sentencepiece as spm
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=corpus(), model_writer=buf, model_type="bpe", vocab_size=vocab_size,
        byte_fallback=True, split_digits=True, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        normalization_rule_name="identity", remove_extra_whitespaces=False, allow_whitespace_only_pieces=True,
        hard_vocab_limit=False, max_sentence_length=1 << 16, num_threads=1, minloglevel=2)
    path.write_bytes(buf.getvalue())
    return path


def train_bpe(path: Path, pre: str = "metaspace", vocab_size: int = 600) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    if pre == "metaspace":
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
        tok.decoder = decoders.Metaspace()
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
    alphabet = pre_tokenizers.ByteLevel.alphabet() if pre != "metaspace" else []
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<unk>", "<s>", "</s>", "<pad>"],
                                  initial_alphabet=alphabet, show_progress=False)
    tok.train_from_iterator(corpus(), trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    tok.save(str(path))
    return path


def rec(*turns: tuple[str, str], image: str | None = "m_front.png", split: str = "train", index: int = 0) -> Record:
    raw = {"id": f"r{index}", "conversations": [{"from": f, "value": v} for f, v in turns]}
    if image is not None:
        raw["image"] = image
    return parse_record(split, index, raw)


def clean(seed: int = 0, **kw) -> Record:
    return rec(("human", PROMPT), ("gpt", cad_code(seed)), **kw)


@pytest.fixture(scope="session")
def sp_path(tmp_path_factory) -> Path:
    return train_sentencepiece(tmp_path_factory.mktemp("sp") / "tokenizer.model")


@pytest.fixture(scope="session")
def bpe_path(tmp_path_factory) -> Path:
    return train_bpe(tmp_path_factory.mktemp("bpe") / "tokenizer.json")


@pytest.fixture(scope="session")
def bytelevel_path(tmp_path_factory) -> Path:
    return train_bpe(tmp_path_factory.mktemp("bl") / "tokenizer.json", pre="bytelevel")
