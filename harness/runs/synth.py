"""The dataset writer behind ``harness synth``: models -> code + rendered views -> LLaVA-format splits.

Models are made (or imported from DeepCAD) and rendered in worker processes, which write their PNGs
straight into the image folder; the parent gathers (id, code, failure) and writes the split files last.
The parent compiles the render kernels (or loads them from numba's cache) before it forks the workers, so
they inherit the machine code: nothing is compiled twice and no worker re-imports numba. Images are plain
writes, not fsync'd atomic ones (a fsync per image cost ~4 ms): the folder as a whole is what is atomic.
A fresh dataset is built in a temporary sibling folder and renamed into place, so an interrupted run
never leaves a half dataset at OUT; ``--overwrite`` swaps the old folder out only when the new one is done.
An import from DeepCAD writes into OUT directly and resumes: a model whose code and views exist is skipped.
With ``ray_address`` the chunks run as Ray tasks on that cluster instead (the same chunk functions; every
node writes into OUT's folder at the same path, so OUT must be on a shared file system); a chunk whose
task fails after Ray's retries becomes a failure entry for each of its models, like a model that fails.
"""
from __future__ import annotations

import concurrent.futures as cf
import functools
import multiprocessing as mp
import os
import shutil
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.cad import deepcad, render
from harness.cad.code import to_code
from harness.cad.generate import generate, model_id
from harness.config import SynthConfig
from harness.errors import HarnessError, UsageError
from harness.execution import RayExecutor
from harness.results.metadata import config_dict
from harness.results.write import write_json, write_text

PROMPTS = (
    "What is the CAD code for this 3D model?",
    "Write the OpenECAD code that builds the part in this image.",
    "Generate CAD construction code for the object shown.",
    "Which sketch and extrude steps make this 3D model?",
    "Describe this part as OpenECAD sketch-and-extrude code.",
)
ANSWER_FLOOR_NOTE = (
    "The shortest possible answer is one whole sketch+extrude block: a plane, a loop of one circle or four "
    "lines, a profile, a sketch and an extrude print as ~370-410 characters, so no answer is shorter "
    "(DeepCAD/OpenECAD answers under that, e.g. the seed's 160, cannot hold a whole model). The long tail "
    "(about 1 model in 110: 3-9 steps of up to 60-sided profiles) reaches ~26,000 characters.")
CHUNK = 8   # models per task: small enough to balance heavy-tailed render times


@dataclass
class SynthSummary:
    out: Path
    models: int
    train_models: int
    val_models: int
    train_records: int
    val_records: int
    images: int
    seconds: float
    failures: list[tuple[str, str]] = field(default_factory=list)


def _synth_chunk(seed: int, indices: list[int], views: tuple[str, ...], size: int, images: str):
    out = []
    for i in indices:
        mid = model_id(seed, i)
        try:
            model = generate(seed, i)
            code = to_code(model)
            for view, png in render.render_pngs(model, views, size).items():
                (Path(images) / f"{mid}_{view}.png").write_bytes(png)
            out.append((mid, code, None))
        except Exception as e:  # a model that fails is a finding of the run, not a crash
            out.append((mid, None, f"{type(e).__name__}: {e}"))
    return out


def _import_chunk(paths: list[str], views: tuple[str, ...], size: int, root: str):
    out = []
    for p in paths:
        mid = Path(p).stem
        code_path = Path(root) / "code" / f"{mid}.txt"
        pngs = [Path(root) / "images" / f"{mid}_{v}.png" for v in views]
        if code_path.exists() and all(q.exists() for q in pngs):   # resume: already written
            out.append((mid, code_path.read_text(), None))
            continue
        try:
            model, code = deepcad.load(p)
            for view, png in render.render_pngs(model, views, size).items():
                (Path(root) / "images" / f"{mid}_{view}.png").write_bytes(png)
            write_text(code_path, code)      # last: its presence marks the model complete
            out.append((mid, code, None))
        except Exception as e:
            out.append((mid, None, f"{type(e).__name__}: {e}"))
    return out


def _start_method() -> str:
    """'fork' on Linux: the render kernels are serial (no numba thread pool exists to break), and forked
    workers start in milliseconds with the parent's compiled kernels. 'spawn' elsewhere."""
    return "fork" if sys.platform.startswith("linux") else "spawn"


def _apply(fn, args: tuple) -> list:
    """One chunk on a Ray worker: the kernels from numba's cache (compiled by the driver), then the chunk."""
    render.warm_up()
    return fn(*args)


def _chunk_ids(fn, args: tuple) -> list[str]:
    """The model ids of a chunk, for failure entries when its whole task failed."""
    if fn is _synth_chunk:
        seed, indices = args[0], args[1]
        return [model_id(seed, i) for i in indices]
    return [Path(p).stem for p in args[0]]


def _run_on_ray(tasks, fn, address: str) -> list:
    by_chunk: dict[int, list] = {}
    with RayExecutor(address=address, preload=("harness.cad.render",)) as ex:
        for res in ex.map_chunks(functools.partial(_apply, fn), tasks):
            if res.error is None:
                by_chunk[res.index] = res.value
            else:
                why = f"task failed after retries: {res.error}"
                by_chunk[res.index] = [(mid, None, why) for mid in _chunk_ids(fn, tasks[res.index])]
    # Chunk order, not completion order: the splits and each record's prompt follow the model order.
    return [r for i in sorted(by_chunk) for r in by_chunk[i]]


