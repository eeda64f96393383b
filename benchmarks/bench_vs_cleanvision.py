"""``harness validate`` against cleanvision (Imagelab) on the same image folder and the same cores.

    python benchmarks/bench_vs_cleanvision.py --models 1000 [--workers 2] [--cache DIR]

Both run in their own process. cleanvision: images / ``find_issues`` seconds (its default issue types,
``n_jobs`` = the workers); its start-up is the import plus ``Imagelab(data_path=...)``. harness: images
measured after the first result / the time after it, start-up (Ray start + first result) reported
apart, from the run's ``run.json``. The ratio is of the two images/s figures; wall times are printed too.
Goal: >= 20x cleanvision, start-up < 5 s. cleanvision is a benchmark dependency (pyproject extra ``bench``).
"""
from __future__ import annotations

import argparse
import importlib.metadata as md
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _proc import HARNESS, run_measured  # noqa: E402
from bench_validate import cache_root, dataset  # noqa: E402

CLEANVISION_RUN = r"""
import json, sys, time
t0 = time.perf_counter()
from cleanvision import Imagelab
t1 = time.perf_counter()
lab = Imagelab(data_path=sys.argv[1])
t2 = time.perf_counter()
lab.find_issues(n_jobs=int(sys.argv[2]), verbose=False)
t3 = time.perf_counter()
n = len(lab.issues)
print(json.dumps({"images": n, "import_seconds": t1 - t0, "init_seconds": t2 - t1, "find_seconds": t3 - t2,
                  "issues": {k: int(v) for k, v in lab.issue_summary.set_index("issue_type")["num_images"].items()}}))
"""


def ensure_cleanvision() -> None:
    if importlib.util.find_spec("cleanvision") is not None:
        return
    try:
        md.version("pillow-simd")
        simd = True
    except md.PackageNotFoundError:
        simd = False
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    if simd:
        # A plain install would pull stock Pillow over pillow-simd (it only knows the name "pillow").
        cmd = pip + ["--no-deps", "cleanvision", "imagehash", "PyWavelets", "pandas", "tabulate", "tqdm",
                     "fsspec", "scipy"]
    else:
        cmd = pip + ["cleanvision"]
    print("installing cleanvision (benchmark dependency):", " ".join(cmd[3:]))
    subprocess.run(cmd, check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--cache")
    args = ap.parse_args()
    ensure_cleanvision()
    root = dataset(args.models, cache_root(args.cache))

    cv, cv_wall, cv_rss = run_measured([sys.executable, "-c", CLEANVISION_RUN, str(root / "images"),
                                        str(args.workers)])
    if cv.returncode != 0:
        sys.exit(f"cleanvision failed:\n{cv.stderr[-3000:]}")
    c = json.loads(cv.stdout.strip().splitlines()[-1])
    c_ips = c["images"] / c["find_seconds"]

    with tempfile.TemporaryDirectory(prefix="bench-cv-") as tmp:
        hv, h_wall, h_rss = run_measured(
            [sys.executable, *HARNESS, "validate", str(root), "--out", tmp, "--workers", str(args.workers)],
            env={**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"})
        if hv.returncode not in (0, 1):
            sys.exit(f"harness validate failed:\n{hv.stderr[-3000:]}")
        h = json.loads((Path(tmp) / "run.json").read_text())["execution"]

    print(f"{args.models:,} models, {c['images']:,} images, {args.workers} workers")
    print(f"{'':12} {'images/s':>9} {'start-up s':>10} {'wall s':>7} {'peak RSS GB':>11}")
    print(f"{'cleanvision':12} {c_ips:>9,.0f} {c['import_seconds'] + c['init_seconds']:>10.1f} {cv_wall:>7.1f} "
          f"{cv_rss / 2**30:>11.2f}   issues: {c['issues']}")
    print(f"{'harness':12} {h['images_per_s']:>9,.0f} {h['startup_seconds']:>10.1f} {h_wall:>7.1f} "
          f"{h_rss / 2**30:>11.2f}   ({h['images_measured']:,} images measured)")
    ratio = h["images_per_s"] / c_ips
    print(f"ratio (images/s past start-up): {ratio:.1f}x  [goal >= 20x]; wall-time ratio: {cv_wall / h_wall:.1f}x; "
          f"harness start-up {h['startup_seconds']:.1f} s [goal < 5 s]")


if __name__ == "__main__":
    main()
