"""``harness validate`` at 1K / 10K / 50K synthetic models: images/s past start-up, start-up, wall time and
the peak resident memory of the whole process tree (driver, Ray daemons, workers).

    python benchmarks/bench_validate.py --models 1000 [--models 10000 ...] [--workers N] [--cache DIR]

Goals: 50K models (150,000 images) in 3 minutes or less on 2 cores, peak tree RSS <= 2 GB. Datasets are
made once with ``harness synth`` and kept under --cache (default: $HARNESS_CACHE or ~/.cache/harness).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _proc import HARNESS, run_measured  # noqa: E402

GOAL_SECONDS_50K, GOAL_RSS = 180.0, 2 * 2**30


def cache_root(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    base = os.environ.get("HARNESS_CACHE") or Path.home() / ".cache" / "harness"
    return Path(base) / "bench"


def dataset(models: int, cache: Path) -> Path:
    """The synthetic dataset of ``models`` models, made once (a marker says it is complete)."""
    root = cache / f"synth-{models}"
    if (root / ".complete").exists():
        return root
    t0 = time.perf_counter()
    res, wall, _ = run_measured([sys.executable, *HARNESS, "synth", str(root), "--models", str(models),
                                 "--overwrite"])
    if res.returncode != 0:
        sys.exit(f"harness synth failed:\n{res.stderr[-2000:]}")
    (root / ".complete").write_text("ok\n")
    print(f"synth {models:,} models: {time.perf_counter() - t0:.1f}s ({res.stdout.strip()})")
    return root


def replicated(models: int, base_models: int, cache: Path) -> Path:
    """``models`` models made of copies of the ``base_models`` synthetic set: hard links under new model
    ids, records copied. For scale when synthesising every model would take hours (synth renders ~8
    models/s on 2 cores). Every image has exact copies, so duplicate findings abound: a worst case for
    the findings tables, the same per-image work as unique images."""
    root = cache / f"replicated-{models}-from-{base_models}"
    if (root / ".complete").exists():
        return root
    base = dataset(base_models, cache)
    t0 = time.perf_counter()
    if root.exists():
        shutil.rmtree(root)
    (root / "images").mkdir(parents=True)
    names = sorted(os.listdir(base / "images"))
    splits = {s: json.loads((base / f"{s}.json").read_text()) for s in ("train", "val")}
    out = {"train": [], "val": []}
    for k in range(-(-models // base_models)):
        for name in names:
            os.link(base / "images" / name, root / "images" / f"r{k}x{name}")
        for s, recs in splits.items():
            for r in recs:
                out[s].append({**r, "id": f"r{k}x{r['id']}", "image": f"r{k}x{r['image']}"})
    for s, recs in out.items():
        (root / f"{s}.json").write_text(json.dumps(recs))
    (root / ".complete").write_text("ok\n")
    print(f"replicated {base_models:,} -> {models:,} models: {time.perf_counter() - t0:.1f}s")
    return root


def bench(models: int, cache: Path, workers: int | None, extra: list[str], base: int | None = None) -> dict:
    root = replicated(models, base, cache) if base else dataset(models, cache)
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
        cmd = [sys.executable, *HARNESS, "validate", str(root), "--out", tmp, *extra]
        if workers:
            cmd += ["--workers", str(workers)]
        res, wall, peak = run_measured(cmd, env={**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"})
        if res.returncode not in (0, 1):
            sys.exit(f"harness validate failed ({res.returncode}):\n{res.stderr[-3000:]}")
        ex = json.loads((Path(tmp) / "run.json").read_text())["execution"]
    row = {"models": models, "images": ex["images_measured"], "executor": ex["executor"],
           "nodes": len(ex["nodes"]), "images_per_s": ex["images_per_s"], "startup_seconds": ex["startup_seconds"],
           "validate_seconds": ex["wall_seconds"], "process_seconds": wall, "peak_tree_rss_bytes": peak,
           "exit_code": res.returncode}
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=int, action="append", help="1000, 10000, 50000 (repeatable)")
    ap.add_argument("--workers", type=int)
    ap.add_argument("--cache")
    ap.add_argument("--ship-bytes", action="store_true")
    ap.add_argument("--replicate-from", type=int, metavar="BASE",
                    help="make each N-model set of copies of the BASE-model synthetic set (see replicated())")
    ap.add_argument("--json", action="store_true", help="print rows as JSON lines too")
    args = ap.parse_args()
    cache = cache_root(args.cache)
    extra = ["--ship-bytes"] if args.ship_bytes else []
    print(f"{'models':>7} {'images':>8} {'exec':>5} {'images/s':>9} {'start s':>8} {'validate s':>10} "
          f"{'process s':>9} {'peak RSS GB':>11}  goal (50K models = 150,000 images)")
    for n in args.models or [1000]:
        r = bench(n, cache, args.workers, extra, args.replicate_from)
        # 150,000 images at the measured rate, plus the measured start-up: the 50K goal's yardstick.
        projected = (r["startup_seconds"] or 0) + 150_000 / (r["images_per_s"] or float("nan"))
        ok = projected <= GOAL_SECONDS_50K and r["peak_tree_rss_bytes"] <= GOAL_RSS
        print(f"{r['models']:>7,} {r['images']:>8,} {r['executor']:>5} {r['images_per_s'] or 0:>9,.0f} "
              f"{r['startup_seconds'] or 0:>8.1f} {r['validate_seconds']:>10.1f} {r['process_seconds']:>9.1f} "
              f"{r['peak_tree_rss_bytes'] / 2**30:>11.2f}  150K images projected {projected:.0f} s: "
              f"{'met' if ok else 'missed'} (<= 180 s, <= 2 GB)" + ("  [replicated]" if args.replicate_from else ""))
        if args.json:
            print(json.dumps(r))


if __name__ == "__main__":
    main()
