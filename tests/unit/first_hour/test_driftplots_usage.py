"""driftplots 0.2.x code runs unchanged on driftqc, with driftplots' documented meaning.

Written from driftplots' documentation (its API reference and the reference notes in
``/work/shared``), never from its code: ``DriftPlotter(path)``, both plot methods with every
documented parameter, ``good_units_only=`` and ``verbose=``, ``ax=`` with a title,
``get_amplitudes`` (float64, per session or concatenated), and the number of spikes
``decimate="estimate"`` draws. Expected numbers are worked out here from the documented rules
and the folder's own files, not from driftqc.
"""

from __future__ import annotations

import csv
import os

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from driftqc import DriftPlotter, get_amplitudes  # noqa: E402
from driftqc.errors import DriftQCError  # noqa: E402
from driftqc.options import SelectionOptions  # noqa: E402
from driftqc.selection import decimation_factor  # noqa: E402
from driftqc.synthetic import write_kilosort_folder  # noqa: E402

N_SPIKES = 250_000  # the example: driftplots draws 125 000 of these
TARGET = 100_000  # driftplots: '"estimate" aims for about 100 000'


# ---------------------------------------------------------------- fixtures (this module only)


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A curated Kilosort 4 folder of 250 000 spikes (Phy labels: good, mua, noise)."""
    return write_kilosort_folder(
        tmp_path_factory.mktemp("first_hour") / "ks4_big",
        n_spikes=N_SPIKES,
        layout="kilosort4",
        n_channels=64,
        n_units=16,
        duration=120.0,
        noise_fraction=0.2,
        seed=3,
    )


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A small Kilosort 2.5 folder (PC features), a second session."""
    return write_kilosort_folder(
        tmp_path_factory.mktemp("first_hour") / "ks25_small",
        n_spikes=6_000,
        layout="kilosort2_5",
        n_channels=64,
        n_units=12,
        duration=60.0,
        noise_fraction=0.2,
        seed=4,
    )


@pytest.fixture(scope="module")
def plotter(big):
    return DriftPlotter(big.path)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def labelled_spike_count(folder, label: str) -> int:
    """Spikes of clusters with ``label`` in Phy's cluster_group.tsv, read here from the files."""
    with open(folder / "cluster_group.tsv", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))[1:]
    ids = [int(cid) for cid, lab in rows if lab.strip().lower() == label]
    clusters = np.load(folder / "spike_clusters.npy")
    return int(np.isin(clusters, ids).sum())


def good_spike_count(folder) -> int:
    """Spikes of clusters labelled good (driftplots 0.2's ``good_units_only``)."""
    return labelled_spike_count(folder, "good")


def documented_estimate(n: int) -> int:
    """Points driftplots draws for n spikes: factor n // 100 000, ``[::factor]`` if > 1."""
    factor = n // TARGET
    return len(range(0, n, factor)) if factor > 1 else n


def drawn_points(ax: Axes) -> int:
    """Spikes drawn on a scatter drift map (markers of lines and of collections)."""
    lines = sum(len(line.get_xdata()) for line in ax.lines if line.get_marker() not in (None, ""))
    marks = sum(len(c.get_offsets()) for c in ax.collections if hasattr(c, "get_offsets"))
    return lines + marks


# ---------------------------------------------------------------------------- constructor


def test_constructor_loads_the_documented_arrays(plotter, big):
    n = N_SPIKES
    assert plotter.spike_times.shape == (n,)
    assert plotter.spike_amplitudes.shape == (n,)
    assert plotter.spike_depths.shape == (n,)
    assert plotter.spike_templates.shape == (n,)
    assert plotter.templates.ndim == 3  # (n_templates, n_samples, n_channels)
    assert plotter.channel_locations.shape == (64, 2)
    assert plotter.templates.shape[2] == plotter.channel_locations.shape[0]
    # times in seconds for every source (driftplots >= 0.0.0rc1), within the session
    assert plotter.spike_times.min() >= 0 and plotter.spike_times.max() <= big.duration
    samples = np.load(big.path / "spike_times.npy")
    np.testing.assert_allclose(plotter.spike_times, samples / big.sample_rate, rtol=1e-6)


def test_constructor_accepts_verbose_as_keyword(big, capsys):
    DriftPlotter(big.path, verbose=True)
    out = capsys.readouterr().out
    assert "Loading data from" in out and f"{N_SPIKES:,} spikes" in out
    DriftPlotter(big.path, verbose=False)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


# ---------------------------------------------------------------- the matplotlib method


@pytest.mark.parametrize("scaling", ["linear", "log2", "log10", (5.0, 40.0)])
def test_matplotlib_every_documented_parameter(plotter, scaling, capsys):
    fig = plotter.drift_map_plot_matplotlib(
        decimate="estimate",
        good_units_only=True,
        amplitude_cmap_scaling=scaling,
        n_color_bins=25,
        point_size=3.0,
        filter_amplitude_mode="percentile",
        filter_amplitude_values=(1, 99),
        add_histogram_plot=True,
        weight_histogram_by_amplitude=True,
        title="Session 1",
        ax=None,
        verbose=False,
    )
    assert isinstance(fig, Figure)
    assert fig._suptitle is not None and fig._suptitle.get_text() == "Session 1"
    assert capsys.readouterr().out == ""


