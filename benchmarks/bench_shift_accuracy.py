"""Accuracy of the between-session shift on real sorter output with a known offset.

Usage::

    python benchmarks/bench_shift_accuracy.py [--ks4 tests/data/ks4_cases] \
        [--si benchmarks/_data/validation/si]

Cases (each compared with its ``stable`` session; the true shift is the difference of the
``offset_um`` in their ``ground_truth.npz``):

* **Kilosort 4** (``tests/data/ks4_cases/<case>``): ``shift25`` (the same units and spike
  trains moved +25 µm; units near the top end leave the probe) and ``other_units``
  (different units: no shift should be reported);
* **SpikeInterface exports** (``<si>/<case>/phy`` and ``<si>/<case>/analyzer``): the same
  two comparisons on a 64-channel probe.

Methods:

* ``depth profile`` — the previous method: registration of the spikes' depth-activity
  profiles (:func:`driftqc.metrics.between_session_shifts`, defaults);
* ``matched units, sorter's spike depths`` — the unit matching of
  :mod:`driftqc.metrics.unit_matching` with each unit at its median saved spike depth
  (Kilosort 4: ``spike_positions.npy``, which leans towards the rows of sites);
* ``matched units, centre of mass`` — the unit matching of
  :mod:`driftqc.metrics.unit_matching` fed with centre-of-mass template depths (to show
  what the point-source fit adds);
* ``matched units, point source`` — the new default
  (:func:`driftqc.metrics.between_sessions.unit_session_shifts` on
  :func:`driftqc.metrics.unit_localisation.localise_units` positions).

Prints one Markdown table per sorter output kind. Missing cases are listed as missing.
"""

from __future__ import annotations

import argparse
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

from driftqc.errors import DriftQCError
from driftqc.geometry import template_depths
from driftqc.io import load_sorting
from driftqc.metrics import between_session_shifts
from driftqc.metrics.between_sessions import unit_session_shifts
from driftqc.metrics.unit_localisation import (
    UnitPositions,
    channel_amplitudes,
    localise_units,
    peak_waveforms,
)
from driftqc.metrics.unit_matching import session_units
from driftqc.model import Sorting

ROOT = Path(__file__).resolve().parents[1]
COMPARISONS = (("stable", "shift25"), ("stable", "other_units"))


def read(folder: Path) -> tuple[Sorting, np.ndarray | None]:
    """The sorting and its inverse whitening matrix (Kilosort), depths when readable."""
    try:
        with warnings.catch_warnings():  # phy exports: "drift is not measurable" (known)
            warnings.simplefilter("ignore", UserWarning)
            sorting = load_sorting(folder)
    except DriftQCError:  # e.g. a phy export whose PC features the reader refuses
        sorting = load_sorting(folder, with_depths=False)
    return sorting, sorting.whitening_inverse


def com_positions(sorting: Sorting, winv: np.ndarray | None) -> UnitPositions:
    """Centre-of-mass positions (x and y) of the templates, as UnitPositions."""
    amp = channel_amplitudes(sorting.templates, winv)
    pos = np.asarray(sorting.channel_positions, dtype=np.float64)
    nan = np.full(len(amp), np.nan)
    return UnitPositions(
        x_um=template_depths(amp, pos[:, 0]),
        y_um=template_depths(amp, pos[:, 1]),
        z_um=np.zeros(len(amp)),
        power=nan,
        amplitude=amp.max(axis=1),
        residual=nan,
        n_channels=nan,
    )


def spike_positions(sorting: Sorting, winv: np.ndarray | None) -> UnitPositions:
    """Each template's median saved spike depth (Kilosort 4: spike_positions.npy)."""
    com = com_positions(sorting, winv)
    spikes = sorting.spikes
    y = np.full(len(com), np.nan)
    for template in np.unique(spikes.templates):
        if 0 <= template < len(y):
            y[template] = np.nanmedian(spikes.depths[spikes.templates == template])
    return replace(com, y_um=y)


