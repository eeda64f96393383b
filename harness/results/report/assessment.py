"""The judgement sections of the dry-run report: quality, pipeline, comparison with the seed, what the
seed missed, risk and next steps. Each reads the run's tables (and the loader/training results)."""
from __future__ import annotations

from collections import Counter

from harness.checks.catalogue.dataset import model_leakage
from harness.checks.catalogue.duplicates import image_copied_across_splits, same_picture_across_splits
from harness.checks.catalogue.labels import blanked, over_max_length, placeholders
from harness.checks.catalogue.records import placeholder_parameters
from harness.results.format import col, count_checks, md_table
from harness.results.summary import findings_by_check

# What the seed's own data would have hit, and the check ids that catch it (first matching prefix).
SEED_BLIND_SPOTS = (
    ("answers with placeholder parameters (`...`)", (placeholder_parameters.id,)),
    ("answers longer than the context (cut without warning)", (over_max_length.id,)),
    ("the same model in train and val (leakage)", (model_leakage.id,)),
    ("an image copied across splits", (image_copied_across_splits.id, same_picture_across_splits.id)),
    ("a prompt without `<image>` (the image is silently ignored)", (placeholders.id,)),
    ("labels blanked by the chat template (loss 0.0 all run)", (blanked.id,)),
)


# The seed's own figures (its report, December 2025), shown beside this run's.
SEED = {"params": 652_000, "first_train_loss": 5.1745, "last_train_loss": 1.6307, "step_seconds": 0.178,
        "device": "MPS (Apple Silicon)", "samples": "16 train, 4 val", "reduction_pct": 68.5}


def section_quality(tables) -> str:
    img, rec, fnd = tables["images"], tables["records"], tables["findings"]
    ok = [r for r in img.to_pylist() if r["decode_ok"]]
    sizes = Counter((r["width_px"], r["height_px"]) for r in ok)
    modes = Counter(r["mode"] for r in ok)
    errors = Counter(r["check"] for r in fnd.to_pylist() if r["severity"] == "error")
    record_errors = sum(n for c, n in errors.items() if c.startswith(("record.", "labels.")))
    ac = col(rec, "answer_chars")
    strengths = []
    if len(sizes) == 1 and ok:
        (w, h), = sizes
        strengths.append(f"Consistent resolution: all {len(ok):,} decoded images are {w}x{h}")
    if len(modes) == 1 and ok:
        strengths.append(f"Uniform colour mode: {next(iter(modes))}")
    if record_errors == 0 and rec.num_rows:
        strengths.append(f"Valid TinyLLaVA conversation structure in all {rec.num_rows:,} records")
    if not any(c.startswith("image.") for c in errors):
        strengths.append("No missing, truncated or corrupt image file")
    if ac:
        strengths.append(f"Varied complexity: answers of {min(ac):,} to {max(ac):,} characters")
    disk = sum(col(img, "file_bytes"))
    if ok:
        strengths.append(f"Compact storage: {disk / 2**20:.1f} MiB on disk, {disk / len(ok) / 1024:.1f} KB per image")
    observations = [f"`{c}` ×{n}: {m[:100]}" for s, c, n, m in findings_by_check(fnd)
                    if s in ("warning", "error")]
    lines = ["## Dataset quality assessment", "", "**Strengths** (measured):", ""]
    lines += [f"{i}. {x}" for i, x in enumerate(strengths, 1)] or ["none measured"]
    lines += ["", "**Observations** (from the findings):", ""]
    lines += [f"{i}. {x}" for i, x in enumerate(observations[:10], 1)] or ["none"]
    return "\n".join(lines)