def _run(tasks, fn, workers: int, ray_address: str | None = None) -> list:
    render.warm_up()      # compile once, here, before any worker exists (Ray workers load numba's cache)
    if ray_address is not None:
        return _run_on_ray(tasks, fn, ray_address)
    if workers <= 1 or len(tasks) <= 1:
        return [r for args in tasks for r in fn(*args)]
    ctx = mp.get_context(_start_method())
    with cf.ProcessPoolExecutor(min(workers, len(tasks)), mp_context=ctx) as pool:
        return [r for res in pool.map(fn, *zip(*tasks)) for r in res]


def _prepare(cfg: SynthConfig) -> tuple[Path, bool]:
    """(folder to write into, whether it is a temporary one to rename to OUT at the end)."""
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a folder")
    busy = out.exists() and any(out.iterdir())
    resumable = cfg.from_deepcad is not None and (out / "code").is_dir()
    if busy and not cfg.overwrite and not resumable:
        raise UsageError(f"{out} exists and is not empty (use --overwrite to replace it)")
    if cfg.from_deepcad is not None and not cfg.overwrite:
        return out, False
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
    return tmp, True


def _swap_in(tmp: Path, out: Path) -> None:
    old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def _split(cfg: SynthConfig, ids: list[str]) -> set[str]:
    """Val model ids: from the split file, else a seeded choice of ``val_count`` models."""
    if cfg.split_file is not None:
        return deepcad.split_ids(cfg.split_file)[1]
    n_val = cfg.val_count(len(ids))
    pick = np.random.default_rng([cfg.seed, 0x5EED]).choice(len(ids), size=n_val, replace=False)
    return {ids[k] for k in pick}


def _record(mid: str, view: str, code: str, k: int) -> dict:
    prompt = PROMPTS[k % len(PROMPTS)]
    return {"id": f"{mid}_{view}", "image": f"{mid}_{view}.png",
            "conversations": [{"from": "human", "value": f"<image>\n{prompt}"},
                              {"from": "gpt", "value": code}]}


def synthesize(cfg: SynthConfig) -> SynthSummary:
    t0 = time.perf_counter()
    out = Path(cfg.out)
    work, temporary = _prepare(cfg)
    (work / "images").mkdir(parents=True, exist_ok=True)
    workers = cfg.workers or os.cpu_count() or 1
    try:
        if cfg.from_deepcad is not None:
            paths = deepcad.find_models(cfg.from_deepcad, cfg.limit, cfg.split_file)
            if not paths:
                raise UsageError(f"no cad_json files under {cfg.from_deepcad}")
            tasks = [(paths[a:a + CHUNK], cfg.views, cfg.size, str(work)) for a in range(0, len(paths), CHUNK)]
            results = _run(tasks, _import_chunk, workers, cfg.ray_address)
        else:
            idx = list(range(cfg.models))
            tasks = [(cfg.seed, idx[a:a + CHUNK], cfg.views, cfg.size, str(work / "images"))
                     for a in range(0, len(idx), CHUNK)]
            results = _run(tasks, _synth_chunk, workers, cfg.ray_address)
        good = [(mid, code) for mid, code, err in results if err is None]
        failures = [(mid, err) for mid, code, err in results if err is not None]
        if not good:
            raise HarnessError(f"no model could be made ({len(failures)} failures; first: {failures[:1]})")
        val_ids = _split(cfg, [m for m, _ in good])
        if cfg.split_file is None and len(val_ids) >= len(good):
            raise UsageError("--val-models must leave at least one train model")
        splits: dict[str, list[dict]] = {"train": [], "val": []}
        for n, (mid, code) in enumerate(good):
            recs = splits["val" if mid in val_ids else "train"]
            recs.extend(_record(mid, v, code, n * len(cfg.views) + k) for k, v in enumerate(cfg.views))
        lengths = np.array([len(c) for _, c in good])
        seconds = time.perf_counter() - t0
        n_val = sum(mid in val_ids for mid, _ in good)
        summary = SynthSummary(out=out, models=len(good), train_models=len(good) - n_val, val_models=n_val,
                               train_records=len(splits["train"]), val_records=len(splits["val"]),
                               images=len(good) * len(cfg.views), seconds=seconds, failures=failures)
        write_json(work / "train.json", splits["train"])
        write_json(work / "val.json", splits["val"])
        write_json(work / "synth.json", {
            "config": config_dict(cfg), "models": summary.models, "train_models": summary.train_models,
            "val_models": summary.val_models, "train_records": summary.train_records,
            "val_records": summary.val_records, "images": summary.images, "seconds": seconds,
            "failures": [list(f) for f in failures],
            "answer_chars": {"min": int(lengths.min()), "mean": float(lengths.mean()),
                             "median": float(np.median(lengths)), "max": int(lengths.max()),
                             "note": ANSWER_FLOOR_NOTE}})
        if temporary:
            _swap_in(work, out)
    except BaseException:
        if temporary:
            shutil.rmtree(work, ignore_errors=True)
        raise
    return summary
