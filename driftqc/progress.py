"""Progress reports and verbose messages for long work, in a few lines and no dependencies.

Two kinds of output:

* **progress** of a long pass (``pc_features.npy`` read for Kilosort 1–3 depths, a session
  filtered chunk by chunk): one line on **stderr**, rewritten in place on a terminal, or a
  plain line every few seconds when asked for in a log. It is shown only when stderr is a
  terminal (and the pass lasts more than a second), or when asked for with
  :func:`reporting` (``verbose=True``, ``driftqc plot --progress``); never in the workflow's
  logs or in tests unless asked. Unless asked either way, ``DRIFTQC_PROGRESS=0`` turns it
  off and ``=1`` on.
* **verbose messages** (what is loaded, spike counts after each filter, the caption), only
  when asked for: :func:`messages` returns a printer, or a no-op.

Only the outermost pass reports: a pass started while another is reported (the depths of
one chunk of a chunked read) stays silent. A disabled report costs one attribute look-up
per update.

Examples
--------
>>> with reporting(False):
...     with task("reading", total=10) as t:
...         t.advance(10)
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TextIO

#: seconds a pass must last before an automatic (terminal) report first shows
AUTO_DELAY_S = 1.0
#: seconds between updates: rewritten terminal line, plain log line
TTY_INTERVAL_S = 0.25
LOG_INTERVAL_S = 5.0

# None: automatic (a terminal on stderr); True/False: asked for, or not
_enabled: ContextVar[bool | None] = ContextVar("driftqc_progress", default=None)
_active: ContextVar[bool] = ContextVar("driftqc_progress_active", default=False)


@contextlib.contextmanager
def reporting(enabled: bool | None = True) -> Iterator[None]:
    """Turn progress reports on (True) or off (False) for the work inside the block.

    None leaves the setting as it is (by default: automatic). Worker threads see the setting
    of the code that starts them only when run in a copy of its context
    (``contextvars.copy_context().run``).
    """
    if enabled is None:
        yield
        return
    token = _enabled.set(bool(enabled))
    try:
        yield
    finally:
        _enabled.reset(token)


def _wanted() -> tuple[bool, bool]:
    """``(show, asked)``: whether a new pass reports, and whether it was asked for."""
    setting = _enabled.get()
    env = os.environ.get("DRIFTQC_PROGRESS", "")
    if setting is None and env in ("0", "1"):
        setting = env == "1"
    if setting is not None:
        return setting, setting
    try:
        return sys.stderr.isatty(), False
    except (AttributeError, ValueError):  # no stderr, or closed
        return False, False


class Task:
    """One reported pass: ``advance(n)`` as work is done (thread-safe), then ``close()``.

    Use :func:`task` to get one; it is a silent :class:`_Silent` when nothing is shown.
    """

    def __init__(self, label: str, total: int, unit: str, asked: bool, stream: TextIO) -> None:
        self.label = label
        self.total = max(int(total), 0)
        self.unit = unit
        self.done = 0
        self._stream = stream
        try:
            self._tty = stream.isatty()
        except (AttributeError, ValueError):
            self._tty = False
        self._start = time.perf_counter()
        self._delay = 0.0 if asked else AUTO_DELAY_S
        self._interval = TTY_INTERVAL_S if self._tty else LOG_INTERVAL_S
        self._next = self._start + (self._delay if not asked else 0.0)
        self._shown = False
        self._lock = threading.Lock()
        if asked:
            self._show(time.perf_counter())

    def advance(self, n: int) -> None:
        """Count ``n`` more units done; update the line if it is time to."""
        with self._lock:
            self.done += int(n)
            now = time.perf_counter()
            if now >= self._next:
                self._show(now)

    def close(self) -> None:
        """End the line (with the time taken) if anything was shown."""
        with self._lock:
            if self._shown:
                self._show(time.perf_counter(), final=True)

    def __enter__(self) -> Task:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _show(self, now: float, final: bool = False) -> None:
        elapsed = now - self._start
        if self.total:
            share = min(self.done / self.total, 1.0)
            text = f"{self.label}: {share:4.0%} ({_count(self.done)} of {_count(self.total)} "
            text += f"{self.unit})"
        else:
            text = f"{self.label}: {_count(self.done)} {self.unit}"
        text += f", {elapsed:.1f} s" + (" done" if final else "")
        try:
            if self._tty:
                self._stream.write("\r" + text + ("\n" if final else "\x1b[K"))
            else:
                self._stream.write(text + "\n")
            self._stream.flush()
        except (OSError, ValueError):  # a closed or broken stream never stops the work
            pass
        self._shown = True
        self._next = now + self._interval


class _Silent:
    """A task that shows nothing (the default when nobody looks)."""

    done = 0

    def advance(self, n: int) -> None:
        """Do nothing."""

    def close(self) -> None:
        """Do nothing."""

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


SILENT = _Silent()


@contextlib.contextmanager
def task(label: str, total: int, unit: str = "spikes") -> Iterator[Task | _Silent]:
    """Report a pass over ``total`` units of work (see the module notes for when it shows).

    Parameters
    ----------
    label
        What is being read, e.g. ``"ses-01: depths from pc_features.npy"``.
    total
        Units of work in the pass (0 if unknown).
    unit
        Name of the unit, for the line.

    Yields
    ------
    Task
        Call ``advance(n)`` as work is done (from any thread).
    """
    show, asked = _wanted()
    if not show or _active.get():
        yield SILENT
        return
    token = _active.set(True)
    reported = Task(label, total, unit, asked, sys.stderr)
    try:
        yield reported
    finally:
        with contextlib.suppress(ValueError):  # a generator closed in another context
            _active.reset(token)
        reported.close()


def messages(verbose: bool, stream: TextIO | None = None) -> Callable[[str], None]:
    """Return a printer of verbose messages (to stdout, as driftplots), or a no-op.

    Parameters
    ----------
    verbose
        Print (True) or stay quiet (False).
    stream
        Where to print; by default ``sys.stdout`` at the time of each message.
    """
    if not verbose:
        return _quiet

    def say(message: str) -> None:
        print(message, file=stream if stream is not None else sys.stdout, flush=True)

    return say


def _quiet(message: str) -> None:
    """Print nothing."""


def _count(n: int) -> str:
    """``12,345`` below a million, ``12.3 M`` above."""
    return f"{n / 1e6:.1f} M" if n >= 1_000_000 else f"{n:,}"
