"""Every default has one home: the option objects of :mod:`driftqc.options`.

The front doors (``DriftPlotter``, ``get_amplitudes``, ``plot_drift_map``, the command line,
the viewer) take their defaults from :data:`~driftqc.options.SELECTION`,
:data:`~driftqc.options.STYLE` and :data:`~driftqc.options.RENDER`; the workflow's schema and
``config/config.yaml`` repeat them as text. These tests fail as soon as one copy differs, so a
changed default must be changed everywhere. (The viewer widget's defaults need Qt to read:
``tests/integration/interactive/test_viewer_api.py``.)
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import pytest
import yaml

from driftqc import DriftPlotter, get_amplitudes
from driftqc.cli import build_parser
from driftqc.metrics.flags import QCThresholds
from driftqc.options import RENDER, SELECTION, STYLE, MapStyle, RenderOptions, SelectionOptions
from driftqc.plotting import plot_drift_map
from driftqc.qc.drift import DriftQCOptions
from driftqc.qc.session_shifts import batch_session_shifts
from driftqc.views.shading import amplitude_shading

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
CONFIG = ROOT / "config" / "config.yaml"

#: the seed API (driftplots) fixes these values; driftqc must keep them
SEED_DEFAULTS = {
    "decimate": "estimate",
    "exclude_noise": False,
    "amplitude_cmap_scaling": "linear",
    "n_color_bins": 20,
    "point_size": 5.0,
    "filter_amplitude_mode": None,
    "filter_amplitude_values": (),
}

#: every option default by its public (driftplots) name
DEFAULTS = {
    **dataclasses.asdict(SELECTION),
    **dataclasses.asdict(STYLE),
    **dataclasses.asdict(RENDER),
}

#: workflow config key -> public option name (the config keeps its own, documented, names)
CONFIG_KEYS = {
    ("filters", "exclude_noise"): "exclude_noise",
    ("filters", "decimate"): "decimate",
    ("render", "scaling"): "amplitude_cmap_scaling",
    ("render", "n_color_bins"): "n_color_bins",
    ("render", "point_size"): "point_size",
    ("render", "mode"): "render",
    ("render", "density_statistic"): "density_statistic",
}

#: values config/config.yaml sets on purpose to something else than the default
CONFIG_OVERRIDES = {
    ("filters", "exclude_noise"): True,  # the demo sessions carry Phy labels
}


def _schema() -> dict:
    return yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))


def _schema_default(section: str, key: str) -> object:
    return _schema()["properties"][section]["properties"][key]["default"]


def _as_config(value: object) -> object:
    """An option value as YAML writes it (tuples are lists)."""
    return list(value) if isinstance(value, tuple) else value


def _defaults_of(function: object, names: object = None) -> dict[str, object]:
    parameters = inspect.signature(function).parameters.values()  # type: ignore[arg-type]
    return {
        p.name: p.default
        for p in parameters
        if p.default is not inspect.Parameter.empty and (names is None or p.name in names)
    }


def test_option_objects_keep_the_seed_api_defaults():
    assert {k: DEFAULTS[k] for k in SEED_DEFAULTS} == SEED_DEFAULTS
    assert SelectionOptions() == SELECTION
    assert MapStyle() == STYLE
    assert RenderOptions() == RENDER


@pytest.mark.parametrize(("where", "name"), list(CONFIG_KEYS.items()))
def test_schema_defaults_are_the_option_defaults(where, name):
    assert _schema_default(*where) == _as_config(DEFAULTS[name])


def test_schema_amplitude_filter_default_is_off():
    assert _schema_default("filters", "amplitude_filter") is None
    assert SELECTION.filter_amplitude_mode is None
    assert SELECTION.filter_amplitude_values == ()


@pytest.mark.parametrize(("where", "name"), list(CONFIG_KEYS.items()))
def test_config_file_values_are_the_option_defaults(where, name):
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    section, key = where
    value = config[section][key]
    if where in CONFIG_OVERRIDES:
        assert value == CONFIG_OVERRIDES[where] != _as_config(DEFAULTS[name])
    else:
        assert value == _as_config(DEFAULTS[name])
    assert config["filters"]["amplitude_filter"] is None


def test_schema_drift_qc_defaults_are_the_library_defaults():
    drift_qc = _schema()["properties"]["drift_qc"]["properties"]
    for field in dataclasses.fields(DriftQCOptions):
        assert drift_qc[field.name]["default"] == field.default, field.name
    shift = inspect.signature(batch_session_shifts).parameters["max_shift_um"].default
    assert drift_qc["max_session_shift_um"]["default"] == shift


def test_schema_threshold_defaults_are_the_library_defaults():
    described = _schema()["properties"]["drift_qc"]["properties"]["thresholds"]["properties"]
    library = {f.name: f.default for f in dataclasses.fields(QCThresholds)}
    assert set(described) == set(library)
    for name, entry in described.items():
        match = re.search(r"\(default ([0-9.]+)\)", entry["description"])
        assert match, f"thresholds.{name}: the description names no default"
        assert float(match.group(1)) == library[name], name


def test_config_file_drift_qc_values_are_the_library_defaults():
    drift_qc = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["drift_qc"]
    for field in dataclasses.fields(DriftQCOptions):
        if field.name in drift_qc:
            assert drift_qc[field.name] == field.default, field.name


@pytest.mark.parametrize(
    "method",
    [
        DriftPlotter.select,
        DriftPlotter.drift_map_plot_matplotlib,
        DriftPlotter.drift_map_plot_interactive,
    ],
    ids=lambda m: m.__name__,
)
def test_driftplotter_signatures_take_the_option_defaults(method):
    defaults = _defaults_of(method, DEFAULTS)
    assert defaults == {k: DEFAULTS[k] for k in defaults}
    expected = set(SEED_DEFAULTS) - (
        {"point_size", "n_color_bins", "amplitude_cmap_scaling"}
        if method is DriftPlotter.select
        else set()
    )
    assert expected <= set(defaults)


def test_front_door_functions_take_the_option_defaults():
    assert _defaults_of(get_amplitudes)["exclude_noise"] == SELECTION.exclude_noise
    drawn = _defaults_of(plot_drift_map)
    assert drawn["scaling"] == STYLE.amplitude_cmap_scaling
    assert drawn["n_color_bins"] == STYLE.n_color_bins
    assert drawn["point_size"] == STYLE.point_size
    assert drawn["render"] == RENDER.render
    assert drawn["density_statistic"] == RENDER.density_statistic
    shaded = _defaults_of(amplitude_shading)
    assert shaded["scaling"] == STYLE.amplitude_cmap_scaling
    assert shaded["n_color_bins"] == STYLE.n_color_bins


@pytest.mark.parametrize("command", ["plot", "view"])
def test_cli_defaults_are_the_option_defaults(command):
    args = build_parser().parse_args([command, "folder", *(["-o", "x.png"] * (command == "plot"))])
    assert args.decimate == SELECTION.decimate
    assert args.exclude_noise == SELECTION.exclude_noise
    assert args.amplitude_filter == SELECTION.filter_amplitude_mode
    assert tuple(args.amplitude_range) == SELECTION.filter_amplitude_values
    assert args.scaling == STYLE.amplitude_cmap_scaling
    assert args.color_bins == STYLE.n_color_bins
    assert args.point_size == STYLE.point_size
    if command == "plot":
        assert args.render == RENDER.render
        assert args.density_statistic == RENDER.density_statistic
