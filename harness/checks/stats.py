"""Test 2 of the dry run: statistics over the ``IMAGES`` and ``RECORDS`` tables, nothing else.

Every number is an aggregation of a table column (the report is a view of the tables); memory estimates
carry the formula they come from.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from harness.config import CheckConfig


def summary(column: pa.ChunkedArray | pa.Array) -> dict[str, Any]:
    """min / mean / max / total of a numeric column, nulls ignored; all None (total 0) when empty."""
    col = column.drop_null() if hasattr(column, "drop_null") else column
    n = len(col)
    if n == 0:
        return {"count": 0, "min": None, "mean": None, "max": None, "total": 0}
    mm = pc.min_max(col)
    total = pc.sum(col).as_py()
    return {"count": n, "min": mm["min"].as_py(), "mean": total / n, "max": mm["max"].as_py(), "total": total}


def _counts(values) -> dict[str, int]:
    return dict(Counter(v for v in values if v is not None).most_common())


def image_stats(images: pa.Table) -> dict[str, Any]:
    rows = images.select(["referenced", "exists", "decode_ok", "format", "mode", "width_px",
                          "height_px"]).to_pylist()
    header = [r for r in rows if r["width_px"] is not None]
    return {
        "files": images.num_rows,
        "referenced": sum(1 for r in rows if r["referenced"]),
        "orphans": sum(1 for r in rows if not r["referenced"]),
        "existing": sum(1 for r in rows if r["exists"]),
        "measured": sum(1 for r in rows if r["decode_ok"]),
        "formats": _counts(r["format"] for r in rows),
        "modes": _counts(r["mode"] for r in header),
        "resolutions": _counts(f"{r['width_px']}x{r['height_px']}" for r in header),
        "file_bytes": summary(images.column("file_bytes")),
    }


def text_stats(records: pa.Table, *, cfg: CheckConfig, tokenizer: str) -> dict[str, Any]:
    # Records whose conversations parsed; a malformed record has no text to measure.
    ok = records.filter(pc.is_valid(records.column("turns")))
    turns = pc.sum(ok.column("turns")).as_py() or 0
    chars = (pc.sum(ok.column("prompt_chars")).as_py() or 0) + (pc.sum(ok.column("answer_chars")).as_py() or 0)
    tokens = (pc.sum(ok.column("prompt_tokens")).as_py() or 0) + (pc.sum(ok.column("answer_tokens")).as_py() or 0)
    cut = ok.filter(pc.greater(ok.column("truncated_answer_tokens"), 0)).num_rows if ok.num_rows else 0
    return {
        "tokenizer": tokenizer,
        "records": records.num_rows,
        "records_counted": ok.num_rows,
        "turns": turns,
        "prompt_chars": summary(ok.column("prompt_chars")),
        "answer_chars": summary(ok.column("answer_chars")),
        "prompt_tokens": summary(ok.column("prompt_tokens")),
        "answer_tokens": summary(ok.column("answer_tokens")),
        "total_tokens": summary(ok.column("total_tokens")),
        "text_chars": chars,
        "chars_per_turn_mean": chars / turns if turns else None,
        "tokens_per_turn_mean": tokens / turns if turns else None,
        "max_length": cfg.max_length,
        "image_tokens": cfg.image_tokens,
        "truncated_samples": cut,
        "truncated_share": cut / ok.num_rows if ok.num_rows else None,
        "definitions": {
            "prompt_tokens": "every token not learned: template, system prompt, questions, each image as "
                             "image_tokens (as the RECORDS column)",
            "tokens_per_turn_mean": "(prompt_tokens + answer_tokens) / turns, over records with tokens",
            "truncated_share": "records with answer tokens at or past max_length / records counted",
        },
    }


def memory_stats(images: pa.Table, records: pa.Table) -> dict[str, Any]:
    decoded = summary(images.column("decoded_bytes"))
    return {
        "decoded_bytes_per_image": decoded["mean"],
        "decoded_bytes_total": decoded["total"],
        "text_bytes": pc.sum(records.column("text_bytes")).as_py() or 0,
        "disk_bytes": pc.sum(images.column("file_bytes")).as_py() or 0,
        "formulas": {
            "decoded_bytes_per_image": "mean over measured images of height x width x 3 (uint8 RGB)",
            "decoded_bytes_total": "sum over measured images of height x width x 3: every image held decoded",
            "text_bytes": "sum of UTF-8 bytes of every turn of every record",
            "disk_bytes": "sum of image file sizes on disk",
        },
    }


def compute_stats(images: pa.Table, records: pa.Table, *, cfg: CheckConfig, tokenizer: str) -> dict[str, Any]:
    """Statistics of test 2: ``images``, ``text`` and ``memory`` sections (JSON-able)."""
    return {"images": image_stats(images), "text": text_stats(records, cfg=cfg, tokenizer=tokenizer),
            "memory": memory_stats(images, records)}
