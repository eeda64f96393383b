"""Dataset checks: across records, across splits, and images against the dataset's own distribution.

``fn(dataset, images, ctx)`` with ``images`` the ``IMAGES`` table; ``ctx.cfg`` is the CheckConfig.
Thresholds are relative to the dataset: a size, mode or brightness is odd only against what the rest of
the set does, so a uniform set of clean renders raises nothing (cleanvision's absolute "low information"
threshold flags every clean CAD render).
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Iterable

import numpy as np

from harness.checks.findings import Finding
from harness.checks.registry import register


def model_and_view(pattern: str, image: str | None) -> tuple[str | None, str | None]:
    """(model, view) from an image's file name by ``CheckConfig.model_pattern``; (None, None) if no match."""
    if not image:
        return None, None
    m = re.match(pattern, image.replace("\\", "/").rsplit("/", 1)[-1])
    if m is None:
        return None, None
    g = m.groupdict()
    return g.get("model"), g.get("view")


def _models(dataset, ctx) -> dict[str, dict[str, set[str]]]:
    """split -> model -> views used by that split's records."""
    out: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for r in dataset.all_records():
        model, view = model_and_view(ctx.cfg.model_pattern, r.image)
        if model is not None:
            out[r.split][model].add(view)
    return out


def _image_splits(dataset) -> dict[str, set[str]]:
    used: dict[str, set[str]] = defaultdict(set)
    for r in dataset.all_records():
        if r.image is not None:
            used[r.image].add(r.split)
    return used


@register("dataset.load_error", kind="dataset", severity="error",
          description="a split file that cannot be read as a LLaVA JSON list: training cannot start")
def load_error(dataset, images, ctx) -> Iterable[Finding]:
    for split, message in dataset.load_errors:
        yield Finding(severity="error", check="dataset.load_error", split=split, message=message)


@register("dataset.split_counts", kind="dataset", severity="info", description="records per split")
def split_counts(dataset, images, ctx) -> Iterable[Finding]:
    for split, recs in dataset.records.items():
        n_img = len({r.image for r in recs if r.image})
        yield Finding(severity="info", check="dataset.split_counts", split=split,
                      message=f"{len(recs)} records, {n_img} distinct images")


@register("dataset.duplicate_id", kind="dataset", severity="error",
          description="an id used by two records of one split: samples cannot be told apart")
def duplicate_id(dataset, images, ctx) -> Iterable[Finding]:
    for split, recs in dataset.records.items():
        seen: dict[str, int] = {}
        for r in recs:
            if r.id is None:
                continue
            if r.id in seen:
                yield Finding(severity="error", check="dataset.duplicate_id", split=split, record_index=r.index,
                              message=f"id {r.id!r} also used by record {seen[r.id]}")
            else:
                seen[r.id] = r.index


@register("dataset.duplicate_id_across_splits", kind="dataset", severity="warning",
          description="an id used in train and in val")
def duplicate_id_across_splits(dataset, images, ctx) -> Iterable[Finding]:
    ids = {s: {r.id for r in recs if r.id is not None} for s, recs in dataset.records.items()}
    for rid in sorted(ids.get("train", set()) & ids.get("val", set())):
        yield Finding(severity="warning", check="dataset.duplicate_id_across_splits", split="val",
                      message=f"id {rid!r} is used in train and in val")


@register("dataset.model_leakage", kind="dataset", severity="error",
          description="a CAD model with views in train and in val: validation measures memory, not learning")
def model_leakage(dataset, images, ctx) -> Iterable[Finding]:
    models = _models(dataset, ctx)
    for model in sorted(set(models.get("train", {})) & set(models.get("val", {}))):
        yield Finding(severity="error", check="dataset.model_leakage", split="val",
                      message=f"model {model!r} is in train and in val (leakage)")


@register("dataset.answer_across_splits", kind="dataset", severity="warning",
          description="the same answer for different models in train and in val (identical CAD code)")
def answer_across_splits(dataset, images, ctx) -> Iterable[Finding]:
    by_answer: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    for r in dataset.all_records():
        if r.turns and r.answer.strip():
            by_answer[r.answer][r.split].add(model_and_view(ctx.cfg.model_pattern, r.image)[0] or r.image)
    for answer, splits in by_answer.items():
        train, val = splits.get("train", set()), splits.get("val", set())
        if train and val and not (train & val):   # shared models are reported as leakage
            yield Finding(severity="warning", check="dataset.answer_across_splits", split="val",
                          message=f"answer of {len(answer)} chars shared by train {sorted(map(str, train))[:3]} "
                                  f"and val {sorted(map(str, val))[:3]}")


@register("dataset.answer_shared", kind="dataset", severity="info",
          description="within a split, one answer for several models (simple shapes share code); one "
                      "model's views sharing an answer is expected and not reported")
