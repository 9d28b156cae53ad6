"""One driftqc core measurement in this process: load, drift map, histogram, PNG.

Usage (``run.py`` calls this in a fresh subprocess per measurement, so peak RSS is this
measurement's alone)::

    python benchmarks/bench_core.py CASE SORTER_DIR [--png OUT.png] [--profile STATS]

Cases:

* ``load``: ``DriftPlotter(SORTER_DIR)`` only.
* ``scatter``: load + ``drift_map_plot_matplotlib(add_histogram_plot=True)`` + ``savefig``
  (the headline figure; default decimation, i.e. 100 000-200 000 points).
* ``density``: load + ``render="density", decimate=False`` + histogram + ``savefig``.
* ``histogram``: load + the depth histogram of all spikes on its own + ``savefig``.
* ``stream``: the whole-session density map + histogram read in chunks
  (``driftqc.metrics.streaming.summarise_session`` + ``plot_density_summary`` + ``savefig``), the
  path ``driftqc plot --render density`` takes; the spike table is never held whole.

Prints one ``BENCH_RESULT {json}`` line with the phase times (s) and the peak RSS (MB).
``--profile`` runs the case under cProfile and writes the stats to a file.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

T_START = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import Phases, emit_measurement, save_png  # noqa: E402

CASES = ("load", "scatter", "density", "histogram", "stream")


def import_libraries(phases: Phases) -> None:
    """Import matplotlib (Agg) and driftqc, timed apart from the work."""
    with phases.phase("import"):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot  # noqa: F401

        import driftqc  # noqa: F401
        import driftqc.plotting  # noqa: F401


def run_case(case: str, folder: Path, png: Path | None, phases: Phases) -> dict:
    """Run one case (libraries already imported), timing its phases."""
    import matplotlib.pyplot as plt

    import driftqc
    from driftqc.plotting import plot_depth_histogram

    if case == "stream":
        return run_stream(folder, png, phases)
    with phases.phase("load"):
        plotter = driftqc.DriftPlotter(folder)
    extra = {"n_spikes": len(plotter.spike_times), "sorter": plotter.sorting.info.sorter}
    if case == "load":
        return extra
    with phases.phase("plot"):
        if case == "scatter":
            fig = plotter.drift_map_plot_matplotlib(add_histogram_plot=True)
        elif case == "density":
            fig = plotter.drift_map_plot_matplotlib(
                decimate=False, add_histogram_plot=True, render="density"
            )
        else:
            fig = plot_depth_histogram(plotter.select(decimate=False))
    save_png(fig, png, phases, extra)
    plt.close("all")
    return extra


def run_stream(folder: Path, png: Path | None, phases: Phases) -> dict:
    """The chunked whole-session density map: read + bin, draw, save."""
    from matplotlib.figure import Figure

    from driftqc.metrics.streaming import summarise_session
    from driftqc.plotting.drift_map import plot_density_summary

    with phases.phase("load"):  # reading and binning happen together, chunk by chunk
        summary = summarise_session(folder, n_time_bins=700, n_depth_bins=600)
    with phases.phase("plot"):
        fig = plot_density_summary(summary, figure=Figure(figsize=(10, 7.5), layout="constrained"))
    extra = {"n_spikes": summary.n_total, "sorter": summary.info.sorter}
    save_png(fig, png, phases, extra)
    return extra


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", choices=CASES)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--png", type=Path, default=None, help="where to save the figure")
    parser.add_argument("--profile", type=Path, default=None, help="write cProfile stats here")
    args = parser.parse_args(argv)

    phases = Phases()
    import_libraries(phases)
    if args.profile is not None:
        import cProfile

        profiler = cProfile.Profile()
        extra = profiler.runcall(run_case, args.case, args.folder, args.png, phases)
        profiler.dump_stats(args.profile)
    else:
        extra = run_case(args.case, args.folder, args.png, phases)
    emit_measurement("driftqc", args.case, args.folder, phases, T_START, extra)


if __name__ == "__main__":
    main()
