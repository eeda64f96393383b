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
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pyarrow.compute as pc

from harness.checks.findings import Finding
from harness.checks.registry import CheckSpec, register


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


# Do image names encode a model and a view (CAD renders: <model>_<view>.png, a few view names shared by most
# images), or is the part after the last underscore just part of a photo's name (my_photo.jpg)? Decided once
# per dataset: names encode models when at least VIEW_SHARE of the names matching model_pattern carry a view
# that is a configured view or one of the FEW_VIEWS commonest names that several images share.
VIEW_SHARE = 0.5
FEW_VIEWS = 16


@dataclass(frozen=True)
class NameScheme:
    models: bool              # names encode (model, view): per-model checks apply
    matched: int              # distinct record images whose name matches model_pattern
    unmatched: int            # distinct record images whose name does not
    with_view: int            # matched names whose view is a configured or shared view name
    views: tuple[str, ...]    # those view names, commonest first

    def describe(self) -> str:
        share = f"{self.with_view} of {self.matched} matching image names"
        if self.models:
            return (f"image names encode a model and a view: {share} end in one of {len(self.views)} view "
                    f"name(s) ({', '.join(self.views[:6])}); leakage and views are checked per model")
        return (f"image names do not encode models: only {share} end in a view name shared by several "
                f"images; leakage is judged by image content and answer only")


def name_scheme(dataset, ctx) -> NameScheme:
    """The dataset's one decision on what its image names mean (memoised for the run)."""
    return ctx.once(("name_scheme",), functools.partial(_name_scheme, dataset, ctx.cfg))


def _name_scheme(dataset, cfg) -> NameScheme:
    names = {r.image for r in dataset.all_records() if isinstance(r.image, str) and r.image}
    parsed = {n: model_and_view(cfg.model_pattern, n) for n in names}
    views = Counter(v for m, v in parsed.values() if m is not None)
    matched = sum(views.values())
    known = {v for v in views if v in set(cfg.views)}
    known |= {v for v, k in views.most_common(FEW_VIEWS) if k >= 2}
    with_view = sum(views[v] for v in known)
    return NameScheme(models=matched > 0 and with_view >= VIEW_SHARE * matched, matched=matched,
                      unmatched=len(names) - matched, with_view=with_view,
                      views=tuple(v for v, _ in views.most_common() if v in known))


def model_of(dataset, ctx, image: str | None) -> str | None:
    """The model an image shows, by its name; None when the name does not encode one (or the dataset's
    names do not encode models at all)."""
    if not name_scheme(dataset, ctx).models:
        return None
    return model_and_view(ctx.cfg.model_pattern, image)[0]


def _models(dataset, ctx) -> dict[str, dict[str, set[str]]]:
    """split -> model -> views used by that split's records (empty when names do not encode models)."""
    out: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    if not name_scheme(dataset, ctx).models:
        return out
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
        yield load_error.finding(message, split=split)


def _format_check(spec_id: str, kind: str, description: str) -> CheckSpec:
    """A split-file format check: one error per split file whose ``kind`` of problem the loader kept."""
    def fn(dataset, images, ctx) -> Iterable[Finding]:
        for split, k, message in dataset.format_problems:
            if k == kind:
                yield spec.finding(message, split=split)
    spec = register(spec_id, kind="dataset", severity="error", description=description)(fn)
    return spec


# What TinyLLaVA's LazySupervisedDataset does with the file: json.load(open(path, "r")), then list indexing.
split_jsonl = _format_check(
    "dataset.split_jsonl", "jsonl",
    "a split file in JSON Lines (one object per line): TinyLLaVA's json.load raises JSONDecodeError "
    "'Extra data' and training cannot start (the harness reads it line by line to check the records)")
split_bom = _format_check(
    "dataset.split_bom", "bom",
    "a split file starting with a UTF-8 byte order mark: json.load on the text file raises JSONDecodeError "
    "'Unexpected UTF-8 BOM' and training cannot start (the harness strips it to check the records)")