def answer_shared(dataset, images, ctx) -> Iterable[Finding]:
    for split, recs in dataset.records.items():
        by_answer: dict[str, set] = defaultdict(set)
        for r in recs:
            if r.turns and r.answer.strip():
                by_answer[r.answer].add(model_and_view(ctx.cfg.model_pattern, r.image)[0] or r.image)
        shared = [m for m in by_answer.values() if len(m) > 1]
        if shared:
            yield Finding(severity="info", check="dataset.answer_shared", split=split,
                          message=f"{len(shared)} answers are shared by several models "
                                  f"({sum(map(len, shared))} models)")


@register("dataset.views_per_model", kind="dataset", severity="warning",
          description="a model whose views differ from the expected set (missing or extra)")
def views_per_model(dataset, images, ctx) -> Iterable[Finding]:
    expected = set(ctx.cfg.views)
    for split, models in _models(dataset, ctx).items():
        for model, views in sorted(models.items()):
            missing, extra = expected - views, views - expected
            if missing or extra:
                parts = ([f"missing {sorted(missing)}"] if missing else []) + ([f"extra {sorted(extra)}"] if extra else [])
                yield Finding(severity="warning", check="dataset.views_per_model", split=split,
                              message=f"model {model!r}: {', '.join(parts)} (expected {sorted(expected)})")


@register("dataset.model_pattern_unmatched", kind="dataset", severity="info",
          description="record images whose name does not match the model pattern: leakage and views unchecked")
def model_pattern_unmatched(dataset, images, ctx) -> Iterable[Finding]:
    bad = [r for r in dataset.all_records()
           if r.image and model_and_view(ctx.cfg.model_pattern, r.image)[0] is None]
    if bad:
        yield Finding(severity="info", check="dataset.model_pattern_unmatched",
                      message=f"{len(bad)} record images do not match {ctx.cfg.model_pattern!r} "
                              f"(e.g. {bad[0].image!r}): leakage and views are not checked for them")


@register("dataset.orphan_image", kind="dataset", severity="warning",
          description="an image in the image folder that no record uses")
def orphan_image(dataset, images, ctx) -> Iterable[Finding]:
    for name, ref in zip(images.column("image").to_pylist(), images.column("referenced").to_pylist()):
        if not ref:
            yield Finding(severity="warning", check="dataset.orphan_image", image=name,
                          message="no record uses this image")


# Image content across the dataset ------------------------------------------------------------------------
def _decoded(images) -> list[dict]:
    return [r for r in images.to_pylist() if r["decode_ok"]]


def _answers(dataset) -> dict[str, set[str]]:
    """image -> the answers of the records that use it."""
    out: dict[str, set[str]] = defaultdict(set)
    for r in dataset.all_records():
        if r.image is not None:
            out[r.image].add(r.answer)
    return out


def _pixel_groups_across(dataset, images) -> list[tuple[list[str], list[str]]]:
    """(train images, val images) of each pixel-identical group used by both splits."""
    used = _image_splits(dataset)
    groups: dict[str, list[str]] = defaultdict(list)
    for r in _decoded(images):
        if r["pixel_sha1"] and used.get(r["image"]):
            groups[r["pixel_sha1"]].append(r["image"])
    out = []
    for names in groups.values():
        train = sorted(n for n in names if "train" in used[n])
        val = sorted(n for n in names if "val" in used[n])
        if train and val:
            out.append((train, val))
    return out


def _leaked(dataset, train: list[str], val: list[str]) -> bool:
    # Pixel-identical pictures are a leak when they carry the same code: a sample copied into val.
    # CAD views are often identical for different models (a cylinder from above, a plain block from
    # the side), and such pairs with different code are ambiguous, not leaked.
    answers = _answers(dataset)
    return bool(set().union(*(answers[n] for n in train)) & set().union(*(answers[n] for n in val)))


@register("dataset.image_copied_across_splits", kind="dataset", severity="error",
          description="a sample copied across splits: a pixel-identical picture with the same answer in train "
                      "and val, so validation scores memory of a training sample")
def image_copied_across_splits(dataset, images, ctx) -> Iterable[Finding]:
    for train, val in _pixel_groups_across(dataset, images):
        if _leaked(dataset, train, val):
            yield Finding(severity="error", check="dataset.image_copied_across_splits", split="val",
                          image=val[0], message=f"image copied across splits: val {val[:3]} has the pixels and "
                                                f"the answer of train {train[:3]}")


@register("dataset.same_picture_across_splits", kind="dataset", severity="warning",
          description="a pixel-identical picture in train and val with different answers: the view does not "
                      "determine the model (common for simple CAD shapes), or an image file was copied")
def same_picture_across_splits(dataset, images, ctx) -> Iterable[Finding]:
    for train, val in _pixel_groups_across(dataset, images):
        if not _leaked(dataset, train, val):
            yield Finding(severity="warning", check="dataset.same_picture_across_splits", split="val",
                          image=val[0], message=f"val {val[:3]} shows the same pixels as train {train[:3]} "
                                                f"with a different answer")


def popcount64(x: np.ndarray) -> np.ndarray:
    """Set bits of each uint64 (vectorised byte lookup)."""
    table = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
    return table[np.ascontiguousarray(x, dtype=np.uint64).view(np.uint8)].reshape(*x.shape, 8).sum(-1)


