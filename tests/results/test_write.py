import pyarrow as pa
import pytest

from harness.results import schema
from harness.results.write import read_table, write_table, write_text


def test_table_round_trip_with_metadata(tmp_path):
    rows = [{"severity": "error", "check": "x", "message": "m", "record_index": 3}]
    t = pa.Table.from_pylist(rows, schema=schema.FINDINGS)
    t = t.cast(schema.with_metadata(t.schema, {"config": {"a": 1}}))
    p = write_table(tmp_path / "findings.arrow", t)
    back = read_table(p)
    assert back.to_pylist() == [{"severity": "error", "check": "x", "split": None, "record_index": 3,
                                 "image": None, "message": "m"}]
    assert schema.read_metadata(back.schema) == {"config": {"a": 1}}


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    from harness.results.write import write_bytes

    target = write_bytes(tmp_path / "t.bin", b"old")

    class Interrupted(Exception):
        pass

    def gen():
        yield b"partial"
        raise Interrupted

    with pytest.raises(Interrupted):
        from harness.results.write import _atomic
        _atomic(target, lambda f: [f.write(chunk) for chunk in gen()])
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["t.bin"]


def test_write_text_replaces_atomically(tmp_path):
    p = tmp_path / "r.md"
    write_text(p, "one")
    write_text(p, "two")
    assert p.read_text() == "two"
