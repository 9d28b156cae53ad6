"""Measurement helpers shared by the benchmark scripts (standard library only).

Each measurement runs in its own Python process, so ``ru_maxrss`` (the process's peak resident
set size) is the peak of that one measurement. A benchmark script times its phases with
:class:`Phases`, then prints one ``BENCH_RESULT {json}`` line that ``run.py`` parses.

This module must import nothing outside the standard library: it is imported both by the
driftqc scripts (dev virtualenv) and by the driftplots script (its own virtualenv).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

RESULT_TAG = "BENCH_RESULT "


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib * 1024 / 1e6


class Phases:
    """Wall-clock and CPU time (user + system, all threads) of named phases, in seconds.

    CPU time is reported beside wall time because the benchmark machine is shared: wall time
    grows when other processes compete for the two cores, CPU time much less.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu_seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str):
        start, cpu_start = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
            cpu = time.process_time() - cpu_start
            self.cpu_seconds[name] = self.cpu_seconds.get(name, 0.0) + cpu

    def total(self, names: list[str] | None = None, *, cpu: bool = False) -> float:
        table = self.cpu_seconds if cpu else self.seconds
        keys = table if names is None else names
        return sum(table[k] for k in keys if k in table)

    def summary(self) -> dict:
        """Phase times plus the totals of the work phases (everything but ``import``)."""
        work = [k for k in self.seconds if k != "import"]
        return {
            "phases_s": {k: round(v, 3) for k, v in self.seconds.items()},
            "phases_cpu_s": {k: round(v, 3) for k, v in self.cpu_seconds.items()},
            "work_s": round(self.total(work), 3),
            "work_cpu_s": round(self.total(work, cpu=True), 3),
            "load_average": round(os.getloadavg()[0], 2),
        }


def save_png(fig: object, png: Path | None, phases: Phases, extra: dict) -> None:
    """Time ``fig.savefig`` as the ``savefig`` phase (to ``png``, else nowhere).

    Records the file's size in ``extra["png_bytes"]`` when a path is given.
    """
    with phases.phase("savefig"):
        fig.savefig(png if png is not None else os.devnull, format="png")  # type: ignore[attr-defined]
    if png is not None:
        extra["png_bytes"] = png.stat().st_size


def emit(result: dict) -> None:
    """Print one machine-readable result line on stdout."""
    result = dict(result)
    result.setdefault("peak_rss_mb", round(peak_rss_mb(), 1))
    print(RESULT_TAG + json.dumps(result), flush=True)


def emit_measurement(
    tool: str, case: str, folder: Path, phases: Phases, t_start: float, extra: dict
) -> None:
    """Print the result line of one measurement: phase times, process time, peak RSS."""
    emit(
        {
            "tool": tool,
            "case": case,
            "folder": str(folder),
            **phases.summary(),
            "process_s": round(time.perf_counter() - t_start, 3),
            **extra,
        }
    )


def parse_result(stdout: str) -> dict | None:
    """Return the last result line printed by a benchmark script, or None."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG) :])
    return None


def evict_from_page_cache(folder: Path) -> int:
    """Ask the kernel to drop a folder's files from the page cache; return bytes advised.

    Uses ``posix_fadvise(DONTNEED)`` on each file, which touches only these files (unlike
    ``/proc/sys/vm/drop_caches``, which would slow every other process on the machine).
    Clean pages are dropped; the next read comes from disk (or the host's cache on a VM).
    """
    total = 0
    for path in Path(folder).iterdir():
        if not path.is_file():
            continue
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fdatasync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            total += path.stat().st_size
        finally:
            os.close(fd)
    return total


def _read_first(path: str, key: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def environment() -> dict:
    """Facts about the machine and the Python running the benchmark."""
    mem_kib = _read_first("/proc/meminfo", "MemTotal")
    avail_kib = _read_first("/proc/meminfo", "MemAvailable")
    facts = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gb": round(int(mem_kib.split()[0]) / 2**20, 1) if mem_kib else None,
        "memory_available_gb": round(int(avail_kib.split()[0]) / 2**20, 1) if avail_kib else None,
        "cpu": _read_first("/proc/cpuinfo", "model name"),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE", "(unset)"),
    }
    for module in ("numpy", "matplotlib"):
        try:
            facts[module] = __import__(module).__version__
        except ImportError:
            facts[module] = None
    return facts


def memory_available_gb() -> float | None:
    """MemAvailable from /proc/meminfo in GB (None where unknown)."""
    value = _read_first("/proc/meminfo", "MemAvailable")
    return int(value.split()[0]) / 2**20 if value else None
