"""The batch figures (driftqc.plotting.batch), called directly on small data."""

from __future__ import annotations

import re

import numpy as np
import pytest
from matplotlib.figure import Figure

from driftqc.pipeline.cache import (
    cache_selection,
    cache_sorting,
    load_kept_templates,
    load_motion,
    load_selection,
    load_template_shanks,
)
from driftqc.plotting.batch import (
    SessionGrid,
    failure_figure,
    plot_amplitude_distributions,
    plot_session_drift_qc,
    plot_session_grid,
    plot_shift_kymographs,
    save_image_pages,
)
from driftqc.qc import (
    DriftQCOptions,
    batch_session_shifts,
    session_drift_qc,
    shank_keys,
    shank_selections,
    shank_tables,
)
from driftqc.synthetic import write_kilosort_folder

MAP = {"scaling": "linear", "n_color_bins": 5, "point_size": 2}


def selection_of(tmp_path, name, **synthetic):
    folder = tmp_path / name
    write_kilosort_folder(folder, n_spikes=8_000, n_channels=64, n_units=8, duration=60.0,
                          seed=3, **synthetic)  # fmt: skip
    cache, selection = tmp_path / f"{name}.npz", tmp_path / f"{name}-sel.npz"
    cache_sorting(folder, cache, name=name)
    cache_selection(cache, selection)
    return cache, selection


@pytest.fixture(scope="module")
def two_shank(tmp_path_factory):
    return selection_of(tmp_path_factory.mktemp("b"), "two", n_shanks=2)


@pytest.fixture(scope="module")
def ks4(tmp_path_factory):
    return selection_of(tmp_path_factory.mktemp("b"), "ks4", layout="kilosort4",
                        frame="registered")  # fmt: skip


def titles(fig: Figure) -> list[str]:
    return [ax.get_title(loc="left") for ax in fig.axes if ax.get_visible()]


def test_amplitude_figure_marks_failed_sessions_and_the_shared_range():
    rng = np.random.default_rng(0)
    samples = {"a": rng.lognormal(3, 0.5, 500), "b": None, "c": np.empty(0)}
    shared = {"applicable": True, "low": 5.0, "high": 80.0, "warning": None}
    fig = plot_amplitude_distributions(samples, {"a": "µV", "b": None, "c": "µV"}, shared)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a (µV)", "b (-)", "c (µV)"]
    assert {t.get_text() for t in ax.texts} == {"failed", "no spikes"}
    dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert sorted(line.get_xdata()[0] for line in dashed) == pytest.approx(np.log10([5, 80]))


def test_grid_has_a_row_per_shank_and_shifts_in_titles(two_shank):
    _, sel = two_shank
    panels = {
        "s1": shank_selections(load_selection(sel), load_template_shanks(sel)),
        "s2": "spike_times.npy is truncated",
    }
    shifts = {"s1": {"all": 0.0, "0": 0.0, "1": 0.0}, "s2": {"all": None}}
    fig = plot_session_grid(panels, titles={"s1": "S1", "s2": "S2"}, map_options=MAP,
                            column_width=2.0, height=3.0, shifts=shifts)  # fmt: skip
    assert fig.get_size_inches() == pytest.approx((4.0, 6.0))  # 2 sessions x 2 shanks
    found = titles(fig)
    assert any(t.startswith("S1, shank 0; shift +0.0 µm") for t in found)
    assert any(t.startswith("S1, shank 1") for t in found)
    assert sum("S2" in t and "shift n/a" in t for t in found) == 2  # failed: both rows
    assert any("failed" in text.get_text() for ax in fig.axes for text in ax.texts)


