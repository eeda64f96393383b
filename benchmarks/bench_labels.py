"""Label analysis throughput: 3,300 synthetic-like records, a SentencePiece tokenizer trained here.

Answers are OpenECAD-style code of 160 to 27,000 characters (median about 1,000), one record per image as
the synthetic datasets have them. Times ``analyse_records`` (the tokenisation and both masks) over all
records, median of ``--repeats`` runs after one warm-up (the analyser's piece cache fresh each run, the tokenizer's
word cache warm); prints records/s beside SentencePiece encoding every answer once, timed in the same run.

    python benchmarks/bench_labels.py [--records 3300] [--repeats 5] [--vocab 4000] [--template llama]
"""
from __future__ import annotations

import argparse
import io
import json
import random
import sys
import tempfile
from pathlib import Path

import sentencepiece as spm

from harness.data import load_dataset, resolve_dataset
from harness.text.analysis import Analyser
from harness.text.templates import SYSTEM, get_template
from harness.text.tokenizers import load_tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import repeat  # noqa: E402

PROMPT = "<image>\nWhat is the CAD code for this 3D model?"


def cad_answer(rng: random.Random, chars: int) -> str:
    """OpenECAD-like code of about ``chars`` characters."""
    out = ["SketchPlane0 = add_sketchplane(", "\torigin= [0., 0., 0.], normal= [0., 0., 1.], x_axis= [1., 0., 0.])",
           "Loops0 = []", "Curves0_0 = []"]
    size, k = sum(map(len, out)), 0
    while size < chars:
        kind = rng.random()
        if kind < 0.7:
            line = (f"Line0_0_{k} = add_line(start= [{rng.uniform(-80, 80):.4f}, {rng.uniform(-80, 80):.4f}], "
                    f"end= [{rng.uniform(-80, 80):.4f}, {rng.uniform(-80, 80):.4f}])")
        elif kind < 0.9:
            line = (f"Arc0_0_{k} = add_arc(start= [{rng.uniform(-80, 80):.4f}, {rng.uniform(-80, 80):.4f}], "
                    f"end= [{rng.uniform(-80, 80):.4f}, {rng.uniform(-80, 80):.4f}], "
                    f"mid= [{rng.uniform(-80, 80):.4f}, {rng.uniform(-80, 80):.4f}])")
        else:
            line = (f"Circle0_0_{k} = add_circle(center= [{rng.uniform(-80, 80):.4f}, 0.], "
                    f"radius= {rng.uniform(1, 30):.4f})")
        out.append(line)
        size, k = size + len(line) + 1, k + 1
    out += ["Loop0_0 = add_loop(Curves0_0)", "Profile0 = add_profile(Loops0)",
            "Sketch0 = add_sketch(sketch_plane= SketchPlane0, profile= Profile0)",
            f"Extrude0 = add_extrude(sketch= Sketch0, operation= 0, type= 0, extent_one= {rng.uniform(5, 50):.4f})"]
    return "\n".join(out) + "\n"


def answer_length(rng: random.Random) -> int:
    return int(min(27_000, max(160, rng.lognormvariate(6.9, 0.45) if rng.random() > 0.01 else rng.uniform(8e3, 27e3))))


def write_dataset(root: Path, records: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    (root / "images").mkdir(parents=True)
    items = [{"id": f"{i // 3:08d}_{('front', 'top', 'right')[i % 3]}",
              "image": f"{i // 3:08d}_{('front', 'top', 'right')[i % 3]}.png",
              "conversations": [{"from": "human", "value": PROMPT},
                                {"from": "gpt", "value": cad_answer(rng, answer_length(rng))}]}
             for i in range(records)]
    n_val = records // 11
    (root / "train.json").write_text(json.dumps(items[n_val:]))
    (root / "val.json").write_text(json.dumps(items[:n_val]))
    return root


def train_tokenizer(path: Path, vocab: int, seed: int = 1) -> Path:
    rng = random.Random(seed)
    texts = [f"{SYSTEM} USER: {PROMPT} ASSISTANT: {cad_answer(rng, answer_length(rng))}" for _ in range(400)]
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts), model_writer=buf, model_type="bpe", vocab_size=vocab, byte_fallback=True,
        split_digits=True, unk_id=0, bos_id=1, eos_id=2, pad_id=-1, normalization_rule_name="identity",
        remove_extra_whitespaces=False, hard_vocab_limit=False, max_sentence_length=1 << 16, minloglevel=2)
    path.write_bytes(buf.getvalue())
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=3300)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--vocab", type=int, default=4000)
    ap.add_argument("--template", default="llama")
    ap.add_argument("--keep", type=Path, default=None, help="write the dataset and tokenizer here and keep them")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        data = write_dataset(root / "data", args.records)
        tok_path = train_tokenizer(root / "tokenizer.model", args.vocab)
        records = load_dataset(resolve_dataset(data)).all_records()
        chars = sorted(len(r.answer) for r in records)
        tok = load_tokenizer(tok_path)
        tpl = get_template(args.template)
        # a fresh analyser (empty piece cache) for each run, made untimed; one warm-up run (imports, allocators)
        ours = repeat(lambda analyser: analyser.analyse(records), args.repeats,
                      setup=lambda: Analyser(tok, tpl, max_length=2048, image_tokens=728))
        med, out = ours.median, ours.result
        # the peer: SentencePiece alone encoding every answer once, the floor of a one-pass analysis
        answers = [r.answer for r in records]
        peer_med = repeat(lambda: tok._sp.encode_as_numpy(answers), args.repeats, warmup=0).median
        tokens = sum(a.answer_tokens for a in out if a)
        print(f"records {len(records)}  answer chars median {chars[len(chars) // 2]} max {chars[-1]}  "
              f"answer tokens {tokens}  vocab {tok_path.name}:{args.vocab}  template {args.template}")
        print(f"analyse_records: median {med * 1e3:.1f} ms over {args.repeats} runs "
              f"-> {len(records) / med:,.0f} records/s ({tokens / med / 1e6:.2f} M answer tokens/s)")
        print(f"peer, SentencePiece encoding each answer once: {peer_med * 1e3:.1f} ms "
              f"-> {len(records) / peer_med:,.0f} records/s; analysis / peer time = {med / peer_med:.2f}")


if __name__ == "__main__":
    main()