split_object = _format_check(
    "dataset.split_object", "object",
    "a split file whose top level is a JSON object, not a list: TinyLLaVA indexes it like a list and stops "
    "with KeyError: 0 (the harness reads the one list inside it, or a dict of records, to check them)")


@register("dataset.split_counts", kind="dataset", severity="info", description="records per split")
def split_counts(dataset, images, ctx) -> Iterable[Finding]:
    for split, recs in dataset.records.items():
        n_img = len({r.image for r in recs if r.image})
        yield split_counts.finding(f"{len(recs)} records, {n_img} distinct images", split=split)


@register("dataset.duplicate_id", kind="dataset", severity="info",
          description="an id used by two records of one split: TinyLLaVA never reads ids (LLaVA mixes repeat "
                      "them), so both train; only reports that name records by id cannot tell them apart")
def duplicate_id(dataset, images, ctx) -> Iterable[Finding]:
    for split, recs in dataset.records.items():
        seen: dict[str, int] = {}
        for r in recs:
            if r.id is None:
                continue
            if r.id in seen:
                yield duplicate_id.finding(f"id {r.id!r} also used by record {seen[r.id]}", split=split,
                                           record_index=r.index)
            else:
                seen[r.id] = r.index


@register("dataset.duplicate_id_across_splits", kind="dataset", severity="warning",
          description="an id used in train and in val")
def duplicate_id_across_splits(dataset, images, ctx) -> Iterable[Finding]:
    ids = {s: {r.id for r in recs if r.id is not None} for s, recs in dataset.records.items()}
    for rid in sorted(ids.get("train", set()) & ids.get("val", set())):
        yield duplicate_id_across_splits.finding(f"id {rid!r} is used in train and in val", split="val")


@register("dataset.model_leakage", kind="dataset", severity="error",
          description="a CAD model with views in train and in val: validation measures memory, not learning; "
                      "one finding per val record of such a model, so leaving them out removes the leak")
def model_leakage(dataset, images, ctx) -> Iterable[Finding]:
    models = _models(dataset, ctx)
    leaked = set(models.get("train", {})) & set(models.get("val", {}))
    if not leaked:
        return
    train_records = Counter(model_and_view(ctx.cfg.model_pattern, r.image)[0] for r in dataset.records["train"])
    # Each val record named: a script (or --write-clean) drops exactly those; the train side keeps its data.
    for r in dataset.records.get("val", []):
        model = model_and_view(ctx.cfg.model_pattern, r.image)[0]
        if model in leaked:
            yield model_leakage.on_record(
                r, f"model {model!r} is in train ({train_records[model]} record(s)) and in val (leakage)")


@register("dataset.answer_across_splits", kind="dataset", severity="warning",
          description="the same answer for different models in train and in val (identical CAD code)")
def answer_across_splits(dataset, images, ctx) -> Iterable[Finding]:
    by_answer: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    for r in dataset.all_records():
        if r.turns and r.answer.strip():
            by_answer[r.answer][r.split].add(model_of(dataset, ctx, r.image) or r.image)
    for answer, splits in by_answer.items():
        train, val = splits.get("train", set()), splits.get("val", set())
        if train and val and not (train & val):   # shared models are reported as leakage
            yield answer_across_splits.finding(
                f"answer of {len(answer)} chars shared by train {sorted(map(str, train))[:3]} "
                f"and val {sorted(map(str, val))[:3]}", split="val")


@register("dataset.answer_shared", kind="dataset", severity="info",
          description="within a split, one answer for several models (simple shapes share code); one "
                      "model's views sharing an answer is expected and not reported")
def answer_shared(dataset, images, ctx) -> Iterable[Finding]:
    for split, recs in dataset.records.items():
        by_answer: dict[str, set] = defaultdict(set)
        for r in recs:
            if r.turns and r.answer.strip():
                by_answer[r.answer].add(model_of(dataset, ctx, r.image) or r.image)
        shared = [m for m in by_answer.values() if len(m) > 1]
        if shared:
            yield answer_shared.finding(f"{len(shared)} answers are shared by several models "
                                        f"({sum(map(len, shared))} models)", split=split)


