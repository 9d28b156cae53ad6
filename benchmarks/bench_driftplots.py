"""The incumbent's measurement: driftplots 0.2.2 on the same folder, in this process.

Run with the driftplots virtualenv's Python (it has no driftqc)::

    /work/venvs/driftplots/bin/python benchmarks/bench_driftplots.py CASE SORTER_DIR [--png OUT]

Cases match ``bench_core.py``:

* ``load``: ``driftplots.DriftPlotter(SORTER_DIR, verbose=False)``;
* ``scatter``: load + ``drift_map_plot_matplotlib(add_histogram_plot=True, verbose=False)`` +
  ``savefig``. Its defaults (no label filter, ``decimate="estimate"``) are used; the label
  option of 0.2.2 is ``good_units_only`` and is left off, like driftqc's ``exclude_noise``.

Both libraries draw a 10 × 7.5 inch figure saved at matplotlib's default 100 dpi.
Prints one ``BENCH_RESULT {json}`` line, as ``bench_core.py`` does.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

T_START = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import Phases, emit_measurement, save_png  # noqa: E402

CASES = ("load", "scatter")


def run_case(case: str, folder: Path, png: Path | None, phases: Phases) -> dict:
    """Run one case, timing its phases; return extra facts for the result."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # importing driftplots imports Qt
    with phases.phase("import"):
        import matplotlib

        matplotlib.use("Agg")
        import driftplots
        import matplotlib.pyplot as plt

    with phases.phase("load"):
        plotter = driftplots.DriftPlotter(folder, verbose=False)
    extra = {"n_spikes": int(len(plotter._data_loader._spike_times)), "version": "0.2.2"}
    if case == "load":
        return extra
    with phases.phase("plot"):
        fig = plotter.drift_map_plot_matplotlib(add_histogram_plot=True, verbose=False)
    save_png(fig, png, phases, extra)
    plt.close("all")
    return extra


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", choices=CASES)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--png", type=Path, default=None, help="where to save the figure")
    args = parser.parse_args(argv)

    phases = Phases()
    extra = run_case(args.case, args.folder, args.png, phases)
    emit_measurement("driftplots", args.case, args.folder, phases, T_START, extra)


if __name__ == "__main__":
    main()
