"""Dataset checks: across records, across splits, and images against the dataset's own distribution.

``fn(dataset, images, ctx)`` with ``images`` the ``IMAGES`` table; ``ctx.cfg`` is the CheckConfig.
Thresholds are relative to the dataset: a size, mode or brightness is odd only against what the rest of
the set does, so a uniform set of clean renders raises nothing (cleanvision's absolute "low information"
threshold flags every clean CAD render).
"""
from __future__ import annotations

import functools
import re
from collections import Counter, defaultdict
from typing import Iterable

import numpy as np
import pyarrow.compute as pc

from harness.checks.findings import Finding
from harness.checks.registry import register


@functools.lru_cache(maxsize=16)
def _compiled(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def model_and_view(pattern: str, image: str | None) -> tuple[str | None, str | None]:
    """(model, view) from an image's file name by ``CheckConfig.model_pattern``; (None, None) if no match."""
    if not image:
        return None, None
    m = _compiled(pattern).match(image.replace("\\", "/").rsplit("/", 1)[-1])
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
# These read the columns they need from the IMAGES table (never a dict per row: 150,000 of them cost
# hundreds of MB) and group with Counters first, so only keys seen twice build a group.
NEAR_BLOCK_BYTES = 64 * 2**20   # the (val x train) XOR block of the near-duplicate search stays this small


def _decoded(images, *columns: str) -> dict[str, list]:
    """Columns of the decoded rows, as Python lists (phash as a uint64 numpy array)."""
    ok = images.filter(pc.fill_null(images.column("decode_ok"), False)) if images.num_rows else images
    out: dict[str, list] = {}
    for c in columns:
        col = ok.column(c)
        if c == "phash":   # and which rows have one
            out["has_phash"] = pc.is_valid(col).to_pylist()
            out[c] = np.asarray(col.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.uint64)
        else:
            out[c] = col.to_pylist()
    return out


def _answers(dataset, names) -> dict[str, set[str]]:
    """image -> the answers of the records that use it, for the images in ``names``."""
    names = set(names)
    out: dict[str, set[str]] = defaultdict(set)
    for r in dataset.all_records():
        if r.image in names:
            out[r.image].add(r.answer)
    return out


def _codes(values: list) -> np.ndarray:
    """A small integer per distinct value (None is a value like any other), as an int64 array."""
    seen: dict = {}
    return np.array([seen.setdefault(v, len(seen)) for v in values], np.int64)


def _groups(keys: list, names: list[str], keep) -> list[list[str]]:
    """Names sharing a non-null key, for groups of two or more (``keep(name)`` filters names first)."""
    counts = Counter(k for k, n in zip(keys, names) if k and keep(n))
    groups: dict[str, list[str]] = defaultdict(list)
    for k, n in zip(keys, names):
        if k and counts[k] > 1 and keep(n):
            groups[k].append(n)
    return list(groups.values())


def _pixel_groups_across(dataset, images) -> list[tuple[list[str], list[str]]]:
    """(train images, val images) of each pixel-identical group used by both splits."""
    used = _image_splits(dataset)
    cols = _decoded(images, "image", "pixel_hash")
    out = []
    for names in _groups(cols["pixel_hash"], cols["image"], lambda n: bool(used.get(n))):
        train = sorted(n for n in names if "train" in used[n])
        val = sorted(n for n in names if "val" in used[n])
        if train and val:
            out.append((train, val))
    return out


def _leaked(answers, train: list[str], val: list[str]) -> bool:
    # Pixel-identical pictures are a leak when they carry the same code: a sample copied into val.
    # CAD views are often identical for different models (a cylinder from above, a plain block from
    # the side), and such pairs with different code are ambiguous, not leaked.
    return bool(set().union(*(answers[n] for n in train)) & set().union(*(answers[n] for n in val)))


def _copied(dataset, images, leaked: bool) -> list[tuple[list[str], list[str]]]:
    groups = _pixel_groups_across(dataset, images)
    answers = _answers(dataset, [n for t, v in groups for n in t + v])
    return [(t, v) for t, v in groups if _leaked(answers, t, v) == leaked]


@register("dataset.image_copied_across_splits", kind="dataset", severity="error",
          description="a sample copied across splits: a pixel-identical picture with the same answer in train "
                      "and val, so validation scores memory of a training sample")
def image_copied_across_splits(dataset, images, ctx) -> Iterable[Finding]:
    for train, val in _copied(dataset, images, True):
        yield Finding(severity="error", check="dataset.image_copied_across_splits", split="val",
                      image=val[0], message=f"image copied across splits: val {val[:3]} has the pixels and "
                                            f"the answer of train {train[:3]}")


@register("dataset.same_picture_across_splits", kind="dataset", severity="warning",
          description="a pixel-identical picture in train and val with different answers: the view does not "
                      "determine the model (common for simple CAD shapes), or an image file was copied")
def same_picture_across_splits(dataset, images, ctx) -> Iterable[Finding]:
    for train, val in _copied(dataset, images, False):
        yield Finding(severity="warning", check="dataset.same_picture_across_splits", split="val",
                      image=val[0], message=f"val {val[:3]} shows the same pixels as train {train[:3]} "
                                            f"with a different answer")


def popcount64(x: np.ndarray) -> np.ndarray:
    """Set bits of each uint64 (numpy's bitwise_count: the CPU's popcount), as uint8."""
    return np.bitwise_count(np.ascontiguousarray(x, dtype=np.uint64))


def _near_pairs_brute(vh: np.ndarray, th: np.ndarray, limit: int, block_bytes: int = NEAR_BLOCK_BYTES):
    """``_near_pairs`` by the full (val x train) distance matrix, in blocks of val rows that keep the XOR
    matrix at ``block_bytes``: the reference, and the way for large ``limit``."""
    rows = max(1, block_bytes // (8 * max(len(th), 1)))
    for start in range(0, len(vh), rows):
        dist = popcount64(vh[start:start + rows, None] ^ th[None, :])
        close = dist <= limit
        for i in np.nonzero(close.any(axis=1))[0]:
            cand = np.nonzero(close[i])[0]
            d = dist[i, cand]
            order = np.argsort(d, kind="stable")
            yield start + int(i), cand[order], d[order]


def _near_pairs(vh: np.ndarray, th: np.ndarray, limit: int, max_candidates: int = 4_000_000):
    """(val position, train positions by distance then position, their distances) for each val hash with
    a train hash within ``limit`` bits.

    Multi-index hashing: cut the 64 bits into ``limit + 1`` segments; two hashes within ``limit`` bits
    agree exactly on at least one segment (pigeonhole), so only train hashes sharing a segment value
    with the val hash are compared: sorted segment values and ``searchsorted`` give the candidates, a
    popcount keeps the true ones. Val rows go in blocks of at most ``max_candidates`` candidate pairs
    (look-alike renders share segments), so memory stays bounded whatever the data."""
    if limit >= 16 or not len(vh) or not len(th):
        yield from _near_pairs_brute(vh, th, limit)
        return
    k = limit + 1
    edges = [64 * i // k for i in range(k + 1)]
    segs = []
    for a, b in zip(edges, edges[1:]):
        mask = np.uint64((1 << (b - a)) - 1)
        tkey = (th >> np.uint64(a)) & mask
        order = np.argsort(tkey, kind="stable")
        sorted_keys = tkey[order]
        vkey = (vh >> np.uint64(a)) & mask
        lo = np.searchsorted(sorted_keys, vkey, "left")
        segs.append((order, lo, np.searchsorted(sorted_keys, vkey, "right") - lo))
    per_val = np.sum([c for _, _, c in segs], axis=0)
    start = 0
    while start < len(vh):
        # the largest block of val rows whose candidates fit (at least one row)
        stop = start + max(1, int(np.searchsorted(np.cumsum(per_val[start:]), max_candidates, "right")))
        vi_parts, ti_parts = [], []
        for order, lo, cnt in segs:
            c = cnt[start:stop]
            total = int(c.sum())
            if not total:
                continue
            vi = np.repeat(np.arange(start, stop), c)
            first = np.repeat(np.cumsum(c) - c, c)
            ti_parts.append(order[np.repeat(lo[start:stop], c) + np.arange(total) - first])
            vi_parts.append(vi)
        if vi_parts:
            vi, ti = np.concatenate(vi_parts), np.concatenate(ti_parts)
            d = popcount64(vh[vi] ^ th[ti])
            keep = d <= limit
            vi, ti = vi[keep], ti[keep]
            # distinct pairs, sorted by val, distance, train position
            pair = np.sort(vi.astype(np.int64) * len(th) + ti)
            first = np.ones(len(pair), bool)
            first[1:] = pair[1:] != pair[:-1]
            pair = pair[first]
            vi, ti = pair // len(th), pair % len(th)
            d = popcount64(vh[vi] ^ th[ti])
            o = np.lexsort((ti, d, vi))
            vi, ti, d = vi[o], ti[o], d[o]
            cuts = np.flatnonzero(np.diff(vi)) + 1
            for v_grp, t_grp, d_grp in zip(np.split(vi, cuts), np.split(ti, cuts), np.split(d, cuts)):
                if len(v_grp):
                    yield int(v_grp[0]), t_grp, d_grp
        start = stop


@register("dataset.near_duplicate_across_splits", kind="dataset", severity="warning",
          description="a val image within phash_distance of a train image of another model: a warning when "
                      "they share the answer, info when they differ (look-alike shapes)",
          block_bytes=NEAR_BLOCK_BYTES)
def near_duplicate_across_splits(dataset, images, ctx) -> Iterable[Finding]:
    used = _image_splits(dataset)
    pattern = ctx.cfg.model_pattern
    cols = _decoded(images, "image", "pixel_hash", "phash")
    names, keys, ph, has = cols["image"], cols["pixel_hash"], cols["phash"], cols["has_phash"]
    train = [i for i, n in enumerate(names) if has[i] and "train" in used.get(n, ())]
    val = [i for i, n in enumerate(names) if has[i] and "val" in used.get(n, ())]
    if not train or not val:
        return
    # Integer codes of each decoded image's pixel hash and model: candidates compared as arrays.
    key_code = _codes(keys)
    model_code = _codes([model_and_view(pattern, n)[0] or n for n in names])
    train_a = np.array(train, np.int64)
    found = []
    for vi, cands, dists in _near_pairs(ph[val], ph[train], ctx.cfg.phash_distance):
        v, ts = val[vi], train_a[cands]
        # exact copies and shared models have their own findings
        other = (key_code[ts] != key_code[v]) & (model_code[ts] != model_code[v])
        found.append((v, ts[other], dists[other], len(ts)))
    answers = _answers(dataset, {names[k] for v, ts, _, _ in found for k in (v, *ts)})
    # One finding per val image: the same-answer neighbour if any (a warning), else the nearest one.
    # Simple CAD shapes have many look-alikes; a row per pair would bury the table.
    for v, ts, dists, n_close in found:
        best = None
        for t, d in zip(ts.tolist(), dists.tolist()):
            same = bool(answers[names[v]] & answers[names[t]])
            if best is None or (same and not best[2]):
                best = (t, int(d), same)
            if same:
                break
        if best is None:
            continue
        t, d, same = best
        yield Finding(severity="warning" if same else "info", check="dataset.near_duplicate_across_splits",
                      split="val", image=names[v],
                      message=f"near duplicate of train image {names[t]!r} (phash distance {d}), "
                              f"{'same answer' if same else 'different answer'}; {n_close} train image(s) within "
                              f"distance {ctx.cfg.phash_distance}")


@register("dataset.exact_duplicate_within_split", kind="dataset", severity="warning",
          description="pixel-identical images of different models within one split: a warning when they "
                      "share the answer (a duplicated sample), info when the answers differ (ambiguous view)")
def exact_duplicate_within_split(dataset, images, ctx) -> Iterable[Finding]:
    used = _image_splits(dataset)
    cols = _decoded(images, "image", "pixel_hash")
    for split in dataset.records:
        groups = _groups(cols["pixel_hash"], cols["image"], lambda n: split in used.get(n, ()))
        answers = _answers(dataset, [n for g in groups for n in g])
        for names in groups:
            models = {model_and_view(ctx.cfg.model_pattern, n)[0] or n for n in names}
            if len(models) > 1:
                distinct = {a for n in names for a in answers[n]}
                yield Finding(severity="warning" if len(distinct) < len(models) else "info",
                              check="dataset.exact_duplicate_within_split", split=split,
                              image=sorted(names)[0], message=f"pixel-identical images of {len(models)} "
                                                              f"models: {sorted(names)[:4]}")


def _consistency(check: str, what: str, keys: list, images, share: float) -> Iterable[Finding]:
    # Decoded images only: a header that failed (a forged size) already has its own error.
    cols = _decoded(images, "image", "split")
    rows = [(k, n, s) for k, n, s in zip(keys, cols["image"], cols["split"]) if k is not None]
    counts = Counter(k for k, _, _ in rows)
    if len(counts) < 2:
        return
    dominant, n = counts.most_common(1)[0]
    if n / len(rows) <= share:   # no dominant value: nothing is odd, the set is mixed
        yield Finding(severity="info", check=check, message=f"mixed {what}s: {dict(counts.most_common(5))}")
        return
    for k, name, split in rows:
        if k != dominant:
            yield Finding(severity="warning", check=check, split=split, image=name,
                          message=f"{what} {k} differs from the dataset's {dominant} "
                                  f"({n} of {len(rows)} images)")


@register("dataset.resolution_inconsistent", kind="dataset", severity="warning", dominant_share=0.5,
          description="an image size other than the dataset's dominant size: it loads, but is squashed")
def resolution_inconsistent(dataset, images, ctx) -> Iterable[Finding]:
    cols = _decoded(images, "width_px", "height_px")
    keys = [f"{w}x{h}" if w else None for w, h in zip(cols["width_px"], cols["height_px"])]
    yield from _consistency("dataset.resolution_inconsistent", "size", keys, images, 0.5)


@register("dataset.mode_inconsistent", kind="dataset", severity="warning", dominant_share=0.5,
          description="a colour mode other than the dataset's dominant mode: converted on load")
def mode_inconsistent(dataset, images, ctx) -> Iterable[Finding]:
    yield from _consistency("dataset.mode_inconsistent", "mode", _decoded(images, "mode")["mode"], images, 0.5)