@register("dataset.views_per_model", kind="dataset", severity="warning",
          description="a model whose views differ from the expected set (missing or extra)")
def views_per_model(dataset, images, ctx) -> Iterable[Finding]:
    expected = set(ctx.cfg.views)
    for split, models in _models(dataset, ctx).items():
        for model, views in sorted(models.items()):
            missing, extra = expected - views, views - expected
            if missing or extra:
                parts = (([f"missing {sorted(missing)}"] if missing else [])
                         + ([f"extra {sorted(extra)}"] if extra else []))
                yield views_per_model.finding(
                    f"model {model!r}: {', '.join(parts)} (expected {sorted(expected)})", split=split)


@register("dataset.model_pattern_unmatched", kind="dataset", severity="info",
          description="record images whose name does not match the model pattern: leakage and views unchecked")
def model_pattern_unmatched(dataset, images, ctx) -> Iterable[Finding]:
    bad = [r for r in dataset.all_records()
           if r.image and model_and_view(ctx.cfg.model_pattern, r.image)[0] is None]
    if bad:
        yield model_pattern_unmatched.finding(
            f"{len(bad)} record images do not match {ctx.cfg.model_pattern!r} "
            f"(e.g. {bad[0].image!r}): leakage and views are not checked for them")


@register("dataset.model_ids", kind="dataset", severity="info", view_share=VIEW_SHARE, few_views=FEW_VIEWS,
          description="whether image names encode a model and a view (at least view_share of the names matching "
                      "model_pattern end in a configured view or one of the few_views commonest names shared by "
                      "several images): per-model leakage and views apply only then; said when the names do "
                      "not, or when some names do not match the pattern (a mix)")
def model_ids(dataset, images, ctx) -> Iterable[Finding]:
    scheme = name_scheme(dataset, ctx)
    if scheme.matched and (not scheme.models or scheme.unmatched):
        yield model_ids.finding(scheme.describe())


@register("dataset.orphan_image", kind="dataset", severity="warning",
          description="an image in the image folder that no record uses")
def orphan_image(dataset, images, ctx) -> Iterable[Finding]:
    for name, ref in zip(images.column("image").to_pylist(), images.column("referenced").to_pylist()):
        if not ref:
            yield orphan_image.finding("no record uses this image", image=name)


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




def _consistency(spec: CheckSpec, what: str, keys: list, images, share: float) -> Iterable[Finding]:
    # Decoded images only: a header that failed (a forged size) already has its own error.
    cols = _decoded(images, "image", "split")
    rows = [(k, n, s) for k, n, s in zip(keys, cols["image"], cols["split"]) if k is not None]
    counts = Counter(k for k, _, _ in rows)
    if len(counts) < 2:
        return
    dominant, n = counts.most_common(1)[0]
    if n / len(rows) <= share:   # no dominant value: nothing is odd, the set is mixed
        yield spec.finding(f"mixed {what}s: {dict(counts.most_common(5))}", severity="info")
        return
    for k, name, split in rows:
        if k != dominant:
            yield spec.finding(f"{what} {k} differs from the dataset's {dominant} ({n} of {len(rows)} images)",
                               severity="warning", split=split, image=name)


@register("dataset.resolution_inconsistent", kind="dataset", pictures=True, severity="warning", dominant_share=0.5,
          description="an image size other than the dataset's dominant size: it loads, but is squashed")
def resolution_inconsistent(dataset, images, ctx) -> Iterable[Finding]:
    cols = _decoded(images, "width_px", "height_px")
    keys = [f"{w}x{h}" if w else None for w, h in zip(cols["width_px"], cols["height_px"])]
    yield from _consistency(resolution_inconsistent, "size", keys, images, 0.5)


@register("dataset.mode_inconsistent", kind="dataset", pictures=True, severity="warning", dominant_share=0.5,
          description="a colour mode other than the dataset's dominant mode: converted on load")
def mode_inconsistent(dataset, images, ctx) -> Iterable[Finding]:
    yield from _consistency(mode_inconsistent, "mode", _decoded(images, "mode")["mode"], images, 0.5)