def test_grid_drawn_one_session_at_a_time_matches_the_whole_grid(two_shank, ks4):
    sources = {"two": two_shank[1], "ks4": ks4[1]}
    panels = {sid: shank_selections(load_selection(p), load_template_shanks(p))
              for sid, p in sources.items()}  # fmt: skip
    whole = plot_session_grid(panels, titles={}, map_options=MAP)
    keys = {sid: shank_keys(load_kept_templates(p), load_template_shanks(p), sid)
            for sid, p in sources.items()}  # fmt: skip
    assert keys == {sid: list(value) for sid, value in panels.items()}
    assert keys["two"] == ["all", 0, 1] and keys["ks4"] == ["all"]
    grid = SessionGrid(list(sources), keys, titles={}, map_options=MAP)
    for sid, path in sources.items():  # each session read only when its panels are drawn
        grid.draw(sid, shank_selections(load_selection(path), load_template_shanks(path)))
    fig = grid.finish()
    assert titles(fig) == titles(whole)
    for ours, theirs in zip(fig.axes, whole.axes, strict=True):
        assert len(ours.lines) == len(theirs.lines)
        for a, b in zip(ours.lines, theirs.lines, strict=True):
            np.testing.assert_array_equal(a.get_xydata(), b.get_xydata())
    assert fig.axes[0].get_ylim() == whole.axes[0].get_ylim()


def test_grid_of_single_shank_sessions_wraps_columns(ks4):
    _, sel = ks4
    panel = shank_selections(load_selection(sel), None)
    assert list(panel) == ["all"]
    fig = plot_session_grid({"a": panel, "b": panel, "c": panel}, titles={}, map_options=MAP,
                            columns=2, column_width=2.0, height=3.0)  # fmt: skip
    assert fig.get_size_inches() == pytest.approx((4.0, 6.0))
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    assert len(panels) == 3  # one per session, plus the grid's one amplitude key
    assert sum(ax.get_label() == "<colorbar>" for ax in fig.axes) == 1
    assert "shift" not in " ".join(titles(fig))


def test_kilosort4_drift_figure_has_both_frames_labelled(ks4):
    cache, sel = ks4
    selection, shanks = load_selection(sel), load_template_shanks(sel)
    result = session_drift_qc(selection, template_shanks=shanks, motion=load_motion(cache),
                              options=DriftQCOptions(min_spikes_per_bin=20))  # fmt: skip
    fig = plot_session_drift_qc(
        result, shank_selections(selection, shanks),
        shank_selections(result.raw_selection, shanks), title="ks4", overlay=True,
        map_options=MAP,
    )  # fmt: skip
    heads = [sub._suptitle.get_text() for sub in fig.subfigs]
    assert heads == [
        "ks4: registered frame",
        "ks4: raw (reconstructed from Kilosort 4 dshift) frame",
    ]
    # the raw panel's trace axes also show the sorter's own estimate
    legends = [ax.get_legend() for ax in fig.subfigs[1].axes if ax.get_legend() is not None]
    labels = [t.get_text() for legend in legends for t in legend.get_texts()]
    assert any("sorter estimate" in label for label in labels)
    # overlay: the registered map carries the trace lines
    map_ax = fig.subfigs[0].axes[0]
    assert any("drift trace" in str(line.get_label()) for line in map_ax.lines)


def test_kymographs_one_panel_per_shank_and_failed_named(two_shank):
    _, sel = two_shank
    tables = shank_tables(load_selection(sel).kept, load_template_shanks(sel))
    _, shifts = batch_session_shifts({"x": tables, "y": tables, "z": None})
    fig = plot_shift_kymographs(shifts, failed=["z"])
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 3  # all, shank 0, shank 1
    assert "z" in fig._suptitle.get_text()


def test_image_pages_and_failure_figure(tmp_path):
    paths = []
    for i, size in enumerate([(3, 2), (2, 3)]):
        fig = failure_figure(f"s{i}", "bad file", size=size)
        assert "failed: bad file" in fig.texts[0].get_text()
        paths.append(tmp_path / f"{i}.png")
        fig.savefig(paths[-1], dpi=50)
    save_image_pages(paths, tmp_path / "pages.pdf", dpi=50)
    pdf = (tmp_path / "pages.pdf").read_bytes()
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 2
