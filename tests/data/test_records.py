"""Split files as TinyLLaVA reads them: ``json.load(open(path, "r"))`` then list indexing. The harness reads
JSONL, a BOM and a top-level object anyway (so every other check runs on the records) and keeps what
TinyLLaVA would do with the file in ``Dataset.format_problems``."""
from __future__ import annotations

import json

from harness.data.layout import resolve_dataset
from harness.data.records import load_dataset

REC = {"id": "a", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]}


def _load(tmp_path, train: bytes, val: bytes = b"[]"):
    (tmp_path / "images").mkdir(exist_ok=True)
    (tmp_path / "train.json").write_bytes(train)
    (tmp_path / "val.json").write_bytes(val)
    return load_dataset(resolve_dataset(tmp_path))


def test_a_json_array_has_no_format_problem(tmp_path):
    """A JSON array of records: what json.load returns is the list TinyLLaVA indexes; no problem."""
    ds = _load(tmp_path, json.dumps([REC, REC]).encode())
    assert len(ds.records["train"]) == 2 and ds.format_problems == [] and ds.load_errors == []


def test_jsonl_is_read_line_by_line_and_kept_as_a_problem(tmp_path):
    """JSON Lines in train.json: json.load raises 'Extra data' (training cannot start); the harness reads
    each line as a record and records a 'jsonl' problem naming that error."""
    ds = _load(tmp_path, (json.dumps(REC) + "\n\n" + json.dumps(REC) + "\n").encode())
    assert len(ds.records["train"]) == 2 and ds.load_errors == []
    [(split, kind, message)] = ds.format_problems
    assert (split, kind) == ("train", "jsonl") and "Extra data: line 3 column 1" in message


def test_a_bom_is_stripped_and_kept_as_a_problem(tmp_path):
    """A UTF-8 BOM before a JSON array: json.load on the text file raises 'Unexpected UTF-8 BOM'; the
    harness strips it, reads the records and records a 'bom' problem."""
    ds = _load(tmp_path, b"\xef\xbb\xbf" + json.dumps([REC]).encode())
    assert len(ds.records["train"]) == 1
    assert [(s, k) for s, k, _ in ds.format_problems] == [("train", "bom")]
    assert "Unexpected UTF-8 BOM" in ds.format_problems[0][2]


def test_a_top_level_object_with_one_list_is_read_and_kept_as_a_problem(tmp_path):
    """{"data": [...]}: TinyLLaVA indexes the dict with 0 (KeyError); the harness reads the one list."""
    ds = _load(tmp_path, b"[]", json.dumps({"data": [REC, REC, REC], "version": "1"}).encode())
    assert len(ds.records["val"]) == 3
    [(split, kind, message)] = ds.format_problems
    assert (split, kind) == ("val", "object") and "KeyError: 0" in message and "'data'" in message


def test_a_dict_of_records_and_a_single_record_are_read(tmp_path):
    """A dict of records keyed by id, and one record not wrapped in a list: both KeyError: 0 in TinyLLaVA;
    the harness reads the values, or the one record (not its conversations as records)."""
    ds = _load(tmp_path, json.dumps({"a": REC, "b": REC}).encode(), json.dumps(REC).encode())
    assert len(ds.records["train"]) == 2 and len(ds.records["val"]) == 1
    assert ds.records["val"][0].turns == (("human", "hi"), ("gpt", "yo"))
    assert [(s, k) for s, k, _ in ds.format_problems] == [("train", "object"), ("val", "object")]


def test_an_object_without_records_reads_none_but_is_still_a_problem(tmp_path):
    """{"a": [], "b": []}: no single list to read; the 'object' problem says no records were found."""
    ds = _load(tmp_path, json.dumps({"a": [], "b": [1]}).encode())
    assert ds.records["train"] == [] and "no records found" in ds.format_problems[0][2]


def test_a_file_that_cannot_be_read_stays_a_load_error(tmp_path):
    """Broken JSON (not JSONL either): nothing can be read; a load error, not a format problem."""
    ds = _load(tmp_path, b"[{not json")
    assert ds.records["train"] == [] and ds.format_problems == [] and ds.load_errors[0][0] == "train"


def test_prompt_and_answer_follow_tinyllavas_positional_pairing():
    """[system, human, assistant]: TinyLLaVA drops the system turn and pairs the rest by position, so the
    record's prompt is the human turn and its answer the assistant turn (what the loader and the answer
    checks use); [human, gpt] is unchanged."""
    from harness.data.records import parse_record

    def conv(*turns):
        return {"conversations": [{"from": f, "value": v} for f, v in turns]}

    r = parse_record("train", 0, conv(("system", "s"), ("human", "q"), ("assistant", "a")))
    assert (r.prompt, r.answer) == ("q", "a")
    r = parse_record("train", 0, conv(("human", "q1"), ("gpt", "a1"), ("human", "q2"), ("gpt", "a2")))
    assert (r.prompt, r.answer) == ("q1\nq2", "a1\na2")