def test_matplotlib_positional_order_of_0_1(plotter):
    # the 0.1.x order: decimate, exclude_noise, scaling, n_color_bins, point_size, mode,
    # values, add_histogram_plot, weight_histogram_by_amplitude, title
    fig = plotter.drift_map_plot_matplotlib(
        4, True, "log10", 10, 2.0, "absolute", (0.0, 1e9), True, False, "T"
    )
    assert isinstance(fig, Figure) and fig._suptitle.get_text() == "T"


def test_matplotlib_histogram_adds_an_axis(plotter):
    without = plotter.drift_map_plot_matplotlib(decimate=50, title=None)
    with_hist = plotter.drift_map_plot_matplotlib(decimate=50, add_histogram_plot=True)
    data_axes = [a for a in with_hist.axes if a.get_label() != "<colorbar>"]
    assert len(data_axes) == len([a for a in without.axes if a.get_label() != "<colorbar>"]) + 1
    assert without._suptitle is None  # no title by default


def test_title_true_gives_a_title(plotter):
    fig = plotter.drift_map_plot_matplotlib(decimate=50, title=True)
    assert fig._suptitle is not None and fig._suptitle.get_text()


@pytest.mark.parametrize("histogram", [False, True])
def test_ax_and_title_go_to_the_axes_title(plotter, histogram):
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for i, ax in enumerate(axes):
        returned = plotter.drift_map_plot_matplotlib(
            decimate=20, title=f"Session {i}", ax=ax, add_histogram_plot=histogram
        )
        assert returned is fig  # the figure of the given axes
        assert ax.get_title() == f"Session {i}"  # as driftplots: ax.set_title(title)
    assert fig._suptitle is None
    # the caption is still on the figure, apart from the title
    assert "spikes shown" in axes[0].get_title(loc="left")
    assert "Session" not in axes[0].get_title(loc="left")
    fig.canvas.draw()  # lays out without error


def test_ax_without_title_has_no_axes_title(plotter):
    fig, ax = plt.subplots()
    plotter.drift_map_plot_matplotlib(decimate=20, ax=ax)
    assert ax.get_title() == ""


def test_ax_must_be_axes(plotter):
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes or None"):
        plotter.drift_map_plot_matplotlib(decimate=20, ax="not an axes")


# ------------------------------------------------------------------------ good_units_only


def test_good_units_only_keeps_only_good_clusters(plotter, big):
    expected = good_spike_count(big.path)
    assert 0 < expected < N_SPIKES
    selection = plotter.select(decimate=False, good_units_only=True)
    assert len(selection.kept) == expected
    assert "only good units" in selection.caption
    # a string names the label source ("group": Phy's cluster_group.tsv), as for exclude_noise
    named = plotter.select(decimate=False, good_units_only="group")
    assert len(named.kept) == expected


def test_good_units_only_unknown_source_names_the_option(plotter):
    with pytest.raises(DriftQCError, match="good_units_only"):
        plotter.select(good_units_only="no_such_source")


def test_good_units_only_and_exclude_noise_both_apply(plotter, big):
    both = plotter.select(decimate=False, good_units_only=True, exclude_noise=True)
    assert len(both.kept) == good_spike_count(big.path)  # noise is never good: same spikes
    assert "noise units excluded" in both.caption and "only good units" in both.caption
    assert both.n_noise > 0 and both.n_noise + both.n_not_good == N_SPIKES - len(both.kept)


def test_exclude_noise_keeps_mua(small):
    plotter = DriftPlotter(small.path)
    n_noise, n_mua = (labelled_spike_count(small.path, lab) for lab in ("noise", "mua"))
    assert n_noise and n_mua  # the fixture has both
    noise = plotter.select(decimate=False, exclude_noise=True)
    good = plotter.select(decimate=False, good_units_only=True)
    assert len(noise.kept) == small.n_spikes - n_noise  # 0.1.x: only noise goes
    assert len(good.kept) == good_spike_count(small.path)  # 0.2.x: only good stays
    assert len(good.kept) < len(noise.kept)


def test_good_units_only_is_checked():
    with pytest.raises(DriftQCError, match="good_units_only"):
        SelectionOptions(good_units_only=3)  # type: ignore[arg-type]


# -------------------------------------------------------------------------------- verbose


def test_verbose_plot_methods_print_counts_and_caption(plotter, big, capsys):
    plotter.drift_map_plot_matplotlib(good_units_only=True, verbose=True)
    out = capsys.readouterr().out
    n_good = good_spike_count(big.path)
    assert f"{N_SPIKES:,} spikes" in out  # before the filters
    assert f"{n_good:,} remaining" in out  # after the label filter
    assert f"{documented_estimate(n_good):,}" in out  # drawn, in the caption
    assert "only good units" in out
    plotter.drift_map_plot_matplotlib(good_units_only=True)
    assert capsys.readouterr().out == ""


