"""Viewer speed: construction and first paint of the interactive drift map, 100 k and 1 M points.

Writes a synthetic Kilosort 4 folder per size into a temporary directory, loads it, selects
every spike (``decimate=False``) and times, offscreen:

- build: ``DriftmapPlotWidget(...)`` (shading, per-bin scatter items, spike locator, panel);
- first paint: ``resize`` + ``show`` + ``processEvents`` + ``widget.grab()``;
- full repaint: a second ``grab()`` of the whole session (the cost of a pan frame zoomed out);
- zoomed paint: a ``grab()`` after zooming into 10 % of the time axis (a pan/zoom frame).

Budget (design §6): 1 M spikes built and first painted in ≤ 2 s. With ``--compare`` it also
times pyqtgraph's stock ``ScatterPlotItem`` (one per bin, uniform brush) for the same points,
the design this viewer's ``BinScatterItem`` replaces.

Run: ``python benchmarks/bench_viewer.py [--sizes 100000 1000000] [--compare]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _session(folder: Path, n_spikes: int):
    from driftqc.io import load_sorting
    from driftqc.selection import select_spikes
    from driftqc.synthetic import write_kilosort_folder

    write_kilosort_folder(
        folder,
        n_spikes=n_spikes,
        layout="kilosort4",
        n_channels=384,
        n_units=60,
        duration=3600.0,
        drift="zigzag",
        drift_um=30.0,
        seed=1,
    )
    sorting = load_sorting(folder)
    return sorting, select_spikes(sorting, decimate=False)


def _time_viewer(sorting, selection) -> dict[str, float]:
    from driftqc.interactive import DriftmapPlotWidget, ensure_app

    app = ensure_app()
    start = time.perf_counter()
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
    widget.grab()
    full_again = time.perf_counter()
    duration = float(selection.shown.times.max())
    widget.view_box.setXRange(0.45 * duration, 0.55 * duration, padding=0)
    again = time.perf_counter()
    widget.grab()
    repainted = time.perf_counter()
    widget.close()
    widget.deleteLater()
    app.processEvents()
    return {
        "build": built - start,
        "first_paint": painted - built,
        "full_repaint": full_again - painted,
        "zoomed_paint": repainted - again,
    }


def _time_stock_scatter(selection) -> float:
    import numpy as np

    from driftqc.interactive._qt import pg
    from driftqc.views.shading import amplitude_shading, grey_rgba

    shown = selection.shown
    start = time.perf_counter()
    shading = amplitude_shading(selection.kept.amplitudes, "linear", 20)
    bins = shading.bin_of(shown.amplitudes)
    colours = (grey_rgba(20) * 255).astype(int)
    items = []
    for b in range(20):
        pick = bins == b
        item = pg.ScatterPlotItem(pen=None, brush=pg.mkBrush(*colours[b]), size=5)
        item.setData(x=shown.times[pick], y=np.asarray(shown.depths[pick], float))
        items.append(item)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--compare", action="store_true", help="also time stock ScatterPlotItem")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="driftqc-bench-viewer-") as tmp:
        for n in args.sizes:
            sorting, selection = _session(Path(tmp) / f"ks4_{n}", n)
            times = _time_viewer(sorting, selection)
            if args.compare:
                times["stock_scatter_build"] = _time_stock_scatter(selection)
            rows.append((len(selection.shown), times))
    keys = list(rows[0][1])
    print(f"{'points':>10} " + " ".join(f"{k + ' (s)':>24}" for k in keys))
    for n, times in rows:
        print(f"{n:>10,} " + " ".join(f"{times[k]:>24.3f}" for k in keys))
    for n, times in rows:
        total = times["build"] + times["first_paint"]
        verdict = "within" if total <= 2.0 else "OVER"
        print(f"{n:,} points: build + first paint = {total:.2f} s ({verdict} the 2 s budget)")


if __name__ == "__main__":
    main()
