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
import time
from pathlib import Path

import sentencepiece as spm


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
        from harness.data.defaults import default_dataset
        args.dataset = default_dataset(print)
    records = json.loads((args.dataset / "train.json").read_text()) + json.loads((args.dataset / "val.json").read_text())
    texts = [t["value"] for r in records for t in r["conversations"]]
    with tempfile.TemporaryDirectory() as tmp:
        model = train_tokenizer(texts[:20000], args.vocab, Path(tmp))
        sp = spm.SentencePieceProcessor(model_file=str(model))
        answers = [r["conversations"][1]["value"] for r in records]
        t0 = time.perf_counter()
        sp.encode(answers)
        peer = len(records) / (time.perf_counter() - t0)
        rates, walls = [], []
        for k in range(args.repeats):
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-m", "harness", "labels", str(args.dataset), "--tokenizer",
                                  str(model), "--out", str(Path(tmp) / f"run{k}")], capture_output=True, text=True)
            walls.append(time.perf_counter() - t0)
            m = re.search(r"\(([\d,]+) records/s\)", out.stdout)
            if m is None:
                sys.exit(f"harness labels printed no rate (exit {out.returncode}):\n{out.stdout}\n{out.stderr}")
            rates.append(float(m.group(1).replace(",", "")))
    rate = statistics.median(rates)
    print(f"{len(records):,} records, SentencePiece BPE vocab {args.vocab} (byte fallback, split digits)")
    print(f"harness labels: {rate:,.0f} records/s (median of {args.repeats}; runs {', '.join(f'{r:,.0f}' for r in rates)}); "
          f"whole process {statistics.median(walls):.2f} s")
    print(f"peer, SentencePiece encoding each answer once: {peer:,.0f} records/s; ratio {rate / peer:.2f}")
    print(f"goal 5,000 records/s: {'met' if rate >= 5000 else 'missed'}")


if __name__ == "__main__":
    main()
