"""Figures a reviewer reads at a glance: no clipped or overlapping text, honest numbers.

Rendered headless (Agg) from synthetic sessions (``driftqc.synthetic``) and the real
Kilosort 4 fixture in ``tests/data/ks4_drift``.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from driftqc.pipeline.cache import (  # noqa: E402
    cache_selection,
    cache_sorting,
    load_motion,
    load_selection,
    load_template_shanks,
)
from driftqc.plotting.batch import SessionGrid, plot_session_drift_qc  # noqa: E402
from driftqc.qc import DriftQCOptions, session_drift_qc, shank_selections  # noqa: E402
from driftqc.synthetic import write_kilosort_folder  # noqa: E402

MAP = {"scaling": "linear", "point_size": 2}


def cached(folder: Path, tmp: Path, name: str = "s") -> tuple[Path, Path]:
    """Cache a sorter folder and its selection (noise excluded), as the workflow does."""
    cache, selection = tmp / f"{name}.npz", tmp / f"{name}-sel.npz"
    assert cache_sorting(folder, cache, name=name) is None
    assert cache_selection(cache, selection, exclude_noise=True) is None
    return cache, selection


def text_boxes(fig: Figure) -> list[tuple[str, object]]:
    """(text, window extent) of every text artist a drawn figure shows."""
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    hidden = set()  # tick labels of ticks outside the view limits are not drawn
    for ax in fig.get_axes():
        for axis in (ax.xaxis, ax.yaxis):
            drawn = {id(tick) for tick in axis._update_ticks()}
            for tick in [*axis.majorTicks, *axis.minorTicks]:
                if id(tick) not in drawn:
                    hidden |= {id(tick.label1), id(tick.label2)}
    boxes = []
    for artist in fig.findobj(Text):
        if id(artist) in hidden or not artist.get_visible() or not artist.get_text().strip():
            continue
        axes = artist.axes
        if axes is not None and not axes.get_visible():
            continue
        boxes.append((artist.get_text(), artist.get_window_extent(renderer)))
    return boxes


def assert_text_readable(fig: Figure, tolerance: float = 0.5) -> None:
    """No text leaves the figure, and no two texts overlap (window extents, pixels)."""
    boxes = text_boxes(fig)
    assert boxes
    width, height = fig.canvas.get_width_height()
    outside = [
        text for text, box in boxes
        if box.x0 < -tolerance or box.y0 < -tolerance
        or box.x1 > width + tolerance or box.y1 > height + tolerance
    ]  # fmt: skip
    assert not outside, f"text outside the figure: {outside}"
    overlapping = []
    for (a, box_a), (b, box_b) in combinations(boxes, 2):
        dx = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
        dy = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
        if dx > tolerance and dy > tolerance:
            overlapping.append((a, b))
    assert not overlapping, f"overlapping text: {overlapping}"


@pytest.fixture(scope="module")
def ks4(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A Kilosort 4 session whose saved depths are registered, with a zig-zag dshift."""
    tmp = tmp_path_factory.mktemp("ks4")
    folder = tmp / "kilosort4"
    write_kilosort_folder(
        folder, n_spikes=30_000, layout="kilosort4", n_channels=64, n_units=20,
        duration=120.0, drift="zigzag", drift_um=30.0, drift_period_s=60.0,
        frame="registered", seed=3,
    )  # fmt: skip
    return cached(folder, tmp)


@pytest.fixture(scope="module")
def ks4_drift_qc_figure(ks4: tuple[Path, Path]) -> Figure:
    cache, sel = ks4
    selection, shanks = load_selection(sel), load_template_shanks(sel)
    options = DriftQCOptions(bin_s=10.0, min_spikes_per_bin=50)
    result = session_drift_qc(selection, template_shanks=shanks, motion=load_motion(cache),
                              options=options)  # fmt: skip
    return plot_session_drift_qc(
        result, shank_selections(selection, shanks),
        shank_selections(result.raw_selection, shanks),
        title="ses-03: zig-zag drift, Kilosort 4", map_options=MAP,
    )  # fmt: skip


def test_drift_qc_figure_text_stays_inside_and_apart(ks4_drift_qc_figure):
    assert_text_readable(ks4_drift_qc_figure)


def test_drift_qc_figure_names_each_frame_once(ks4_drift_qc_figure):
    texts = [text for text, _ in text_boxes(ks4_drift_qc_figure)]
    assert sum("registered frame" in t or "depth frame: registered" in t for t in texts) == 1
    assert sum("raw (reconstructed" in t for t in texts) == 1


def test_drift_qc_summary_and_legend_are_off_the_trace(ks4_drift_qc_figure):
    fig = ks4_drift_qc_figure
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    for sub in fig.subfigs:
        trace_ax = next(ax for ax in sub.axes if ax.get_label() == "drift trace")
        # the summary numbers are above the axes, not drawn on the data
        assert "peak-to-peak" in trace_ax.get_title(loc="left")
        assert not [t for t in trace_ax.texts if "peak-to-peak" in t.get_text()]
        legend = trace_ax.get_legend()
        if legend is None:
            continue
        box = legend.get_window_extent(renderer).transformed(trace_ax.transData.inverted())
        for line in trace_ax.get_lines():
            x, y = (np.asarray(v, float) for v in line.get_data())
            if len(x) < 2:
                continue
            inside = (x >= box.x0) & (x <= box.x1) & (y >= box.y0) & (y <= box.y1)
            assert not inside.any(), f"legend covers {line.get_label()}"


