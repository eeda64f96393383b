"""Joining a cluster a user started with ``ray start --head`` (not ``cluster_utils``), with Ray's token
authentication on: the join finds the token as ``ray start`` does; a join without it ends with one
message and exit 2; a private local Ray leaves nothing in the home folder that would switch later
clusters to token authentication."""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")

from tests.support.datasets import make_clean_dataset  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.slow]
RAY = Path(sys.executable).parent / "ray"
ROOT = Path(__file__).resolve().parents[2]


def env_with(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    env.update(HOME=str(home), RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", RAY_USAGE_STATS_ENABLED="0",
               PYTHONPATH=str(ROOT), **extra)
    env.pop("RAY_ADDRESS", None)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def harness(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *args], env=env, capture_output=True, text=True,
                          timeout=180, cwd=ROOT)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_clean_dataset(tmp_path_factory.mktemp("join") / "ds", models=4, val_models=1)


@pytest.fixture(scope="module")
def token_cluster(tmp_path_factory):
    """A head started as a user would, in a home whose ~/.ray/auth_token turns token auth on (as one
    left behind by an earlier private Ray would). ``--block``: ending this process ends the cluster."""
    home = tmp_path_factory.mktemp("token-home")
    (home / ".ray").mkdir(parents=True)
    (home / ".ray" / "auth_token").write_text(secrets.token_hex(32))
    port = free_port()
    head = subprocess.Popen([str(RAY), "start", "--head", "--block", "--port", str(port), "--num-cpus", "1",
                             "--include-dashboard", "false", "--node-ip-address", "127.0.0.1"],
                            env=env_with(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.5)
    else:
        head.kill()
        pytest.fail("ray start --head did not come up")
    time.sleep(3)   # the GCS listens before the head's raylet has registered
    yield home, f"127.0.0.1:{port}"
    # The whole session (ray start, its GCS and raylet, their workers): nothing of it outlives the test.
    os.killpg(head.pid, signal.SIGTERM)
    try:
        head.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(head.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    head.wait(timeout=30)


def test_joins_a_token_cluster_with_the_token_at_hand(token_cluster, dataset, tmp_path):
    home, address = token_cluster
    res = harness(["validate", str(dataset), "--out", str(tmp_path / "out"), "--ray-address", address],
                  env_with(home))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "executor: ray on 1 node(s)" in res.stdout


def test_a_join_the_cluster_refuses_is_one_message_and_exit_2(token_cluster, dataset, tmp_path):
    _, address = token_cluster
    stranger = tmp_path / "stranger"   # a home with no token
    stranger.mkdir()
    res = harness(["validate", str(dataset), "--out", str(tmp_path / "out"), "--ray-address", address],
                  env_with(stranger))
    assert res.returncode == 2, res.stdout + res.stderr
    assert "token authentication" in res.stderr and "RAY_AUTH_TOKEN" in res.stderr
    assert "Traceback" not in res.stderr and "gcs_client" not in res.stderr, res.stderr


def test_a_private_ray_leaves_nothing_in_the_home_folder(dataset, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    res = harness(["validate", str(dataset), "--out", str(tmp_path / "out"), "--workers", "2"], env_with(home))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "executor: ray" in res.stdout
    assert not (home / ".ray" / "auth_token").exists(), "a token left behind turns on auth for later clusters"