def section_pipeline(tests, loader, train, analysis) -> str:
    status = {t["test"]: t["status"] for t in tests}
    mark = lambda ok: "✓" if ok else "✗"  # noqa: E731
    rows = [
        ["Data loading (JSON parse, image decode)", mark(status.get("dataset_validation") == "passed"),
         "every record parsed and checked; every image decoded strictly (CRC, truncation, limits)"],
        ["Preprocessing (resize, normalise, tokenise)",
         mark(loader is not None and loader["pairs_ok"] == loader["pairs_checked"]),
         "" if loader is None else
         f"{loader['pairs_ok']}/{loader['pairs_checked']} samples re-derived independently and matched"],
        ["Batching and collation", mark(status.get("data_loader") == "passed"),
         "" if loader is None else f"{loader['batches']:,} batches of {loader['batch_size']}, shapes and dtypes checked"],
        ["Forward, loss, backward, optimiser", mark(analysis is not None and analysis.converging),
         "" if analysis is None else f"loss fell {analysis.train_reduction_pct:.1f}% over {analysis.epochs} epochs"],
        ["Metrics tracking", mark(train is not None),
         "" if train is None else f"{len(train.batches)} batch rows, {len(train.epochs)} epoch rows, timings, peak memory"],
    ]
    hw = "" if train is None else (f"\n\n**Hardware performance**: {train.device}, {train.steady_step_seconds:.3f} s per "
                                   f"batch of {train.samples_per_s * train.steady_step_seconds:.0f}, "
                                   f"{train.peak_memory_bytes / 2**20:.0f} MiB peak ({train.peak_memory_kind}).")
    return "## Training pipeline validation\n\n" + md_table(["component", "ok", "evidence"], rows) + hw


def section_versus_seed(train, analysis) -> str:
    if train is None or analysis is None:
        return ""
    rows = [
        ["proxy parameters", f"{SEED['params']:,}", f"{train.params:,}"],
        ["samples", SEED["samples"], f"{train.train_samples} train, {train.val_samples} val"],
        ["device", SEED["device"], train.device],
        ["initial train loss", f"{SEED['first_train_loss']:.4f}", f"{analysis.train_losses[0]:.4f}"],
        ["final train loss", f"{SEED['last_train_loss']:.4f}", f"{analysis.train_losses[-1]:.4f}"],
        ["train loss reduction", f"{SEED['reduction_pct']:.1f}%", f"{analysis.train_reduction_pct:.1f}%"],
        ["steady batch time", f"{SEED['step_seconds']:.3f} s", f"{train.steady_step_seconds:.3f} s"],
    ]
    return ("## Benchmark comparison: the seed's run and this one\n\nThe seed's figures come from its hand-made "
            "report (its own data, device and tokenizer); the differences say how comparable the runs are, not "
            "which is better.\n\n" + md_table(["metric", "seed", "this run"], rows))


def section_next_steps(tables, cfg) -> str:
    fnd = tables["findings"].to_pylist()
    errors = sum(r["severity"] == "error" for r in fnd)
    steps = []
    if errors:
        steps.append(f"Fix or drop the {errors:,} error findings (`findings.arrow`: split, record_index, image) "
                     "and rerun the dry run.")
    if cfg.checks.tokenizer is None:
        steps.append("Rerun with `--tokenizer` (the target model's tokenizer.json or .model): token counts here "
                     "come from the proxy byte tokenizer (one token per byte), which overstates lengths and the "
                     "share cut by `--max-length`.")
    steps.append("Run `harness bench --batch-size 2,4,8` for the stage breakdown and the target model's "
                 "training time from its FLOPs on your GPU.")
    steps.append("Before scaling to 10K/50K models, run `harness validate` (Ray; `--ray-address` for a cluster).")
    return "## Next steps\n\n" + "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))


def section_caught(tables) -> str:
    fnd = tables["findings"]
    rows = [[label, count_checks(fnd, ids), ", ".join(f"`{i}`" for i in ids)] for label, ids in SEED_BLIND_SPOTS]
    return "## What the seed's report missed, checked here\n\n" + md_table(["defect", "findings", "check"], rows)



def section_risk(tables, analysis) -> str:
    rows = findings_by_check(tables["findings"])
    high = [f"`{c}` ({n}): {m[:90]}" for s, c, n, m in rows if s == "error"]
    medium = [f"`{c}` ({n}): {m[:90]}" for s, c, n, m in rows if s == "warning"]
    if analysis is not None and not analysis.converging:
        high.append("the proxy model did not converge")
    lines = ["## Risk assessment", ""]
    lines.append("**High** (breaks or silently spoils training):" if high else "**High**: none found.")
    lines += [f"- {h}" for h in high[:12]]
    lines.append("")
    lines.append("**Medium** (worth a look):" if medium else "**Medium**: none found.")
    lines += [f"- {m}" for m in medium[:12]]
    return "\n".join(lines)