@pytest.fixture(scope="module")
def small_ks25(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small Kilosort 2.5 session (few spikes per pixel), cached with its selection."""
    tmp = tmp_path_factory.mktemp("ks25")
    folder = tmp / "sorter_output"
    write_kilosort_folder(
        folder, n_spikes=8_000, layout="kilosort2_5", n_channels=64, n_units=12,
        duration=100.0, drift="linear", seed=4,
    )  # fmt: skip
    return cached(folder, tmp, name="ses-02")[1]


@pytest.mark.parametrize("column_width", [2.0, 3.0])
def test_grid_titles_two_lines_signed_zero_and_one_amplitude_key(small_ks25, ks4, column_width):
    panels = {
        "ses-01": shank_selections(load_selection(ks4[1]), None),
        "ses-02": shank_selections(load_selection(small_ks25), None),
    }
    titles = {"ses-01": "ses-01: zig-zag drift, Kilosort 4", "ses-02": "ses-02: linear drift"}
    shifts = {"ses-01": {"all": 0.0}, "ses-02": {"all": -0.04}}
    grid = SessionGrid(list(panels), {sid: ["all"] for sid in panels}, titles=titles,
                       map_options={**MAP, "scaling": (5.0, 60.0)}, column_width=column_width,
                       height=5.0, shifts=shifts)  # fmt: skip
    for sid, panel in panels.items():
        grid.draw(sid, panel)
    fig = grid.finish()
    heads = {sid: ax.get_title(loc="left") for sid, ax in zip(panels, fig.axes, strict=False)}
    for sid, head in heads.items():
        assert head.count("\n") <= 1, head
        assert head.count(sid) == 1, head  # the id is not repeated by the caption
        assert not any(ax.get_title(loc="center") for ax in fig.axes)
    assert "shift +0.0 µm" in heads["ses-02"] and "-0.0" not in heads["ses-02"]
    keys = [ax for ax in fig.axes if "amplitude" in ax.get_ylabel()]
    assert len(keys) == 1  # one grey-scale key for every panel
    assert keys[0].get_ylim() == pytest.approx((5.0, 60.0))
    assert_text_readable(fig)


def _density_figure(selection: object) -> Figure:
    from driftqc.plotting.drift_map import plot_drift_map

    return plot_drift_map(selection, render="density", histogram=True, title=True)


def test_density_bins_adapt_to_small_sessions_and_key_reads_plain(small_ks25):
    selection = load_selection(small_ks25)
    fig = _density_figure(selection)
    raster = next(ax for ax in fig.axes if ax.images)
    values = np.asarray(raster.images[0].get_array().filled(0), dtype=float)
    occupied = values[values > 0]
    assert np.median(occupied) >= 5  # no hairline sketch of 1–2 spikes per bin
    assert values.shape[1] >= 20 and values.shape[0] >= 10
    key = next(ax for ax in fig.axes if "Spikes per bin" in ax.get_ylabel())
    FigureCanvasAgg(fig).draw()
    labels = [t.get_text() for t in key.get_yticklabels(which="both") if t.get_text()]
    assert labels and not any("10^" in t or "×" in t or "times" in t for t in labels), labels
    # depth axis: the spikes' range with a small margin, not below the probe tip
    depths = selection.kept.depths
    low, high = raster.get_ylim()
    assert 0.0 <= low <= depths.min() and depths.max() <= high <= depths.max() + 20.0
    assert_text_readable(fig)


def test_density_keeps_the_pixel_grid_when_spikes_fill_it():
    from driftqc.metrics.histograms import density_bins

    rng = np.random.default_rng(0)
    times, depths = rng.uniform(0, 100, 2_000_000), rng.uniform(0, 400, 2_000_000)
    assert density_bins(times, depths, (0, 100), (0, 400),
                        max_time_bins=300, max_depth_bins=200) == (300, 200)  # fmt: skip
    few = density_bins(times[:3000], depths[:3000], (0, 100), (0, 400),
                       max_time_bins=300, max_depth_bins=200)  # fmt: skip
    assert few[0] < 300 and few[1] <= 200


def test_shared_scale_default_leaves_fewer_spikes_in_the_palest_greys():
    from driftqc.io import read_kilosort
    from driftqc.qc.amplitude_scale import SHARED_QUANTILES, amplitude_sample, amplitude_summary
    from driftqc.selection import select_spikes
    from driftqc.views.shading import amplitude_shading

    data = Path(__file__).resolve().parents[2] / "data" / "ks4_drift"
    real = select_spikes(read_kilosort(data), exclude_noise=True).kept.amplitudes
    rng = np.random.default_rng(1)
    sessions = {"real": real, "gain-0.7": real * 0.7,
                "synthetic": rng.lognormal(3.0, 0.6, 20_000).astype(np.float32)}  # fmt: skip
    samples = {sid: amplitude_sample(v) for sid, v in sessions.items()}

    def palest(quantiles: tuple[float, float]) -> float:
        units = dict.fromkeys(samples, "a.u.")
        _, shared = amplitude_summary(samples, units, shared_quantiles=quantiles)
        shading = amplitude_shading(np.empty(0), (shared["low"], shared["high"]), 20)
        return float(np.mean([np.mean(shading.bin_of(v) < 3) for v in sessions.values()]))

    assert tuple(SHARED_QUANTILES) == (1.0, 95.0)
    assert palest(SHARED_QUANTILES) < palest((1.0, 99.0))