@register("dataset.near_duplicate_across_splits", kind="dataset", severity="warning",
          description="a val image within phash_distance of a train image of another model: a warning when "
                      "they share the answer, info when they differ (look-alike shapes)", block=1024)
def near_duplicate_across_splits(dataset, images, ctx) -> Iterable[Finding]:
    used = _image_splits(dataset)
    answers = _answers(dataset)
    pattern = ctx.cfg.model_pattern
    rows = [r for r in _decoded(images) if r["phash"] is not None]
    train = [r for r in rows if "train" in used.get(r["image"], ())]
    val = [r for r in rows if "val" in used.get(r["image"], ())]
    if not train or not val:
        return
    th = np.array([r["phash"] for r in train], dtype=np.uint64)
    for start in range(0, len(val), 1024):   # blocks bound the (val x train) distance matrix
        block = val[start:start + 1024]
        vh = np.array([r["phash"] for r in block], dtype=np.uint64)
        dist = popcount64(vh[:, None] ^ th[None, :])
        # One finding per val image: the same-answer neighbour if any (a warning), else the nearest one.
        # Simple CAD shapes have many look-alikes; a row per pair would bury the table.
        for i in np.nonzero((dist <= ctx.cfg.phash_distance).any(axis=1))[0]:
            v, best = block[i], None
            for j in np.argsort(dist[i], kind="stable"):
                if dist[i, j] > ctx.cfg.phash_distance:
                    break
                t = train[j]
                same_model = model_and_view(pattern, v["image"])[0] == model_and_view(pattern, t["image"])[0]
                if v["pixel_sha1"] == t["pixel_sha1"] or same_model:
                    continue   # exact copies and shared models have their own findings
                same = bool(answers[v["image"]] & answers[t["image"]])
                if best is None or (same and not best[2]):
                    best = (t, int(dist[i, j]), same)
                if same:
                    break
            if best is None:
                continue
            t, d, same = best
            n = int((dist[i] <= ctx.cfg.phash_distance).sum())
            yield Finding(severity="warning" if same else "info", check="dataset.near_duplicate_across_splits",
                          split="val", image=v["image"],
                          message=f"near duplicate of train image {t['image']!r} (phash distance {d}), "
                                  f"{'same answer' if same else 'different answer'}; {n} train image(s) within "
                                  f"distance {ctx.cfg.phash_distance}")


@register("dataset.exact_duplicate_within_split", kind="dataset", severity="warning",
          description="pixel-identical images of different models within one split: a warning when they "
                      "share the answer (a duplicated sample), info when the answers differ (ambiguous view)")
def exact_duplicate_within_split(dataset, images, ctx) -> Iterable[Finding]:
    used = _image_splits(dataset)
    answers = _answers(dataset)
    for split in dataset.records:
        groups: dict[str, list[str]] = defaultdict(list)
        for r in _decoded(images):
            if split in used.get(r["image"], ()):
                groups[r["pixel_sha1"]].append(r["image"])
        for names in groups.values():
            models = {model_and_view(ctx.cfg.model_pattern, n)[0] or n for n in names}
            if len(models) > 1:
                distinct = {a for n in names for a in answers[n]}
                yield Finding(severity="warning" if len(distinct) < len(models) else "info",
                              check="dataset.exact_duplicate_within_split", split=split,
                              image=sorted(names)[0], message=f"pixel-identical images of {len(models)} "
                                                              f"models: {sorted(names)[:4]}")


def _consistency(check: str, what: str, key, images, share: float) -> Iterable[Finding]:
    # Decoded images only: a header that failed (a forged size) already has its own error.
    rows = [r for r in _decoded(images) if key(r) is not None]
    counts = Counter(key(r) for r in rows)
    if len(counts) < 2:
        return
    dominant, n = counts.most_common(1)[0]
    if n / len(rows) <= share:   # no dominant value: nothing is odd, the set is mixed
        yield Finding(severity="info", check=check, message=f"mixed {what}s: {dict(counts.most_common(5))}")
        return
    for r in rows:
        if key(r) != dominant:
            yield Finding(severity="warning", check=check, split=r["split"], image=r["image"],
                          message=f"{what} {key(r)} differs from the dataset's {dominant} "
                                  f"({n} of {len(rows)} images)")


@register("dataset.resolution_inconsistent", kind="dataset", severity="warning", dominant_share=0.5,
          description="an image size other than the dataset's dominant size: it loads, but is squashed")
def resolution_inconsistent(dataset, images, ctx) -> Iterable[Finding]:
    yield from _consistency("dataset.resolution_inconsistent", "size",
                            lambda r: f"{r['width_px']}x{r['height_px']}" if r["width_px"] else None, images, 0.5)


@register("dataset.mode_inconsistent", kind="dataset", severity="warning", dominant_share=0.5,
          description="a colour mode other than the dataset's dominant mode: converted on load")
def mode_inconsistent(dataset, images, ctx) -> Iterable[Finding]:
    yield from _consistency("dataset.mode_inconsistent", "mode", lambda r: r["mode"], images, 0.5)
