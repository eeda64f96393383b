"""Records: one entry of a LLaVA-format JSON (or JSONL) list, parsed leniently so checks can judge it."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.data.layout import SPLITS, DatasetPaths


@dataclass(kw_only=True, frozen=True)
class Record:
    """One sample as written. Nothing is repaired here: checks decide what is wrong with it."""

    split: str
    index: int
    raw: Any
    id: str | None = None
    image: str | None = None
    # (role, text) pairs when ``conversations`` is a list of {from, value} strings; None otherwise.
    turns: tuple[tuple[str, str], ...] | None = None

    @property
    def prompt(self) -> str:
        """Text of the human turns, joined; empty when the record is malformed."""
        return "\n".join(v for r, v in (self.turns or ()) if r == "human")

    @property
    def answer(self) -> str:
        """Text of the gpt turns, joined; empty when the record is malformed."""
        return "\n".join(v for r, v in (self.turns or ()) if r == "gpt")


@dataclass(kw_only=True)
class Dataset:
    """Records of each split, the image root, and problems met while reading the files."""

    paths: DatasetPaths
    records: dict[str, list[Record]]
    # (split, message) for files that could not be read or parsed at all
    load_errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def images(self) -> Path:
        return self.paths.images

    def all_records(self) -> list[Record]:
        return [r for s in SPLITS for r in self.records.get(s, [])]


def parse_record(split: str, index: int, raw: Any) -> Record:
    if not isinstance(raw, dict):
        return Record(split=split, index=index, raw=raw)
    rid = raw.get("id")
    image = raw.get("image")
    turns = None
    conv = raw.get("conversations")
    if isinstance(conv, list) and all(
        isinstance(t, dict) and isinstance(t.get("from"), str) and isinstance(t.get("value"), str) for t in conv
    ):
        turns = tuple((t["from"], t["value"]) for t in conv)
    return Record(
        split=split,
        index=index,
        raw=raw,
        id=str(rid) if rid is not None else None,
        image=image if isinstance(image, str) else None,
        turns=turns,
    )


def _read_json_list(path: Path) -> list[Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    data = json.loads(text)
    if not isinstance(data, list):
        raise ValueError("top level is not a JSON list")
    return data


def load_dataset(paths: DatasetPaths) -> Dataset:
    records: dict[str, list[Record]] = {}
    errors: list[tuple[str, str]] = []
    for split in SPLITS:
        f = paths.split_file(split)
        if f is None:
            records[split] = []
            continue
        try:
            items = _read_json_list(f)
        except (OSError, UnicodeDecodeError, ValueError) as e:
            errors.append((split, f"{f.name} cannot be read as a LLaVA JSON list: {e}"))
            items = []
        records[split] = [parse_record(split, i, raw) for i, raw in enumerate(items)]
    return Dataset(paths=paths, records=records, load_errors=errors)
