"""The image pass: one file -> one IMAGES row, never an exception; kernels for PNG, Pillow otherwise."""
from __future__ import annotations

import io
import os
import pickle

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

from harness.checks.image_pass import measure_image, measure_images, measure_images_chunk, sniff_format
from harness.results.schema import IMAGES
from kernels.measure import pixel_hash
from tests.support.datasets import huge_png, png_bytes, render_cad

LIMIT = 178_956_970


@pytest.fixture
def root(tmp_path):
    d = tmp_path / "images"
    d.mkdir()
    return d


def write(root, name, data: bytes) -> str:
    (root / name).write_bytes(data)
    return name


def test_clean_png_row_is_complete_and_fits_the_schema(root):
    im = render_cad(1)
    row = measure_image(str(root), write(root, "a_front.png", png_bytes(im)), max_pixels=LIMIT)
    rgb = np.asarray(im)
    assert row["decode_ok"] and row["exists"] and row["decode_path"] == "kernel"
    assert (row["format"], row["mode"], row["width_px"], row["height_px"]) == ("PNG", "RGB", 512, 512)
    assert row["bit_depth"] == 8 and row["interlaced"] is False
    assert row["decoded_bytes"] == 512 * 512 * 3
    assert row["pixel_hash"] == pixel_hash(rgb) and len(row["pixel_hash"]) == 32
    assert row["file_bytes"] == (root / "a_front.png").stat().st_size
    assert 200 < row["brightness_mean"] < 255 and row["colorfulness"] == 0.0
    assert 0 <= row["phash"] < 2 ** 64 and row["measure_seconds"] >= 0
    assert row.get("decode_error") is None and row.get("decode_problem") is None
    pa.Table.from_pylist([row], schema=IMAGES)   # every key is a column of the declared schema, types included


def test_same_pixels_in_png_and_bmp_give_the_same_pixel_hash(root):
    im = render_cad(2)
    buf = io.BytesIO()
    im.save(buf, format="BMP")
    a = measure_image(str(root), write(root, "a.png", png_bytes(im)), max_pixels=LIMIT)
    b = measure_image(str(root), write(root, "b.bmp", buf.getvalue()), max_pixels=LIMIT)
    assert b["decode_path"] == "pillow" and b["format"] == "BMP" and b["decode_ok"]
    assert a["pixel_hash"] == b["pixel_hash"] and a["phash"] == b["phash"]
    assert a["brightness_mean"] == pytest.approx(b["brightness_mean"])


def test_format_is_sniffed_from_magic_bytes_not_the_name(root):
    buf = io.BytesIO()
    render_cad(3).save(buf, format="JPEG")
    row = measure_image(str(root), write(root, "looks_like.png", buf.getvalue()), max_pixels=LIMIT)
    assert row["format"] == "JPEG" and row["decode_path"] == "pillow" and row["decode_ok"]
    assert sniff_format(b"RIFF\0\0\0\0WEBPVP8 ") == "WEBP" and sniff_format(b"hello") is None


