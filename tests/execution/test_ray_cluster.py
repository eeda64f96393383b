"""RayExecutor on a private local Ray: agrees with LocalExecutor, retries lost workers and transient
errors, turns a chunk that keeps failing into an error result, and reports every chunk exactly once."""
from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
import ray.cloudpickle  # noqa: E402, F811  (the submodule, on the skipped-if-absent ray)

from harness.execution import ChunkResult, LocalExecutor, RayExecutor, chunked  # noqa: E402

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # loopback only

pytestmark = [pytest.mark.ray, pytest.mark.slow]
# Ray workers cannot import a test module: ship its functions by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def sum_squares(chunk):
    return sum(x * x for x in chunk)


def die_once(arg):
    """Kills its worker process the first time it sees a chunk (marker file absent), succeeds after."""
    marker, value = arg
    if not os.path.exists(marker):
        Path(marker).touch()
        os._exit(1)
    return value * 10


def always_value_error(chunk):
    raise ValueError(f"bad chunk {chunk}")


def count_then_oserror(arg):
    """Leaves one file per attempt, then fails with a transient-looking error."""
    folder, value = arg
    Path(folder, uuid.uuid4().hex).touch()
    if value == 3:
        raise OSError("disk hiccup")
    return value


@pytest.fixture(scope="module")
def ray_exec():
    ex = RayExecutor(workers=2, max_retries=2)
    yield ex
    ex.close()


def by_index(results):
    results = list(results)
    indices = [r.index for r in results]
    assert sorted(indices) == list(range(len(indices))), "every chunk exactly once"
    return {r.index: r for r in results}


def test_ray_agrees_with_local(ray_exec):
    chunks = chunked(list(range(1000)), 37)
    local = by_index(LocalExecutor().map_chunks(sum_squares, chunks))
    remote = by_index(ray_exec.map_chunks(sum_squares, chunks))
    assert {i: r.value for i, r in remote.items()} == {i: r.value for i, r in local.items()}
    assert all(r.error is None and r.node for r in remote.values())
    assert ray_exec.startup_seconds > 0


def test_killed_worker_is_retried(ray_exec, tmp_path):
    chunks = [(str(tmp_path / f"m{i}"), i) for i in range(6)]
    results = by_index(ray_exec.map_chunks(die_once, chunks))
    assert {i: r.value for i, r in results.items()} == {i: i * 10 for i in range(6)}
    assert all(r.error is None for r in results.values())
    assert all((tmp_path / f"m{i}").exists() for i in range(6)), "each chunk's first attempt died"


def test_failing_chunk_becomes_error_result(ray_exec):
    results = by_index(ray_exec.map_chunks(always_value_error, list(range(5))))
    assert len(results) == 5
    for i, r in results.items():
        assert r.value is None and r.error == f"ValueError: bad chunk {i}"


def test_transient_error_retried_then_reported(ray_exec, tmp_path):
    results = by_index(ray_exec.map_chunks(count_then_oserror, [(str(tmp_path), i) for i in range(5)]))
    assert results[3].error == "OSError: disk hiccup"
    assert {i: results[i].value for i in (0, 1, 2, 4)} == {0: 0, 1: 1, 2: 2, 4: 4}
    # 4 chunks once, chunk 3 once plus max_retries=2 retries
    assert len(list(tmp_path.iterdir())) == 4 + 3


def test_many_chunks_bounded_in_flight(ray_exec):
    # more chunks than the in-flight bound: all come back, once each, with the right values
    chunks = chunked(list(range(5000)), 10)
    results = by_index(ray_exec.map_chunks(sum_squares, chunks))
    assert sum(r.value for r in results.values()) == sum(x * x for x in range(5000))


def test_local_executor_errors_are_data():
    results = list(LocalExecutor().map_chunks(always_value_error, [1, 2]))
    assert results[0] == ChunkResult(index=0, error="ValueError: bad chunk 1", node=os.uname().nodename)
