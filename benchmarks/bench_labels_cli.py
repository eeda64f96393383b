"""`harness labels` on the default synthetic dataset with a SentencePiece tokenizer: records/s (goal 5,000).

Trains a SentencePiece BPE (byte fallback, split digits, as Llama's) on the dataset's own text, then runs
the command as a user would, in a subprocess, and reads the records/s it reports (analysis and checks, not
start-up). Peer in the same run: SentencePiece encoding every answer once in this process.

    python benchmarks/bench_labels_cli.py [--dataset DIR] [--vocab 4000] [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import sentencepiece as spm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import repeat  # noqa: E402


def train_tokenizer(texts: list[str], vocab: int, out: Path) -> Path:
    spm.SentencePieceTrainer.train(sentence_iterator=iter(texts), model_prefix=str(out / "tok"), vocab_size=vocab,
                                   model_type="bpe", byte_fallback=True, split_digits=True, bos_id=1, eos_id=2,
                                   unk_id=0, pad_id=-1, minloglevel=2, hard_vocab_limit=False)
    return out / "tok.model"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, default=None)
    ap.add_argument("--vocab", type=int, default=4000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if args.dataset is None:
        from harness.runs.defaults import default_dataset
        args.dataset = default_dataset(print)
    records = [r for split in ("train", "val") for r in json.loads((args.dataset / f"{split}.json").read_text())]
    texts = [t["value"] for r in records for t in r["conversations"]]
    with tempfile.TemporaryDirectory() as tmp:
        model = train_tokenizer(texts[:20000], args.vocab, Path(tmp))
        sp = spm.SentencePieceProcessor(model_file=str(model))
        answers = [r["conversations"][1]["value"] for r in records]
        peer = len(records) / repeat(lambda: sp.encode(answers), 1, warmup=0).median
        rates: list[float] = []
        run_dirs = (Path(tmp) / f"run{k}" for k in range(args.repeats))

        def one_run() -> None:
            out = subprocess.run([sys.executable, "-m", "harness", "labels", str(args.dataset), "--tokenizer",
                                  str(model), "--out", str(next(run_dirs))], capture_output=True, text=True)
            m = re.search(r"\(([\d,]+) records/s\)", out.stdout)
            if m is None:
                sys.exit(f"harness labels printed no rate (exit {out.returncode}):\n{out.stdout}\n{out.stderr}")
            rates.append(float(m.group(1).replace(",", "")))
        walls = repeat(one_run, args.repeats, warmup=0)
    rate = statistics.median(rates)
    print(f"{len(records):,} records, SentencePiece BPE vocab {args.vocab} (byte fallback, split digits)")
    runs = ", ".join(f"{r:,.0f}" for r in rates)
    print(f"harness labels: {rate:,.0f} records/s (median of {args.repeats}; runs {runs}); "
          f"whole process {walls.median:.2f} s")
    print(f"peer, SentencePiece encoding each answer once: {peer:,.0f} records/s; ratio {rate / peer:.2f}")
    print(f"goal 5,000 records/s: {'met' if rate >= 5000 else 'missed'}")


if __name__ == "__main__":
    main()
