"""Viewer speed and memory: build, first paint and pan/zoom repaints of whole sessions.

Two ways of opening a session, each measured in its own process (so peak RSS is its own):

- **memory** (default): a synthetic Kilosort 4 folder of ``--spikes`` spikes (written once
  to ``benchmarks/_data/ks4_viewer_<n>``, gitignored) is read and selected with every spike
  kept (``decimate=False``), then the viewer is timed offscreen:

  - build: ``DriftmapPlotWidget(...)`` (grey levels, level of detail, histogram, panels);
  - first paint: ``resize`` + ``show`` + ``processEvents`` + ``grab()`` — at overview zoom
    this is the density image of every spike;
  - repaints: for each window in :data:`WINDOWS` (overview, time and depth zooms down to
    10 s × 250 µm), ``setRange`` + ``processEvents`` (the level-of-detail redraw) +
    ``grab()``; the slowest is the "any pan/zoom repaint" figure.

- **chunked** (``--chunked FOLDER``): a Kilosort folder opened through the chunked reader
  (:func:`driftqc.interactive.sources.folder_source`; Kilosort 1–3 ``pc_features.npy`` is
  read a chunk at a time), timed from opening to the first painted overview.

Budgets (design §6): 5 M spikes build + first paint ≤ 1 s, any repaint ≤ 100 ms, ≤ 1 GB;
50 M spikes through the chunked reader: overview ≤ 10 s (files cached), ≤ 2 GB. These are
reported numbers, not pass/fail tests: the machine is shared.

Run::

    python benchmarks/bench_viewer.py --spikes 5000000
    python benchmarks/bench_viewer.py --chunked benchmarks/_data/ks2_5_10M  # from run.py
    python benchmarks/bench_viewer.py --write 50000000  # 1.4 GB, Kilosort 4 layout
    python benchmarks/bench_viewer.py --chunked benchmarks/_data/ks4_viewer_50000000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("DRIFTQC_PROGRESS", "0")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import peak_rss_mb  # noqa: E402

DATA = Path(__file__).resolve().parent / "_data"
DURATION = 3600.0
#: (name, time range as fractions of the session, depth range in µm or None for all)
WINDOWS = (
    ("overview", (0.0, 1.0), None),
    ("half time", (0.25, 0.75), None),
    ("10% time", (0.45, 0.55), None),
    ("1% time", (0.50, 0.51), None),
    ("depth 500 um, all time", (0.0, 1.0), (1500.0, 2000.0)),
    ("60 s x 1000 um", None, (1000.0, 2000.0)),
    ("10 s x 250 um", None, (1500.0, 1750.0)),
    ("overview again", (0.0, 1.0), None),
)
_ABSOLUTE = {"60 s x 1000 um": 60.0, "10 s x 250 um": 10.0}


def _folder(n_spikes: int) -> Path:
    from driftqc.synthetic import write_kilosort_folder

    folder = DATA / f"ks4_viewer_{n_spikes}"
    stamp = folder / "_bench_stamp.json"
    if not stamp.is_file():
        print(f"writing {folder} ...", file=sys.stderr, flush=True)
        write_kilosort_folder(
            folder,
            n_spikes=n_spikes,
            layout="kilosort4",
            n_channels=384,
            n_units=120,
            duration=DURATION,
            drift="zigzag",
            drift_um=30.0,
            seed=1,
        )
        stamp.write_text(json.dumps({"n_spikes": n_spikes}))
    return folder


def _paint(app, widget) -> float:
    start = time.perf_counter()
    app.processEvents()  # runs the level-of-detail redraw the range change scheduled
    widget.update_view()  # no-op when the timer already ran
    widget.grab()
    return time.perf_counter() - start


def _repaints(app, widget) -> dict[str, float]:
    (t0, t1), (d0, d1) = widget.home_range
    span = t1 - t0
    times = {}
    for name, fractions, depths in WINDOWS:
        if fractions is None:
            centre = t0 + 0.5 * span
            x_range = (centre, centre + _ABSOLUTE[name])
        else:
            x_range = (t0 + fractions[0] * span, t0 + fractions[1] * span)
        y_range = depths if depths is not None else (d0, d1)
        start = time.perf_counter()
        widget.view_box.setRange(xRange=x_range, yRange=y_range, padding=0)
        elapsed = time.perf_counter() - start + _paint(app, widget)
        times[f"repaint {name}: {widget.view.caption}"] = elapsed
    return times


def measure_memory(n_spikes: int) -> dict[str, object]:
    """Open a synthetic session in memory; time build, first paint and repaints."""
    from driftqc.interactive import DriftmapPlotWidget, ensure_app
    from driftqc.io import load_sorting
    from driftqc.selection import select_spikes

    folder = _folder(n_spikes)
    start = time.perf_counter()
    sorting = load_sorting(folder)
    selection = select_spikes(sorting, decimate=False)
    loaded = time.perf_counter()
    app = ensure_app()
    built_start = time.perf_counter()
    widget = DriftmapPlotWidget(
        selection,
        templates=sorting.templates,
        channel_positions=sorting.channel_positions,
        channel_shanks=sorting.channel_shanks,
        title=True,
    )
    built = time.perf_counter()
    widget.resize(1400, 900)
    widget.show()
    app.processEvents()
    widget.grab()
    painted = time.perf_counter()
    result: dict[str, object] = {
        "spikes": len(selection.kept),
        "load + select (s)": loaded - start,
        "build (s)": built - built_start,
        "first paint (s)": painted - built,
        "build + first paint (s)": painted - built_start,
        "first view": widget.view.caption,
    }
    repaints = _repaints(app, widget)
    result.update({f"{k} (s)": v for k, v in repaints.items()})
    result["slowest repaint (s)"] = max(repaints.values())
    result["peak RSS (MB)"] = peak_rss_mb()
    widget.close()
    return result


def measure_chunked(folder: Path) -> dict[str, object]:
    """Open a Kilosort folder through the chunked reader; time it to the painted overview."""
    from driftqc.interactive import DriftmapPlotWidget, ensure_app
    from driftqc.interactive.sources import folder_source

    app = ensure_app()
    start = time.perf_counter()
    source = folder_source(folder)
    selection = source.select("saved")
    read = time.perf_counter()
    widget = DriftmapPlotWidget(
        selection,
        source.templates,
        source.channel_positions,
        source.channel_shanks,
        title=True,
        source=source,
    )
    built = time.perf_counter()
    widget.resize(1400, 900)
    widget.show()
    app.processEvents()
    widget.grab()
    painted = time.perf_counter()
    repaints = _repaints(app, widget)
    result: dict[str, object] = {
        "folder": str(folder),
        "spikes": len(selection.kept),
        "chunked read + select (s)": read - start,
        "build (s)": built - read,
        "first paint (s)": painted - built,
        "open to painted overview (s)": painted - start,
        "first view": widget.view.caption,
        "slowest repaint (s)": max(repaints.values()),
        "peak RSS (MB)": peak_rss_mb(),
    }
    widget.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spikes", type=int, default=5_000_000, help="synthetic session size")
    parser.add_argument(
        "--chunked", type=Path, default=None, help="open this Kilosort folder chunk by chunk"
    )
    parser.add_argument(
        "--write",
        type=int,
        default=None,
        metavar="N",
        help="only write the synthetic N-spike folder (e.g. 50000000 for --chunked) and exit",
    )
    args = parser.parse_args()
    if args.write:
        print(_folder(args.write))
        return
    result = measure_chunked(args.chunked) if args.chunked else measure_memory(args.spikes)
    width = max(map(len, result))
    for key, value in result.items():
        if isinstance(value, float):
            value = f"{value:.3f}"
        elif isinstance(value, int):
            value = f"{value:,}"
        print(f"{key:<{width}}  {value}")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