@pytest.mark.parametrize("make,problem", [
    (lambda d: d[: len(d) // 2], "truncated"),
    (lambda d: d[:-12], "truncated"),                       # IEND cut off
    (lambda d: d[:200] + bytes([d[200] ^ 0xFF]) + d[201:], "crc"),
    (lambda d: b"GIF89a not really", "not_an_image"),
    (lambda d: b"just text", "not_an_image"),
    (lambda d: b"", "not_an_image"),
])
def test_damaged_files_become_rows_with_a_problem(root, make, problem):
    data = make(png_bytes(render_cad(4)))
    row = measure_image(str(root), write(root, "x.png", data), max_pixels=LIMIT)
    assert row["exists"] and not row["decode_ok"]
    assert row["decode_problem"] == problem and row["decode_error"]
    assert row.get("pixel_hash") is None


def test_forged_huge_png_is_refused_from_its_header(root):
    row = measure_image(str(root), write(root, "big.png", huge_png()), max_pixels=LIMIT)
    assert row["decode_problem"] == "pixel_limit" and "exceeds the limit" in row["decode_error"]
    assert (row["width_px"], row["height_px"]) == (40000, 40000) and row.get("decoded_bytes") is None


def test_pixel_limit_applies_to_pillow_formats_too(root):
    buf = io.BytesIO()
    render_cad(5, size=(64, 64)).save(buf, format="BMP")
    row = measure_image(str(root), write(root, "x.bmp", buf.getvalue()), max_pixels=64 * 64 - 1)
    assert row["decode_problem"] == "pixel_limit"
    assert measure_image(str(root), "x.bmp", max_pixels=64 * 64)["decode_ok"]


def test_trailing_data_is_measured_as_pillow_would_see_it(root):
    im = render_cad(6)
    row = measure_image(str(root), write(root, "t.png", png_bytes(im) + b"appended"), max_pixels=LIMIT)
    assert row["decode_ok"] and row["decode_problem"] == "trailing_data"
    assert row["pixel_hash"] == pixel_hash(np.asarray(im))


def test_modes_depth_and_interlace_are_reported(root):
    im = render_cad(7, size=(64, 48))
    grey = measure_image(str(root), write(root, "g.png", png_bytes(im.convert("L"))), max_pixels=LIMIT)
    rgba = measure_image(str(root), write(root, "a.png", png_bytes(im.convert("RGBA"))), max_pixels=LIMIT)
    deep = measure_image(str(root), write(root, "d.png", png_bytes(Image.fromarray(
        np.asarray(im.convert("L"), dtype=np.uint16) * 257))), max_pixels=LIMIT)
    assert (grey["mode"], grey["decode_ok"], grey["decoded_bytes"]) == ("L", True, 64 * 48 * 3)
    assert rgba["mode"] == "RGBA" and rgba["decode_ok"]
    assert deep["bit_depth"] == 16 and deep["decode_ok"]


def test_missing_unsafe_and_unreadable_paths(root, tmp_path):
    (tmp_path / "outside.png").write_bytes(png_bytes(render_cad(8)))
    os.symlink(tmp_path / "outside.png", root / "link.png")
    (root / "folder.png").mkdir()
    assert measure_image(str(root), "nope.png", max_pixels=LIMIT)["decode_problem"] == "missing"
    for bad in ("../outside.png", str(tmp_path / "outside.png"), "link.png"):
        row = measure_image(str(root), bad, max_pixels=LIMIT)
        assert row["decode_problem"] == "unsafe_path" and row.get("file_bytes") is None
    assert measure_image(str(root), "folder.png", max_pixels=LIMIT)["decode_problem"] == "unreadable"


def test_many_images_in_order_and_picklable(root):
    names = [write(root, f"{i}.png", png_bytes(render_cad(i, size=(32, 32)))) for i in range(3)] + ["gone.png"]
    rows = measure_images(str(root), names, max_pixels=LIMIT)
    assert [r["image"] for r in rows] == names and [r["decode_ok"] for r in rows] == [True] * 3 + [False]
    fn = pickle.loads(pickle.dumps(measure_images_chunk))
    batch = fn(str(root), LIMIT, names)   # a chunk comes back as one columnar IMAGES batch
    assert batch.schema.equals(IMAGES) and batch.num_rows == len(names)
    assert batch.column("pixel_hash").to_pylist() == [r.get("pixel_hash") for r in rows]
    timeless = lambda t: t.drop_columns(["measure_seconds"]).to_pylist()  # noqa: E731
    assert timeless(batch) == timeless(pa.Table.from_pylist(rows, schema=IMAGES))


def test_truncated_jpeg_through_pillow(root):
    buf = io.BytesIO()
    render_cad(9).save(buf, format="JPEG")
    row = measure_image(str(root), write(root, "t.jpg", buf.getvalue()[:2000]), max_pixels=LIMIT)
    assert row["decode_path"] == "pillow" and row["decode_problem"] == "truncated" and not row["decode_ok"]
