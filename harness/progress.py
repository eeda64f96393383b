"""The one progress mechanism: stage lines and counted work, on stderr (stdout keeps the summary).

On a terminal, counted work is a live ``tqdm`` bar (rate and time left); elsewhere (a log file, CI) it is
plain timestamped lines, one at each tenth of the way. Library functions take a ``Progress`` and default
to ``SILENT``; the CLI makes a live one.
"""
from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """``progress("stage")`` says what starts; ``progress.count(done, total, "images")`` how far it is."""

    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None, quiet: bool = False) -> None:
        self.quiet = quiet
        self.stream = stream
        self.live = live
        self.t0 = time.perf_counter()
        self._bar = None
        self._tenth: dict[str, int] = {}
        self._started: dict[str, tuple[float, int]] = {}   # unit -> (time, count) of its first count

    @property
    def _out(self) -> TextIO:
        return self.stream or sys.stderr

    def _is_live(self) -> bool:
        return self.live if self.live is not None else bool(getattr(self._out, "isatty", lambda: False)())

    def __call__(self, message: str) -> None:
        if self.quiet:
            return
        self._end_bar()
        self._out.write(f"[{time.perf_counter() - self.t0:6.1f}s] {message}\n")
        self._out.flush()

    def count(self, done: int, total: int, unit: str = "items") -> None:
        """``done`` of ``total`` ``unit`` finished (called as often as work completes: throttled here)."""
        if self.quiet:
            return
        if self._is_live():
            self._count_live(done, total, unit)
            return
        now = time.perf_counter()
        start = self._started.setdefault(unit, (now, done))
        tenth = done * 10 // max(total, 1)
        if self._tenth.get(unit) != tenth:
            self._tenth[unit] = tenth
            self(f"{unit}: {done:,} of {total:,}{self._rate(start, now, done, total)}")
        if done >= total:
            self._tenth.pop(unit, None)
            self._started.pop(unit, None)

    @staticmethod
    def _rate(start: tuple[float, int], now: float, done: int, total: int) -> str:
        """", N/s, M s left" from the pace since the first count (nothing until there is a pace)."""
        seconds, first = now - start[0], start[1]
        if seconds <= 0 or done <= first:
            return ""
        rate = (done - first) / seconds
        return f", {rate:,.0f}/s, {(total - done) / rate:,.0f} s left" if done < total else f", {rate:,.0f}/s"

    def _count_live(self, done: int, total: int, unit: str) -> None:
        from tqdm import tqdm

        if self._bar is None or self._bar.desc != unit:
            self._end_bar()
            self._bar = tqdm(total=total, unit=f" {unit}", desc=unit, file=self._out, leave=False,
                             dynamic_ncols=True, mininterval=0.25)
        self._bar.update(done - self._bar.n)
        if done >= total:
            self._end_bar()

    def _end_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def close(self) -> None:
        self._end_bar()


SILENT = Progress(quiet=True)