def test_verbose_get_amplitudes(big, capsys):
    get_amplitudes([big.path], verbose=True)
    assert f"{N_SPIKES:,} spikes" in capsys.readouterr().out
    get_amplitudes([big.path])
    assert capsys.readouterr().out == ""


# ------------------------------------------------------------------------- get_amplitudes


def test_get_amplitudes_float64_list_and_concatenate(big, small):
    sessions = [big.path, small.path]
    per_session = get_amplitudes(sessions)
    assert isinstance(per_session, list) and len(per_session) == 2
    assert [a.dtype for a in per_session] == [np.float64, np.float64]
    assert [len(a) for a in per_session] == [N_SPIKES, small.n_spikes]  # no decimation
    pooled = get_amplitudes(sessions, concatenate=True)
    assert pooled.dtype == np.float64
    np.testing.assert_array_equal(pooled, np.concatenate(per_session))
    # the same values a plotter holds (label filter only, nothing else)
    np.testing.assert_array_equal(per_session[0], DriftPlotter(big.path).spike_amplitudes)


def test_get_amplitudes_good_units_only(big, small):
    good = get_amplitudes([big.path, small.path], good_units_only=True, concatenate=True)
    assert len(good) == good_spike_count(big.path) + good_spike_count(small.path)
    # the 0.2.x call of the docs' "aligning amplitudes" recipe
    cutoffs = tuple(np.percentile(good, (0, 95)))
    fig = DriftPlotter(small.path).drift_map_plot_matplotlib(
        filter_amplitude_mode="absolute",
        filter_amplitude_values=cutoffs,
        amplitude_cmap_scaling=cutoffs,
        n_color_bins=25,
        good_units_only=True,
    )
    assert isinstance(fig, Figure)


# ----------------------------------------------------------------------------- decimation


@pytest.mark.parametrize(
    "n", [1, 99_999, 100_000, 150_000, 199_999, 200_000, 250_000, 345_678, 10_000_000]
)
def test_estimate_rounds_as_driftplots(n):
    factor = decimation_factor(n, "estimate")
    assert len(range(0, n, factor)) == documented_estimate(n)


def test_estimate_draws_125k_of_250k(plotter):
    assert documented_estimate(N_SPIKES) == 125_000
    selection = plotter.select()
    assert len(selection.shown) == 125_000 and len(selection.kept) == N_SPIKES
    fig = plotter.drift_map_plot_matplotlib()
    raster = next(a for a in fig.axes if a.get_xlabel() == "Time (s)")
    assert drawn_points(raster) == 125_000


def test_estimate_counts_after_the_filters(plotter, big):
    n_good = good_spike_count(big.path)
    selection = plotter.select(good_units_only=True)
    assert len(selection.shown) == documented_estimate(n_good)


def test_bounded_rule_is_an_option(plotter):
    selection = plotter.select(estimate_rule="at_most")
    assert len(selection.shown) == len(range(0, N_SPIKES, 3)) == 83_334  # ceil(n / 100 000)
    assert len(selection.shown) <= TARGET


@pytest.mark.parametrize(("decimate", "shown"), [(False, N_SPIKES), (None, N_SPIKES),
                                                 (0, N_SPIKES), (1, N_SPIKES),
                                                 (7, len(range(0, N_SPIKES, 7)))])  # fmt: skip
def test_decimate_off_and_integer(plotter, decimate, shown):
    assert len(plotter.select(decimate=decimate).shown) == shown


# ---------------------------------------------------------------- the interactive method


def test_interactive_every_documented_parameter(small, capsys):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    pytest.importorskip("PySide6", reason="the gui extra is not installed")
    pytest.importorskip("pyqtgraph", reason="the gui extra is not installed")
    plotter = DriftPlotter(small.path)
    widget = plotter.drift_map_plot_interactive(
        decimate=2,
        good_units_only=True,
        amplitude_cmap_scaling="log2",
        n_color_bins=25,
        point_size=4.0,
        filter_amplitude_mode="percentile",
        filter_amplitude_values=(1, 99),
        title="Session 2",
        verbose=True,
    )
    try:
        assert widget.title == "Session 2"
        assert len(widget.selection.kept) <= good_spike_count(small.path)
        assert "only good units" in capsys.readouterr().out
    finally:
        widget.deleteLater()


def test_good_units_only_in_the_chunked_driver(small):
    """The one filter chain: the chunked reader keeps the same spikes, with the same bounds."""
    from driftqc.metrics.streaming import summarise_session

    options = SelectionOptions(
        good_units_only=True, filter_amplitude_mode="percentile", filter_amplitude_values=(5, 95)
    )
    whole = DriftPlotter(small.path).select(
        decimate=False, good_units_only=True, filter_amplitude_mode="percentile",
        filter_amplitude_values=(5, 95),
    )  # fmt: skip
    summary = summarise_session(small.path, options=options, chunk_spikes=700)
    assert summary.n_kept == len(whole.kept) and summary.n_not_good == whole.n_not_good
    assert summary.amplitude_bounds == whole.amplitude_bounds
    assert "only good units" in summary.filters
