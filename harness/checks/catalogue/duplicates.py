"""Duplicate pictures across the dataset: copied samples, the same picture with other code, near copies
(perceptual hash) and exact duplicates within a split. Registered dataset checks; ``fn(dataset, images, ctx)``.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

import numpy as np

from harness.checks.catalogue.dataset import _decoded, _image_splits, model_of
from harness.checks.findings import Finding
from harness.checks.registry import register

# Image content across the dataset ------------------------------------------------------------------------
# These read the columns they need from the IMAGES table (never a dict per row: 150,000 of them cost
# hundreds of MB) and group with Counters first, so only keys seen twice build a group.
NEAR_BLOCK_BYTES = 64 * 2**20   # the (val x train) XOR block of the near-duplicate search stays this small


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


def _sorted_by_leak(dataset, images):
    """Per pixel-identical group across splits: (val image, train images with its answer) for val images
    that carry a train image's answer, and (val images without one, the group's train images)."""
    groups = _pixel_groups_across(dataset, images)
    answers = _answers(dataset, [n for t, v in groups for n in t + v])
    for train, val in groups:
        # Pixel-identical pictures are a leak when they carry the same code: a sample copied into val.
        # CAD views are often identical for different models (a cylinder from above, a plain block from
        # the side), and such pairs with different code are ambiguous, not leaked.
        leaked = [(v, [t for t in train if answers[t] & answers[v]]) for v in val]
        yield [(v, same) for v, same in leaked if same], ([v for v, same in leaked if not same], train)


@register("dataset.image_copied_across_splits", kind="dataset", pictures=True, severity="error",
          description="a sample copied across splits: a pixel-identical picture with the same answer in train "
                      "and val, so validation scores memory of a training sample")
def image_copied_across_splits(dataset, images, ctx) -> Iterable[Finding]:
    val_records: dict[str, list] = defaultdict(list)
    for r in dataset.records.get("val", []):
        if r.image is not None:
            val_records[r.image].append(r)
    for leaked, _ in _sorted_by_leak(dataset, images):
        for v, same in leaked:
            message = (f"image copied across splits: val {v!r} has the pixels and the answer of "
                       f"train {same[:3]}" + (f" and {len(same) - 3} more" if len(same) > 3 else ""))
            # One finding per val record showing it (named, so it is left out of the sound set); the
            # image alone when no val record uses it by that name.
            recs = val_records.get(v) or [None]
            for r in recs:
                yield (image_copied_across_splits.on_record(r, message) if r is not None else
                       image_copied_across_splits.finding(message, split="val", image=v))


@register("dataset.same_picture_across_splits", kind="dataset", pictures=True, severity="warning",
          description="a pixel-identical picture in train and val with different answers: the view does not "
                      "determine the model (common for simple CAD shapes), or an image file was copied")
def same_picture_across_splits(dataset, images, ctx) -> Iterable[Finding]:
    for _, (val, train) in _sorted_by_leak(dataset, images):
        if val:
            yield same_picture_across_splits.finding(
                f"val {val[:3]} shows the same pixels as train {train[:3]} with a different answer",
                split="val", image=val[0])


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


@register("dataset.near_duplicate_across_splits", kind="dataset", pictures=True, severity="warning",
          description="a val image within phash_distance of a train image of another model: a warning when "
                      "they share the answer, info when they differ (look-alike shapes)",
          block_bytes=NEAR_BLOCK_BYTES)
def near_duplicate_across_splits(dataset, images, ctx) -> Iterable[Finding]:
    used = _image_splits(dataset)
    cols = _decoded(images, "image", "pixel_hash", "phash")
    names, keys, ph, has = cols["image"], cols["pixel_hash"], cols["phash"], cols["has_phash"]
    train = [i for i, n in enumerate(names) if has[i] and "train" in used.get(n, ())]
    val = [i for i, n in enumerate(names) if has[i] and "val" in used.get(n, ())]
    if not train or not val:
        return
    # Integer codes of each decoded image's pixel hash and model: candidates compared as arrays.
    key_code = _codes(keys)
    model_code = _codes([model_of(dataset, ctx, n) or n for n in names])
    train_a = np.array(train, np.int64)
    found = []
    for vi, cands, dists in _near_pairs(ph[val], ph[train], ctx.cfg.phash_distance):
        v, ts = val[vi], train_a[cands]
        # exact copies and shared models have their own findings
        other = (key_code[ts] != key_code[v]) & (model_code[ts] != model_code[v])
        found.append((v, ts[other], dists[other], len(ts)))
    # Answers as integer codes per image (its first record's answer), so "same answer" is one array
    # compare over a val image's candidates: look-alike CAD views can number thousands per image.
    first_answer: dict[str, str] = {}
    for r in dataset.all_records():
        if r.image is not None:
            first_answer.setdefault(r.image, r.answer)
    answer_code = _codes([first_answer.get(n) for n in names])
    # One finding per val image: the nearest same-answer neighbour if any (a warning), else the nearest.
    # Simple CAD shapes have many look-alikes; a row per pair would bury the table.
    for v, ts, dists, n_close in found:
        if len(ts) == 0:
            continue
        same = answer_code[ts] == answer_code[v]
        j = int(np.argmax(same)) if same.any() else 0   # candidates come sorted by distance
        t, d, is_same = int(ts[j]), int(dists[j]), bool(same[j])
        yield near_duplicate_across_splits.finding(
            f"near duplicate of train image {names[t]!r} (phash distance {d}), "
            f"{'same answer' if is_same else 'different answer'}; {n_close} train image(s) "
            f"within distance {ctx.cfg.phash_distance}",
            severity="warning" if is_same else "info", split="val", image=names[v])


@register("dataset.exact_duplicate_within_split", kind="dataset", pictures=True, severity="warning",
          description="pixel-identical images of different models within one split: a warning when they "
                      "share the answer (a duplicated sample), info when the answers differ (ambiguous view)")
def exact_duplicate_within_split(dataset, images, ctx) -> Iterable[Finding]:
    used = _image_splits(dataset)
    cols = _decoded(images, "image", "pixel_hash")
    for split in dataset.records:
        groups = _groups(cols["pixel_hash"], cols["image"], lambda n, split=split: split in used.get(n, ()))
        answers = _answers(dataset, [n for g in groups for n in g])
        for names in groups:
            models = {model_of(dataset, ctx, n) or n for n in names}
            if len(models) > 1:
                distinct = {a for n in names for a in answers[n]}
                yield exact_duplicate_within_split.finding(
                    f"pixel-identical images of {len(models)} models: {sorted(names)[:4]}",
                    severity="warning" if len(distinct) < len(models) else "info", split=split,
                    image=sorted(names)[0])

