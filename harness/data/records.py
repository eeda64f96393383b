"""Records: one entry of a LLaVA-format JSON (or JSONL) list, parsed leniently so checks can judge it.

TinyLLaVA reads a split with ``json.load(open(path, "r"))`` and indexes the result as a list. Files that
this rejects but whose records are still plain to see (JSON Lines, a UTF-8 BOM, a top-level object around
the list) are read anyway, so every other check runs on their records, and the problem is kept in
``Dataset.format_problems`` for the ``dataset.split_*`` checks to report as errors.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.data.layout import SPLITS, DatasetPaths

QUESTION, ANSWER, DROPPED = "question", "answer", "dropped"


def turn_slots(turns) -> list[str]:
    """What TinyLLaVA's ``_get_list_from_message`` makes of each (role, text) turn, by position: a first
    turn whose ``from`` is not exactly ``"human"`` is dropped; the rest alternate question, answer by their
    index (roles after the first turn are never read)."""
    skip = 1 if turns and turns[0][0] != "human" else 0
    return [DROPPED if i < skip else QUESTION if i % 2 == skip else ANSWER for i in range(len(turns))]


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

    def _joined(self, slot: str) -> str:
        turns = self.turns or ()
        return "\n".join(v for (_, v), s in zip(turns, turn_slots(turns)) if s == slot)

    @property
    def prompt(self) -> str:
        """Text of the questions as TinyLLaVA pairs the turns (``turn_slots``), joined; empty when the
        record is malformed."""
        return self._joined(QUESTION)

    @property
    def answer(self) -> str:
        """Text of the answers as TinyLLaVA pairs the turns (``turn_slots``), joined; empty when the
        record is malformed."""
        return self._joined(ANSWER)


@dataclass(kw_only=True)
class Dataset:
    """Records of each split, the image root, and problems met while reading the files."""

    paths: DatasetPaths
    records: dict[str, list[Record]]
    # (split, message) for files that could not be read or parsed at all
    load_errors: list[tuple[str, str]] = field(default_factory=list)
    # (split, kind, message) for files read here that TinyLLaVA's json.load would not take as a list;
    # kind is one of FORMAT_PROBLEMS
    format_problems: list[tuple[str, str, str]] = field(default_factory=list)

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


FORMAT_PROBLEMS = ("jsonl", "bom", "object")


def _list_in_object(data: dict) -> tuple[list[Any], str] | None:
    """The records inside a top-level object: its one list value, or its values when all are objects (a
    dict of records keyed by id); with where they were found. None when neither."""
    if "conversations" in data:   # one record, not wrapped in a list (or a one-line JSONL file)
        return [data], "it as one record"
    lists = [k for k, v in data.items() if isinstance(v, list)]
    if len(lists) == 1:
        return data[lists[0]], f"the list under key {lists[0]!r}"
    if data and all(isinstance(v, dict) for v in data.values()):
        return list(data.values()), f"its {len(data)} object values"
    return None


def _read_json_list(path: Path) -> tuple[list[Any], list[tuple[str, str]]]:
    """The records of a split file and the (kind, message) problems TinyLLaVA would have with the file."""
    raw = path.read_bytes()
    problems: list[tuple[str, str]] = []
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
        problems.append(("bom", "starts with a UTF-8 byte order mark: TinyLLaVA's json.load on the file opened "
                                "as plain text raises JSONDecodeError 'Unexpected UTF-8 BOM (decode using "
                                "utf-8-sig)' and training cannot start"))
    text = raw.decode("utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        if not e.msg.startswith("Extra data"):
            raise
        data = [json.loads(line) for line in text.splitlines() if line.strip()]
        problems.append(("jsonl", f"is JSON Lines ({len(data)} objects, one per line): TinyLLaVA's json.load "
                                  f"raises JSONDecodeError 'Extra data: line {e.lineno} column {e.colno}' "
                                  f"and training cannot start"))
        return data, problems
    if isinstance(data, dict):
        found = _list_in_object(data)
        where = (f"the harness reads {found[1]}" if found is not None
                 else "no records found in it (no single list value)")
        problems.append(("object", f"is a top-level JSON object with {len(data)} key(s), not a list: TinyLLaVA "
                                   f"indexes it like a list (list_data_dict[i]) and stops with KeyError: 0 "
                                   f"(or a TypeError computing lengths); {where}"))
        return (found[0] if found is not None else []), problems
    if not isinstance(data, list):
        raise ValueError("top level is not a JSON list")
    return data, problems


def load_dataset(paths: DatasetPaths) -> Dataset:
    records: dict[str, list[Record]] = {}
    errors: list[tuple[str, str]] = []
    problems: list[tuple[str, str, str]] = []
    for split in SPLITS:
        f = paths.split_file(split)
        if f is None:
            records[split] = []
            continue
        try:
            items, found = _read_json_list(f)
            problems += [(split, kind, f"{f.name} {message}") for kind, message in found]
        except (OSError, UnicodeDecodeError, ValueError) as e:
            errors.append((split, f"{f.name} cannot be read as a LLaVA JSON list: {e}"))
            items = []
        records[split] = [parse_record(split, i, raw) for i, raw in enumerate(items)]
    return Dataset(paths=paths, records=records, load_errors=errors, format_problems=problems)
