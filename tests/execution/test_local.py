"""Executors without Ray: the metering wrapper and the driver-ships-bytes image pass."""
from __future__ import annotations

import functools

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

from harness.checks.image_pass import measure_images, measure_images_chunk
from harness.checks.shipping import ShippingExecutor
from harness.execution import LocalExecutor, MeteredExecutor, chunked, iter_values
from harness.results.schema import IMAGES


def rows_for(chunk):
    return [{"image": x, "node": None} for x in chunk]


def fail_on_two(chunk):
    if 2 in chunk:
        raise ValueError("two")
    return [{"image": x} for x in chunk]


def test_metered_stamps_nodes_and_counts():
    meter = MeteredExecutor(LocalExecutor())
    results = list(meter.map_chunks(rows_for, chunked(list(range(10)), 3)))
    assert [r.index for r in results] == [0, 1, 2, 3]
    rows = [row for r in results for row in r.value]
    assert [row["image"] for row in rows] == list(range(10))
    assert {row["node"] for row in rows} == {results[0].node} and results[0].node
    assert meter.items == 10 and meter.chunks == 4 and meter.first_items == 3
    assert meter.nodes == {results[0].node: 10}
    assert meter.startup_seconds is not None and meter.startup_seconds >= 0


def test_metered_counts_the_rows_of_columnar_batches(image_dir):
    names = ["a.png", "sub/b.png", "broken.png"]
    fn = functools.partial(measure_images_chunk, str(image_dir), 10_000)
    meter = MeteredExecutor(LocalExecutor())
    results = list(meter.map_chunks(fn, chunked(names, 2)))
    assert [r.value.num_rows for r in results] == [2, 1]
    assert meter.items == 3 and meter.first_items == 2 and meter.nodes == {results[0].node: 3}


def test_metered_keeps_errors_as_results():
    meter = MeteredExecutor(LocalExecutor())
    results = list(meter.map_chunks(fail_on_two, [[1], [2, 3], [4]]))
    assert [r.error for r in results] == [None, "ValueError: two", None]
    assert len(meter.errors) == 1 and meter.items == 2
    with pytest.raises(RuntimeError, match="two"):
        list(iter_values(LocalExecutor().map_chunks(fail_on_two, [[2]])))


@pytest.fixture
def image_dir(tmp_path):
    root = tmp_path / "images"
    (root / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("a.png", "sub/b.png"):
        Image.fromarray(rng.integers(0, 255, (32, 48, 3), dtype=np.uint8)).save(root / name)
    (root / "broken.png").write_bytes((root / "a.png").read_bytes()[:100])
    (tmp_path / "outside.png").write_bytes((root / "a.png").read_bytes())
    (root / "link.png").symlink_to(tmp_path / "outside.png")
    return root


def test_shipped_bytes_give_the_same_rows(image_dir):
    names = ["a.png", "sub/b.png", "broken.png", "missing.png", "../outside.png", "link.png", "sub"]
    fn = functools.partial(measure_images_chunk, str(image_dir), 10_000)
    direct = measure_images(str(image_dir), names, max_pixels=10_000)
    shipped = [row for r in ShippingExecutor(LocalExecutor(), image_dir).map_chunks(fn, chunked(names, 3))
               for row in r.value.to_pylist()]
    direct = pa.Table.from_pylist(direct, schema=IMAGES).to_pylist()
    drop = {"measure_seconds"}
    assert [{k: v for k, v in r.items() if k not in drop} for r in shipped] == \
           [{k: v for k, v in r.items() if k not in drop} for r in direct]
    assert [r["decode_ok"] for r in shipped] == [True, True, False, False, False, False, False]


def test_shipping_leaves_other_functions_alone():
    results = list(ShippingExecutor(LocalExecutor(), "/nonexistent").map_chunks(rows_for, [[1, 2]]))
    assert results[0].value == [{"image": 1, "node": None}, {"image": 2, "node": None}]
