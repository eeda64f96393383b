"""Chunks as Ray tasks on a private local Ray or a cluster. The only module that imports ray, and only when
a ``RayExecutor`` is made, so everything else (and the device machine, which has no ray) works without it."""
from __future__ import annotations

import contextlib
import itertools
import logging
import os
import secrets
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.execution.base import ChunkResult, Executor

# Exceptions worth another try: file-system and network hiccups (ConnectionError and TimeoutError are
# OSErrors). A deterministic bug (ValueError, ...) fails at once instead of costing every retry.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (OSError,)


def _preload(modules: tuple[str, ...]) -> None:
    import importlib

    for m in modules:
        importlib.import_module(m)


def _run_on_node(fn: Callable[[Any], Any], chunk: Any) -> tuple[Any, str]:
    import ray  # already imported in a Ray worker; named here so the function pickles without it

    return fn(chunk), ray.get_runtime_context().get_node_id()


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Raise UsageError unless something listens at a ``host:port`` (or ``ray://host:port``) address:
    ray.init keeps retrying an unreachable cluster for minutes, silently."""
    import socket


    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():   # "auto" and other forms: left to Ray
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as e:
        raise UsageError(f"no Ray cluster reachable at {address}: {e}") from None


def _reload_ray_config() -> None:
    """Ray reads ``RAY_AUTH_MODE`` into its config, and the token into a cache, once per process; after a
    change, read them again (as Ray's own ``ray start`` does when it turns token mode on)."""
    try:
        from ray._raylet import AuthenticationTokenLoader, Config
    except ImportError:  # a Ray without these hooks reads the environment at its own start
        return
    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()   # the token too: each private Ray has its own


@contextlib.contextmanager
def _stderr_captured():
    """Ray's core prints a warning a second while a join fails (twenty of them before it gives up): keep
    them from the terminal, at the file-descriptor level where they are written, and hand back their text."""
    saved = os.dup(2)
    with tempfile.TemporaryFile() as buf:
        os.dup2(buf.fileno(), 2)
        text: list[str] = []
        try:
            yield lambda: "".join(text)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            buf.seek(0)
            text.append(buf.read().decode(errors="replace"))


def _join_failure(address: str, error: BaseException, stderr: str) -> str:
    """One message for a failed join: Ray's own reason, the authentication hint where it applies."""
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    if "InvalidAuthToken" in stderr or "Authentication" in reason:
        return (f"could not join the Ray cluster at {address}: it uses token authentication and refused this "
                "machine's token (or there is none). Give the cluster's token in RAY_AUTH_TOKEN or "
                "~/.ray/auth_token (`ray get-auth-token` on its head node prints it)")
    return f"could not join the Ray cluster at {address}: {reason}"


def _token_available() -> bool:
    return bool(os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
                or (Path.home() / ".ray" / "auth_token").is_file())


def _private_auth() -> dict[str, str]:
    """Auth settings for a private local Ray. Left alone, Ray turns token authentication on for it and
    writes ``~/.ray/auth_token``, which then turns authentication on for every cluster the user later
    starts with ``ray start --head`` on this machine. A token of its own in the environment instead:
    the private Ray is still protected, and nothing is left behind. A mode the user chose is kept."""
    if "RAY_AUTH_MODE" in os.environ or os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return {}
    return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}


class RayExecutor(Executor):
    """Chunks as Ray tasks, a bounded number in flight, results in completion order.

    ``address=None`` starts a private local Ray (``address="local"``: a stale cluster is never joined)
    with ``workers`` CPUs; an address joins that cluster. ``close()`` shuts down only a Ray this
    executor started. A task whose worker process or node dies is rescheduled (``max_retries``); one that
    raises a transient error is retried too; a chunk still failing after that yields a ``ChunkResult``
    with ``error`` and the run goes on. Every chunk is reported exactly once.
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        *,
        max_retries: int = 3,
        retry_exceptions: bool | tuple[type[BaseException], ...] = TRANSIENT_ERRORS,
        in_flight_per_cpu: int = 2,
        object_store_bytes: int = 256 * 2**20,
        preload: tuple[str, ...] = (),
    ) -> None:
        if workers is not None and workers < 1:
            raise ValueError("workers must be at least 1")
        t0 = time.perf_counter()
        # Usage statistics off: no network call at start-up.
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        import ray

        self._ray = ray
        self.address = address
        self.started_here = False
        # ray.init replaces the SIGTERM handler with its own (sys.exit(15)); a handler the caller chose
        # (the CLI's: unwind like Ctrl-C) is put back below.
        main_thread = threading.current_thread() is threading.main_thread()
        sigterm = signal.getsignal(signal.SIGTERM) if main_thread else None
        self._env_before: dict[str, str | None] = {}
        if ray.is_initialized():  # someone in this process already runs Ray: use it, never shut it down
            pass
        elif address is None:
            self._set_env(_private_auth())
            # Workers of a Ray started here inherit this environment: they import the same harness as
            # this driver, installed or run from a checkout. (A runtime_env would do it too, at a cost of
            # seconds of start-up.) Cluster nodes need harness importable on their own.
            here = str(Path(__file__).resolve().parents[2])
            if here not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
                os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p)
            try:
                ray.init(address="local", num_cpus=workers or os.cpu_count() or 1, include_dashboard=False,
                         logging_level=logging.ERROR, log_to_driver=False,
                         object_store_memory=object_store_bytes)
            except BaseException:
                self._restore_env()
                raise
            self.started_here = True
        else:
            _check_reachable(address)
            self._join(address)
            self.started_here = True
        if callable(sigterm) and signal.getsignal(signal.SIGTERM) is not sigterm:
            signal.signal(signal.SIGTERM, sigterm)
        self.startup_seconds = time.perf_counter() - t0
        self.max_retries = max_retries
        self.retry_exceptions = list(retry_exceptions) if isinstance(retry_exceptions, tuple) else retry_exceptions
        self.in_flight_per_cpu = in_flight_per_cpu
        self._task = ray.remote(_run_on_node)
        self._task_options = {"num_cpus": 1, "max_retries": max_retries, "retry_exceptions": self.retry_exceptions}
        # Warm every worker now (imports, JIT caches) while the driver does its own work; not waited on.
        self._warming = [self._on_node(ray.remote(_preload), node, num_cpus=1).remote(tuple(preload))
                         for node, cpus in self._nodes() for _ in range(cpus)] if preload else []

    def cluster_cpus(self) -> int:
        return max(1, int(self._ray.cluster_resources().get("CPU", 1)))

    def _nodes(self) -> list[tuple[str, int]]:
        """(node id, CPUs) of every live node that can run a task."""
        return [(n["NodeID"], int(n["Resources"]["CPU"])) for n in self._ray.nodes()
                if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) >= 1]

    @staticmethod
    def _on_node(task: Any, node: str | None, **options: Any) -> Any:
        """The remote function with ``options``, placed on ``node`` while it lives (soft affinity:
        elsewhere once it is gone)."""
        if node is not None:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node, soft=True)
        return task.options(**options)

    def _node_slots(self) -> list[str]:
        """One entry per task a node may hold at once (``in_flight_per_cpu`` per CPU), the nodes
        interleaved, so the first tasks go round every node."""
        per_node = [[node] * max(1, self.in_flight_per_cpu * cpus) for node, cpus in self._nodes()]
        return [node for column in itertools.zip_longest(*per_node) for node in column if node is not None]

    def map_chunks(self, fn, chunks):
        ray = self._ray
        fn_ref = ray.put(fn)  # serialised once, not once per task
        # Pull-based placement: each node starts with its share of tasks, and a finished task's node
        # gets the next chunk. A node still starting its workers keeps its share waiting rather than
        # losing every chunk to a faster node (as SPREAD does when the others are busy), and a fast node
        # pulls more. Bounded in flight: memory stays flat whatever the number of chunks. Soft affinity: a
        # task whose node is gone runs elsewhere.
        slots = self._node_slots() or [None] * max(2, self.in_flight_per_cpu * self.cluster_cpus())
        pending: dict[Any, tuple[int, str | None]] = {}
        todo = iter(enumerate(chunks))

        def submit(node: str | None) -> bool:
            nxt = next(todo, None)
            if nxt is None:
                return False
            pending[self._on_node(self._task, node, **self._task_options).remote(fn_ref, nxt[1])] = (nxt[0], node)
            return True

        try:
            for node in slots:
                if not submit(node):
                    break
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    index, node = pending.pop(ref)
                    yield self._collect(ref, index)
                    submit(node)
        finally:
            # Interrupted (Ctrl-C, generator closed early): stop what is still running.
            for ref in pending:
                try:
                    ray.cancel(ref, force=True)
                except Exception:  # already finished or its node is gone: nothing left to stop
                    pass

    def _collect(self, ref: Any, index: int) -> ChunkResult:
        errors = self._ray.exceptions
        try:
            value, node = self._ray.get(ref)
        except errors.RayError as e:  # fn raised after any retries, or its worker/node kept dying
            cause = e.cause if isinstance(e, errors.RayTaskError) and e.cause is not None else e
            text = str(cause)
            if isinstance(cause, errors.RayError):  # Ray's own message carries a traceback: keep its gist
                text = text.splitlines()[0] if text else ""
            return ChunkResult(index=index, error=f"{type(cause).__name__}: {text}")
        return ChunkResult(index=index, value=value, node=node)

    def _join(self, address: str) -> None:
        """Join as Ray's default mode says; if the cluster refuses for want of a token and one is at hand
        (``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH``, ``~/.ray/auth_token``), again in token mode. Not
        token mode first: a driver in token mode demands tokens of a cluster that has none, whose
        workers then cannot fetch the driver's objects. A mode the user chose is the only try."""
        ray = self._ray
        chosen = "RAY_AUTH_MODE" in os.environ
        # A refused join retries for ~20 s by default; the first of two tries needs only a few seconds.
        quick = {} if chosen or "RAY_gcs_server_port_wait_time_s" in os.environ else {
            "RAY_gcs_server_port_wait_time_s": "4"}
        tries = [quick] if chosen or not _token_available() else [quick, {"RAY_AUTH_MODE": "token"}]
        for i, env in enumerate(tries):
            self._set_env(env)
            with _stderr_captured() as said:
                try:
                    ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
                    failure = None
                except (ConnectionError, RuntimeError, ray.exceptions.RayError) as e:
                    failure = e
            if failure is None:
                return
            self._restore_env()
            refused = "InvalidAuthToken" in said() or "uthenticat" in str(failure)
            if not refused or i == len(tries) - 1:
                raise UsageError(_join_failure(address, failure, said())) from None

    def _set_env(self, updates: dict[str, str]) -> None:
        """Set variables for this Ray's life (its processes inherit them); ``close`` puts them back."""
        for k, v in updates.items():
            self._env_before.setdefault(k, os.environ.get(k))
            os.environ[k] = v
        if updates:
            _reload_ray_config()

    def _restore_env(self) -> None:
        for k, v in self._env_before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if self._env_before:
            _reload_ray_config()
        self._env_before = {}

    def close(self) -> None:
        if self.started_here and self._ray.is_initialized():
            self._ray.shutdown()
        self.started_here = False
        self._restore_env()
