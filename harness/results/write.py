"""Atomic writes: a temporary file beside the target, fsync, then rename, so an interrupted run never
leaves a half-written table or report. ``write_run`` is the one way a command writes its outputs."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from harness.results.schema import with_metadata


def _umask() -> int:
    mask = os.umask(0)   # the only way to read it is to set it; put back at once
    os.umask(mask)
    return mask


def _atomic(path: Path, write) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            # mkstemp makes the file 0600 and the mode survives the rename: give it the user's usual mode
            os.fchmod(f.fileno(), 0o666 & ~_umask())
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    return _atomic(path, lambda f: f.write(data))


def write_text(path: Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def write_table(path: Path, table: pa.Table) -> Path:
    """Write an Arrow IPC file (the format ``pyarrow.ipc.open_file`` and ``feather`` read)."""

    def w(f):
        with ipc.new_file(f, table.schema) as writer:
            writer.write_table(table)

    return _atomic(path, w)


def read_table(path: Path) -> pa.Table:
    with pa.memory_map(str(path), "r") as source:
        return ipc.open_file(source).read_all()


def write_run(out: Path, meta: dict[str, Any], tables: dict[str, pa.Table], *, report: str | None = None,
              files: dict[str, bytes | None] | None = None) -> dict[str, Path]:
    """Every output of a run into ``out``: each table as ``<name>.arrow`` with ``meta`` in its schema
    metadata, ``run.json`` (the same metadata), ``report.md`` and any other files (plots); all atomic.
    Returns name -> path of what was written."""
    written: dict[str, Path] = {}
    for name, table in tables.items():
        sch = with_metadata(table.schema.remove_metadata(), meta)
        written[name] = write_table(out / f"{name}.arrow", table.replace_schema_metadata(None).cast(sch))
    for name, data in (files or {}).items():
        if data is not None:   # a plot with nothing to show is left out
            written[name] = write_bytes(out / name, data)
    if report is not None:
        written["report"] = write_text(out / "report.md", report)
    written["run"] = write_json(out / "run.json", meta)
    return written
