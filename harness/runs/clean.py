"""``--write-clean DIR``: the sound records of each split written as a new ``train.json``/``val.json``, with a
``left_out.arrow`` table saying which records were left out and why. The input is never touched.

Sound is the runner's rule: no error finding on the record or on its image. Warnings and info are kept:
TinyLLaVA trains those records (a warning trains worse than intended, which the user may accept); an error
is exactly what it crashes on or silently spoils (README, "What counts as an error"). In a dry run, test 3's
error findings on records put those out too.

Records are written as they came: the same JSON objects (key order kept), one per line in a JSON array,
which is what TinyLLaVA's ``json.load`` reads; so a split read from JSONL, with a BOM or wrapped in an
object comes out as the plain array training needs. Split-level errors name no record (a file that cannot
be read at all) and put nothing out; what could be read is written. Images are not copied: the clean files
name the same images, so a rerun passes ``--images`` pointing at the original folder.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from harness.data import Dataset, DatasetPaths
from harness.errors import UsageError
from harness.results.schema import LEFT_OUT, with_metadata
from harness.results.write import write_table, write_text

LEFT_OUT_FILE = "left_out.arrow"


@dataclass(kw_only=True)
class CleanResult:
    out: Path
    kept: dict[str, int]                        # split -> records written
    left_out: dict[str, int]                    # split -> records left out
    table: pa.Table                             # LEFT_OUT rows
    files: dict[str, Path] = field(default_factory=dict)

    def line(self) -> str:
        parts = ", ".join(f"{s} {self.kept[s]:,} kept, {self.left_out.get(s, 0):,} left out" for s in self.kept)
        return f"clean copy: {parts}; written to {self.out} ({LEFT_OUT_FILE}: why)"


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def check_clean_target(target: Path, paths: DatasetPaths, dataset_root: Path | None = None) -> None:
    """Refuse (UsageError, exit 2) a folder that is the dataset's own, inside its image folder, or where
    the clean files would replace an input file; checked before the run, so nothing is spent on a refusal."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise UsageError(f"--write-clean {target}: exists and is not a folder")
    inputs = [p for p in (paths.train, paths.val) if p is not None]
    own = {p.parent for p in inputs} | ({Path(dataset_root)} if dataset_root is not None else set())
    if any(_same(target, d) for d in own):
        raise UsageError(f"--write-clean {target}: that is the dataset's own folder; the input is never "
                         f"overwritten, give another folder")
    images = paths.images.resolve()
    if target.resolve() == images or images in target.resolve().parents:
        raise UsageError(f"--write-clean {target}: inside the dataset's image folder {paths.images}")
    for name in ("train.json", "val.json"):
        if any(_same(target / name, p) for p in inputs):
            raise UsageError(f"--write-clean {target}: {name} there is an input file")


def left_out_rows(dataset: Dataset, findings: pa.Table, records: pa.Table) -> list[dict]:
    """One ``LEFT_OUT`` row per (unsound record, error finding naming it or its image), in split and record
    order. Unsound: the ``records`` table's ``sound`` column (the runner's rule), plus records named by an
    error finding of a later test (test 3 in a dry run)."""
    # Errors only, filtered in Arrow: a large mix has far more warning rows than error rows.
    errors = findings.filter(pc.equal(findings.column("severity"), "error")).to_pylist()
    on_record: dict[tuple, list[dict]] = {}
    on_image: dict[str, list[dict]] = {}
    for f in errors:
        if f["record_index"] is not None:
            on_record.setdefault((f["split"], f["record_index"]), []).append(f)
        elif f["image"] is not None:
            on_image.setdefault(f["image"], []).append(f)
    unsound = {(s, i) for s, i, ok in zip(records.column("split").to_pylist(),
                                          records.column("record_index").to_pylist(),
                                          records.column("sound").to_pylist()) if ok is False}
    unsound |= set(on_record)
    rows = []
    for r in dataset.all_records():
        if (r.split, r.index) not in unsound:
            continue
        why = on_record.get((r.split, r.index), []) + (on_image.get(r.image, []) if r.image else [])
        for f in why or [{"check": "unsound", "message": "an error finding on this record or its image"}]:
            rows.append({"split": r.split, "record_index": r.index, "id": r.id, "image": r.image,
                         "check": f["check"], "message": f["message"]})
    return rows


def _json_array(objects: list) -> str:
    # One record per line: as compact as the input allows, and a diff shows records, not indentation.
    if not objects:
        return "[]\n"
    return "[\n" + ",\n".join(json.dumps(o, ensure_ascii=False) for o in objects) + "\n]\n"


def write_clean(target: Path, dataset: Dataset, findings: pa.Table, records: pa.Table,
                meta: dict) -> CleanResult:
    """Write the sound records of each split and ``left_out.arrow`` into ``target`` (each file atomic)."""
    target = Path(target)
    rows = left_out_rows(dataset, findings, records)
    out_keys = {(r["split"], r["record_index"]) for r in rows}
    table = pa.Table.from_pylist(rows, schema=LEFT_OUT)
    files = {"left_out": write_table(target / LEFT_OUT_FILE, table.cast(with_metadata(LEFT_OUT, meta)))}
    kept, left = {}, {}
    for split, recs in dataset.records.items():
        sound = [r.raw for r in recs if (split, r.index) not in out_keys]
        files[split] = write_text(target / f"{split}.json", _json_array(sound))
        kept[split], left[split] = len(sound), len(recs) - len(sound)
    return CleanResult(out=target, kept=kept, left_out=left, table=table, files=files)
