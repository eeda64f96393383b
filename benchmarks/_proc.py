"""Benchmark helpers: run a command while sampling the resident memory of its whole process tree."""
from __future__ import annotations

import subprocess
import threading
import time

import psutil


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and every descendant (shared pages counted once per process, as top does)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:   # gone, or not ours to read
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:   # exited between the listing and the read
            continue
    return total


def run_measured(cmd: list[str], *, interval_s: float = 0.2, **kw) -> tuple[subprocess.CompletedProcess, float, int]:
    """(completed process, wall seconds, peak tree RSS bytes), sampling every ``interval_s``."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss_bytes(proc.pid))
            done.wait(interval_s)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    done.set()
    t.join()
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err), wall, peak[0]


HARNESS = ["-c", "from harness.cli import main; main()"]
