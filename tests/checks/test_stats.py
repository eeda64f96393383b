"""Statistics of test 2 on tiny tables whose numbers are worked out by hand."""
from __future__ import annotations

import pyarrow as pa
import pytest

from harness.checks.runner import run_checks
from harness.checks.stats import compute_stats, summary
from harness.config import CheckConfig
from harness.results.schema import IMAGES, RECORDS
from tests.support.datasets import load, make_clean_dataset

CFG = CheckConfig(max_length=100, image_tokens=40)

IMAGES_T = pa.Table.from_pylist([
    {"image": "a_front.png", "referenced": True, "exists": True, "decode_ok": True, "format": "PNG", "mode": "RGB",
     "width_px": 4, "height_px": 2, "file_bytes": 100, "decoded_bytes": 24},
    {"image": "b_front.png", "referenced": True, "exists": True, "decode_ok": True, "format": "PNG", "mode": "L",
     "width_px": 4, "height_px": 2, "file_bytes": 50, "decoded_bytes": 24},
    {"image": "c_front.jpg", "referenced": False, "exists": True, "decode_ok": True, "format": "JPEG",
     "mode": "RGB", "width_px": 2, "height_px": 2, "file_bytes": 30, "decoded_bytes": 12},
    {"image": "d_front.png", "referenced": True, "exists": False, "decode_ok": False},
], schema=IMAGES)

RECORDS_T = pa.Table.from_pylist([
    {"split": "train", "record_index": 0, "turns": 2, "prompt_chars": 10, "answer_chars": 30, "text_bytes": 40,
     "prompt_tokens": 50, "answer_tokens": 20, "total_tokens": 70, "truncated_answer_tokens": 0},
    {"split": "train", "record_index": 1, "turns": 4, "prompt_chars": 20, "answer_chars": 100, "text_bytes": 124,
     "prompt_tokens": 60, "answer_tokens": 70, "total_tokens": 130, "truncated_answer_tokens": 30},
    {"split": "val", "record_index": 0, "turns": 2, "prompt_chars": 0, "answer_chars": 5, "text_bytes": 5,
     "prompt_tokens": None, "answer_tokens": None, "total_tokens": None, "truncated_answer_tokens": None},
    {"split": "val", "record_index": 1, "turns": None, "prompt_chars": 0, "answer_chars": 0, "text_bytes": 0},
], schema=RECORDS)


def test_summary_by_hand():
    import pyarrow as pa
    assert summary(pa.array([3, None, 1, 8])) == {"count": 3, "min": 1, "mean": 4.0, "max": 8, "total": 12}
    assert summary(pa.array([], pa.int64())) == {"count": 0, "min": None, "mean": None, "max": None, "total": 0}


def test_image_stats_by_hand():
    s = compute_stats(IMAGES_T, RECORDS_T, cfg=CFG, tokenizer="t")["images"]
    assert (s["files"], s["referenced"], s["orphans"], s["existing"], s["measured"]) == (4, 3, 1, 3, 3)
    assert s["formats"] == {"PNG": 2, "JPEG": 1}
    assert s["modes"] == {"RGB": 2, "L": 1}
    assert s["resolutions"] == {"4x2": 2, "2x2": 1}
    assert s["file_bytes"] == {"count": 3, "min": 30, "mean": 60.0, "max": 100, "total": 180}


def test_text_stats_by_hand():
    s = compute_stats(IMAGES_T, RECORDS_T, cfg=CFG, tokenizer="t")["text"]
    # the record with turns None (malformed) is not counted
    assert (s["records"], s["records_counted"], s["turns"]) == (4, 3, 8)
    assert s["prompt_chars"] == {"count": 3, "min": 0, "mean": 10.0, "max": 20, "total": 30}
    assert s["answer_chars"] == {"count": 3, "min": 5, "mean": 45.0, "max": 100, "total": 135}
    assert s["text_chars"] == 165 and s["chars_per_turn_mean"] == 165 / 8
    assert s["prompt_tokens"] == {"count": 2, "min": 50, "mean": 55.0, "max": 60, "total": 110}
    assert s["answer_tokens"]["total"] == 90 and s["total_tokens"]["max"] == 130
    assert s["tokens_per_turn_mean"] == 200 / 8
    assert (s["truncated_samples"], s["truncated_share"]) == (1, pytest.approx(1 / 3))
    assert (s["max_length"], s["image_tokens"], s["tokenizer"]) == (100, 40, "t")


def test_memory_stats_by_hand():
    m = compute_stats(IMAGES_T, RECORDS_T, cfg=CFG, tokenizer="t")["memory"]
    assert m["decoded_bytes_per_image"] == 20.0 and m["decoded_bytes_total"] == 60
    assert m["text_bytes"] == 169 and m["disk_bytes"] == 180
    assert set(m["formulas"]) == {"decoded_bytes_per_image", "decoded_bytes_total", "text_bytes", "disk_bytes"}


def test_stats_of_a_real_clean_dataset(tmp_path):
    root = make_clean_dataset(tmp_path, models=2, val_models=1)
    res = run_checks(load(root), CheckConfig())
    s = res.stats
    assert s["images"]["resolutions"] == {"512x512": 6} and s["images"]["modes"] == {"RGB": 6}
    assert s["memory"]["decoded_bytes_per_image"] == 512 * 512 * 3
    assert s["memory"]["decoded_bytes_total"] == 6 * 512 * 512 * 3
    files = sorted((root / "images").iterdir())
    assert s["memory"]["disk_bytes"] == sum(f.stat().st_size for f in files)
    recs = load(root).all_records()
    assert s["text"]["answer_chars"]["total"] == sum(len(r.answer) for r in recs)
    assert s["text"]["prompt_chars"]["max"] == len("<image>\nWhat is the CAD code for this 3D model?")
    assert s["text"]["truncated_samples"] == 0
    short = run_checks(load(root), CheckConfig(max_length=1000, image_tokens=728)).stats["text"]
    assert short["truncated_share"] == 1.0   # 728 image tokens + ~800 answer bytes cannot fit in 1000