def measure(reference: Path, other: Path) -> list[dict[str, object]]:
    """Every method's shift of ``other`` from ``reference``."""
    (s0, w0), (s1, w1) = read(reference), read(other)
    truth = _offset(other) - _offset(reference)
    names = [_case(reference), _case(other)]
    rows = []
    spikes = [replace(s.spikes, info=replace(s.spikes.info, depth_frame="raw")) for s in (s0, s1)]
    profile = between_session_shifts(spikes, names=names)
    rows.append(_row("depth profile (previous)", profile, truth, "peak_correlation"))
    for label, locate in (
        ("matched units, sorter's spike depths", spike_positions),
        ("matched units, centre of mass", com_positions),
        ("matched units, point source", _point_source),
    ):
        units = [
            session_units(
                s.spikes,
                locate(s, w),
                np.asarray(s.channel_positions)[:, 1],
                waveforms=peak_waveforms(s.templates, w),
                frame="raw",
            )
            for s, w in ((s0, w0), (s1, w1))
        ]
        result = unit_session_shifts(units, names=names, profiles=spikes)
        rows.append(_row(label, result, truth, "n_matched"))
    return rows


def _case(folder: Path) -> str:
    return folder.name if (folder / "ground_truth.npz").is_file() else folder.parent.name


def _offset(folder: Path) -> float:
    """The case's imposed offset, µm (its ground_truth.npz is in the folder or above it)."""
    path = folder / "ground_truth.npz"
    if not path.is_file():
        path = folder.parent / "ground_truth.npz"
    return float(np.load(path)["offset_um"])


def _point_source(sorting: Sorting, winv: np.ndarray | None) -> UnitPositions:
    return localise_units(
        sorting.templates,
        sorting.channel_positions,
        channel_shanks=sorting.channel_shanks,
        whitening_inverse=winv,
    )


def _row(method: str, result, truth: float, evidence: str) -> dict[str, object]:
    frame = result.to_frame().iloc[1]
    shift = float(result.shifts_um[1])
    matched = (
        f"{int(frame['n_matched'])}/{int(frame['n_comparable'])} units, "
        f"contrast {frame['contrast']:.1f}"
        + (f", ±{frame['uncertainty_um']:.1f} µm" if np.isfinite(frame["uncertainty_um"]) else "")
        if evidence == "n_matched"
        else f"r={frame['peak_correlation']:.2f}"
    )
    return {
        "method": method,
        "truth": truth,
        "shift": shift,
        "status": frame["status"],
        "evidence": matched,
    }


def table(title: str, cases: list[tuple[str, Path, Path]]) -> str:
    """A Markdown table of every comparison and method."""
    lines = [
        f"### {title}",
        "",
        "| comparison | method | true shift (µm) | shift (µm) | error (µm) | status | evidence |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for label, ref, other in cases:
        if not (ref.exists() and other.exists()):
            lines.append(f"| {label} | – | – | – | – | missing | {other} |")
            continue
        for row in measure(ref, other):
            same_units = "other_units" not in label
            shift = row["shift"]
            error = f"{shift - row['truth']:+.1f}" if same_units and np.isfinite(shift) else "–"
            lines.append(
                f"| {label} | {row['method']} | {row['truth'] if same_units else 'none'} | "
                f"{'' if not np.isfinite(shift) else f'{shift:+.1f}'} | {error} | "
                f"{row['status']} | {row['evidence']} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks4", type=Path, default=ROOT / "tests/data/ks4_cases")
    parser.add_argument("--si", type=Path, default=ROOT / "benchmarks/_data/validation/si")
    args = parser.parse_args(argv)
    ks4 = [(f"{a} vs {b}", args.ks4 / a, args.ks4 / b) for a, b in COMPARISONS]
    print(table("Kilosort 4.1.7 (32 ch)", ks4))
    for kind in ("phy", "analyzer"):
        cases = [(f"{a} vs {b}", args.si / a / kind, args.si / b / kind) for a, b in COMPARISONS]
        print(table(f"SpikeInterface {kind} export (64 ch)", cases))


if __name__ == "__main__":
    main()
