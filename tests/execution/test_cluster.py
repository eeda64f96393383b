"""Two Ray nodes on loopback (``ray.cluster_utils.Cluster``): ``harness validate --ray-address`` finds what
a local run finds with work done on both nodes, and losing the worker node mid-run loses no image."""
from __future__ import annotations

import functools
import os
import sys
import time

import pytest

ray = pytest.importorskip("ray")
import ray.cloudpickle  # noqa: E402, F811  (the submodule, on the skipped-if-absent ray)
from click.testing import CliRunner  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from harness.checks.image_pass import measure_images  # noqa: E402
from harness.cli import main  # noqa: E402
from harness.execution import RayExecutor  # noqa: E402
from harness.results.write import read_table  # noqa: E402
from tests.support.datasets import make_clean_dataset  # noqa: E402

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # loopback only
pytestmark = [pytest.mark.ray, pytest.mark.slow]
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

# A lost node is declared dead after about a second, not the default quarter of a minute.
FAST_HEALTH = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 500,
               "health_check_failure_threshold": 2}


def two_nodes() -> tuple[Cluster, object]:
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "include_dashboard": False, "_system_config": FAST_HEALTH})
    worker = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    return cluster, worker


@pytest.fixture
def cluster():
    c, worker = two_nodes()
    yield c, worker
    if ray.is_initialized():   # a failed test may leave this process connected
        ray.shutdown()
    c.shutdown()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    # Full-size renders and enough chunks that one node cannot drain the queue before the other starts.
    return make_clean_dataset(tmp_path_factory.mktemp("cluster") / "ds", models=64, val_models=6,
                              size=(512, 512))


def comparable(out) -> tuple[list, list]:
    findings = sorted(tuple(r.values()) for r in read_table(out / "findings.arrow").to_pylist())
    images = sorted((tuple(v for k, v in r.items() if k not in ("node", "measure_seconds"))
                     for r in read_table(out / "images.arrow").to_pylist()), key=repr)
    return findings, images


def test_validate_on_two_nodes_matches_local(cluster, dataset, tmp_path):
    c, _ = cluster
    runner = CliRunner()
    local = runner.invoke(main, ["validate", str(dataset), "--out", str(tmp_path / "local"), "--workers", "1"])
    remote = runner.invoke(main, ["validate", str(dataset), "--out", str(tmp_path / "cluster"),
                                  "--ray-address", c.address])
    assert local.exit_code == remote.exit_code == 0, remote.output
    assert comparable(tmp_path / "cluster") == comparable(tmp_path / "local")
    nodes = set(read_table(tmp_path / "cluster" / "images.arrow").column("node").to_pylist())
    assert len(nodes) == 2, "both nodes measured images"
    assert "on 2 node(s)" in remote.output


def slow_measure(root: str, chunk: list[str]) -> list[dict]:
    time.sleep(0.1)   # keeps tasks running long enough for the node to go away under them
    return measure_images(root, chunk, max_pixels=10**8)


def test_losing_the_worker_node_loses_no_image(cluster, dataset):
    c, worker = cluster
    names = sorted(p.name for p in (dataset / "images").iterdir())
    chunks = [[n] for n in names]   # one image per task: many tasks in flight when the node goes
    fn = functools.partial(slow_measure, str(dataset / "images"))
    seen, before = [], set()
    with RayExecutor(address=c.address, max_retries=3) as ex:
        results = ex.map_chunks(fn, chunks)
        for r in results:
            seen.append(r)
            if len(seen) == 10:
                before = {x.node for x in seen}
                c.remove_node(worker, allow_graceful=False)
    assert worker.node_id in before, "the worker node did work before it was removed"
    assert sorted(r.index for r in seen) == list(range(len(chunks))), "every image exactly once"
    assert all(r.error is None for r in seen), [r.error for r in seen if r.error]
    got = {r.value[0]["image"]: r.value[0] for r in seen}
    want = {row["image"]: row for row in measure_images(str(dataset / "images"), names, max_pixels=10**8)}
    strip = lambda row: {k: v for k, v in row.items() if k != "measure_seconds"}  # noqa: E731
    assert {k: strip(v) for k, v in got.items()} == {k: strip(v) for k, v in want.items()}
    late = [r.node for r in seen[len(chunks) // 2:]]
    assert set(late) == {c.head_node.node_id}, "after the loss, the head node did the rest"


def test_synth_on_two_nodes_makes_the_same_dataset_as_a_local_run(cluster, tmp_path):
    c, _ = cluster
    runner = CliRunner()
    local = runner.invoke(main, ["synth", str(tmp_path / "local"), "--models", "24", "--size", "64",
                                 "--workers", "1"])
    remote = runner.invoke(main, ["synth", str(tmp_path / "ray"), "--models", "24", "--size", "64",
                                  "--ray-address", c.address])
    assert local.exit_code == remote.exit_code == 0, remote.output
    assert "0 failures" in remote.output
    for name in ("train.json", "val.json"):
        assert (tmp_path / "ray" / name).read_text() == (tmp_path / "local" / name).read_text()
    local_images = sorted((tmp_path / "local" / "images").iterdir())
    assert len(local_images) == 72
    for p in local_images:
        assert (tmp_path / "ray" / "images" / p.name).read_bytes() == p.read_bytes(), p.name


DEEPCAD = __import__("pathlib").Path(__file__).resolve().parents[2].parent / "shared" / "deepcad" / "json"


@pytest.mark.skipif(not DEEPCAD.is_dir(), reason="shared DeepCAD samples not present")
def test_deepcad_import_on_two_nodes_resumes_like_a_local_run(cluster, tmp_path):
    c, _ = cluster
    runner = CliRunner()
    args = ["synth", str(tmp_path / "dc"), "--from-deepcad", str(DEEPCAD), "--size", "64", "--ray-address", c.address]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    codes = sorted((tmp_path / "dc" / "code").iterdir())
    assert len(codes) == 16
    stamp = {p.name: p.stat().st_mtime_ns for p in codes}
    again = runner.invoke(main, args)              # resumable: every model is already there
    assert again.exit_code == 0, again.output
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "dc" / "code").iterdir()} == stamp
