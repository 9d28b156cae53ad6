"""Accuracy of the within-session drift trace on real sorter output with a known imposed drift.

Usage (from the repository root)::

    /work/venvs/si/bin/python benchmarks/bench_trace_accuracy.py [--out benchmarks/ACCURACY.md]
    .venv/bin/python benchmarks/bench_trace_accuracy.py --no-si   # without SpikeInterface

Data (nothing here is made by ``driftqc.synthetic``):

* **Kilosort 4** (``tests/data/ks4_drift``, ``tests/data/ks4_cases/<case>``): real Kilosort 4.1.7
  output of recordings simulated with a known rigid displacement (``tests/data/README.md``,
  ``tests/data/make_ks4_fixture.py``). Inputs: ``raw`` = KS4 registered depth − dshift
  (``select_spikes(frame="raw")``); ``registered`` = KS4's depths as saved (compared with 0:
  the residual); ``true depths`` = the ground-truth spike times at the true unit depth plus
  the imposed displacement (the estimator alone, without any localisation error).
* **SpikeInterface** (``benchmarks/_data/validation/si``, ``.../trace_si``): recordings simulated
  by ``spikeinterface.generation.generate_drifting_recording`` with our displacement
  (``benchmarks/validation/make_si_cases.py``, ``trace_si_cases.py``); inputs: ``analyzer COM``
  = the analyzer's ``spike_locations`` (SpikeInterface default, center of mass);
  ``monopolar`` = the same ground-truth spikes localised with ``localize_peaks(method=
  "monopolar_triangulation")``; ``true depths`` = ``spike_true_y_um``.

Methods, on the same spikes: driftqc's ``estimate_drift_trace`` with ``method="decentralised"``
(default) and ``method="reference"`` (the former single-reference registration); SpikeInterface's
``estimate_motion`` (rigid, ``method="decentralized"`` and ``"dredge_ap"``, ``bin_s`` = the bin
width, other options default) fed with the spikes as peaks (time, depth, amplitude); Kilosort
4's own ``dshift`` (2-s batches, averaged over each bin; its own input, not ours).

Error: estimate − truth averaged over each time bin, mean removed (registered frame: truth 0).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from driftqc.io import read_kilosort  # noqa: E402
from driftqc.io.analyzer import read_analyzer  # noqa: E402
from driftqc.metrics import estimate_drift_trace  # noqa: E402
from driftqc.metrics.frames import sorter_drift_trace  # noqa: E402
from driftqc.model import SpikeTable  # noqa: E402
from driftqc.selection import select_spikes  # noqa: E402

BIN_WIDTHS = (2.0, 5.0, 10.0, 20.0)
KS4_ROOT = ROOT / "tests" / "data"
SI_ROOT = ROOT / "benchmarks" / "_data" / "validation" / "si"
TRACE_SI_ROOT = ROOT / "benchmarks" / "_data" / "validation" / "trace_si"
TARGET_RMS_UM = 2.0
TARGET_STABLE_PTP_UM = 2.0
STEP_TOLERANCE = 0.2  # a step counts as recovered within 20 % of its size
START, END = "<!-- BEGIN TRACE ACCURACY -->", "<!-- END TRACE ACCURACY -->"


@dataclass
class Input:
    """One set of spikes of one case, with its truth."""

    data: str  # "KS4" or "SI"
    case: str
    depths: str  # "raw", "registered", "true depths", "analyzer COM", "monopolar"
    spikes: SpikeTable
    truth_t: np.ndarray
    truth_um: np.ndarray  # total displacement (0 for the registered frame)
    drift: str
    duration_s: float
    channel_positions: np.ndarray
    sorting: object | None = None  # for Kilosort's dshift
    recording_folder: Path | None = None
    crop_s: tuple[float, float] | None = None  # part of the session used (s)


def drift_spec(truth: np.lib.npyio.NpzFile, case: str) -> str:
    if "drift_spec" in truth.files:
        return bytes(truth["drift_spec"]).decode()
    return "triangle:40:0-24" if case == "ks4_drift" else "?"


def ks4_inputs() -> list[Input]:
    folders = [KS4_ROOT / "ks4_drift"]
    folders += sorted(p for p in (KS4_ROOT / "ks4_cases").glob("*") if p.is_dir())
    inputs = []
    for folder in folders:
        needed = ("spike_times.npy", "ops.npy", "ground_truth.npz", "spike_positions.npy")
        if not all((folder / f).is_file() for f in needed):
            continue
        truth = np.load(folder / "ground_truth.npz")
        key = (
            "total_displacement_um"
            if "total_displacement_um" in truth.files
            else "displacement_um"
        )
        t, d = truth["displacement_t_s"], truth[key].astype(np.float64)
        sorting = read_kilosort(folder)
        common = dict(
            data="KS4",
            case=folder.name,
            truth_t=t,
            drift=drift_spec(truth, folder.name),
            duration_s=float(truth["duration_s"]),
            channel_positions=np.load(folder / "channel_positions.npy"),
            sorting=sorting,
        )
        raw = select_spikes(sorting, frame="raw", decimate=None).kept
        registered = select_spikes(sorting, frame="registered", decimate=None).kept
        inputs.append(Input(depths="raw", spikes=raw, truth_um=d, **common))
        inputs.append(Input(depths="registered", spikes=registered, truth_um=0 * d, **common))
        times = truth["spike_times_samples"] / float(truth["fs"])
        units = truth["spike_units"].astype(np.int64)
        # unit_y_um holds any constant offset, displacement_um the drift alone
        true_y = truth["unit_y_um"][units] + np.interp(times, t, truth["displacement_um"])
        inputs.append(
            Input(
                depths="true depths",
                spikes=_table(raw, times, true_y, units),
                truth_um=d,
                **common,
            )
        )
    # the real step50 run cut so that its step (at 30 s) falls at 25 % and 75 % of the session
    for item in [i for i in inputs if i.case == "step50"]:
        for start, stop in CROPS:
            inputs.append(crop(item, start, stop))
    return inputs


CROPS = ((20.0, 60.0), (0.0, 40.0))


def crop(item: Input, start: float, stop: float) -> Input:
    """The part of a case in ``[start, stop)`` s, its times starting at 0."""
    spikes = item.spikes
    inside = spikes.take((spikes.times >= start) & (spikes.times < stop))
    keep = (item.truth_t >= start) & (item.truth_t < stop)
    where = 100 * (30.0 - start) / (stop - start)
    return replace(
        item,
        case=f"{item.case}[{start:g}-{stop:g} s]",
        drift=f"step:{(30.0 - start) / (stop - start):g}:30 (cut from step50: at {where:.0f} %)",
        spikes=replace(inside, times=inside.times - start),
        truth_t=item.truth_t[keep] - start,
        truth_um=item.truth_um[keep],
        duration_s=stop - start,
        crop_s=(start, stop),
    )


def si_inputs() -> list[Input]:
    inputs = []
    for folder in sorted(TRACE_SI_ROOT.glob("*")):
        spikes_file = folder / "spikes_gt.npz"
        if not spikes_file.is_file():
            continue
        case_folder = ROOT / (folder / "source").read_text().strip()
        truth = np.load(case_folder / "ground_truth.npz")
        t, d = truth["displacement_t_s"], truth["total_displacement_um"].astype(np.float64)
        analyzer = read_analyzer(case_folder / "analyzer").spikes
        common = dict(
            data="SI",
            case=folder.name,
            truth_t=t,
            truth_um=d,
            drift=drift_spec(truth, folder.name),
            duration_s=float(truth["duration_s"]),
            channel_positions=np.c_[truth["channel_x_um"], truth["channel_y_um"]],
            recording_folder=case_folder / "recording",
        )
        located = np.load(spikes_file)
        units = located["unit"].astype(np.int64)
        inputs.append(Input(depths="analyzer COM", spikes=analyzer, **common))
        inputs.append(
            Input(
                depths="monopolar",
                spikes=_table(
                    analyzer, located["times_s"], located["depth_um"], units, located["amplitude"]
                ),
                **common,
            )
        )
        times = truth["spike_times_samples"] / float(truth["fs"])
        inputs.append(
            Input(
                depths="true depths",
                spikes=_table(analyzer, times, truth["spike_true_y_um"], units),
                **common,
            )
        )
    return inputs


def _table(
    like: SpikeTable,
    times: np.ndarray,
    depths: np.ndarray,
    units: np.ndarray,
    amplitudes: np.ndarray | None = None,
) -> SpikeTable:
    order = np.argsort(times, kind="stable")
    amps = np.ones(len(times)) if amplitudes is None else np.asarray(amplitudes)
    return replace(
        like,
        times=np.asarray(times, dtype=np.float64)[order],
        depths=np.asarray(depths, dtype=np.float32)[order],
        amplitudes=amps.astype(np.float32)[order],
        templates=units.astype(np.int32)[order],
        clusters=units.astype(np.int32)[order],
        cluster_labels={},
    )


def truth_per_bin(edges: np.ndarray, t: np.ndarray, d: np.ndarray) -> np.ndarray:
    fine = np.linspace(edges[0], min(edges[-1], t[-1]), 50 * len(edges))
    values = np.interp(fine, t, d)
    index = np.clip(np.searchsorted(edges, fine, side="right") - 1, 0, len(edges) - 2)
    return np.bincount(index, values, len(edges) - 1) / np.bincount(index, None, len(edges) - 1)


def score(
    item: Input, edges: np.ndarray, estimate: np.ndarray, valid: np.ndarray
) -> dict[str, object]:
    truth = truth_per_bin(edges, item.truth_t, item.truth_um)
    ok = valid & np.isfinite(estimate)
    error = estimate[ok] - truth[ok]
    error -= error.mean()
    varies = np.ptp(truth[ok]) > 1e-6 if ok.any() else False
    corr = float(np.corrcoef(estimate[ok], truth[ok])[0, 1]) if varies else np.nan
    row = {
        "rms_um": float(np.sqrt(np.mean(error**2))) if ok.any() else np.nan,
        "corr": corr,
        "ptp_est_um": float(np.ptp(estimate[ok])) if ok.any() else np.nan,
        "ptp_true_um": float(np.ptp(truth[ok])) if ok.any() else np.nan,
        "valid": f"{int(ok.sum())}/{len(ok)}",
        "step_true_um": np.nan,
        "step_est_um": np.nan,
    }
    if item.drift.startswith("step") and item.depths != "registered":
        _, frac, size = item.drift.split(" ")[0].split(":")
        at = float(frac) * item.duration_s
        before, after = ok & (edges[1:] <= at), ok & (edges[:-1] >= at)
        if before.any() and after.any():
            row["step_true_um"] = float(size)
            row["step_est_um"] = float(np.median(estimate[after]) - np.median(estimate[before]))
    row["verdict"] = verdict(item, row)
    return row


def verdict(item: Input, row: dict[str, object]) -> str:
    if not np.isfinite(row["rms_um"]):
        return "no estimate"
    if item.depths == "registered":
        return "(sorter's residual)"
    if item.drift == "none":
        return "pass" if row["ptp_est_um"] <= TARGET_STABLE_PTP_UM else "FAIL (p-p)"
    fails = []
    if row["rms_um"] > TARGET_RMS_UM:
        fails.append("RMS")
    return "pass" if not fails else "FAIL (" + ", ".join(fails) + ")"


def si_motion(item: Input, bin_s: float, method: str) -> tuple[np.ndarray, np.ndarray] | None:
    """SpikeInterface's rigid motion estimate from our spikes; (bin edges, displacement)."""
    import spikeinterface.core as si
    from spikeinterface.core.base import base_peak_dtype
    from spikeinterface.sortingcomponents.motion import estimate_motion

    spikes = item.spikes
    if item.recording_folder is not None:
        recording = si.load(item.recording_folder)
    else:
        positions = item.channel_positions
        recording = si.NoiseGeneratorRecording(
            num_channels=len(positions),
            sampling_frequency=float(spikes.info.sample_rate),
            durations=[item.duration_s],
        )
        recording.set_channel_locations(positions)
    fs = recording.sampling_frequency
    keep = np.isfinite(spikes.depths) & (spikes.times < item.duration_s)
    peaks = np.zeros(int(keep.sum()), dtype=base_peak_dtype)
    peaks["sample_index"] = np.round(spikes.times[keep] * fs).astype(np.int64)
    ys = recording.get_channel_locations()[:, 1]
    peaks["channel_index"] = np.abs(spikes.depths[keep, None] - ys[None, :]).argmin(axis=1)
    peaks["amplitude"] = spikes.amplitudes[keep]
    locations = np.zeros(len(peaks), dtype=[("x", "float64"), ("y", "float64")])
    locations["y"] = spikes.depths[keep]
    motion = estimate_motion(
        recording, peaks, locations, direction="y", rigid=True, method=method, bin_s=bin_s
    )
    centres = np.asarray(motion.temporal_bins_s[0], dtype=np.float64)
    values = np.asarray(motion.displacement[0], dtype=np.float64)[:, 0]
    half = np.diff(centres).mean() / 2 if len(centres) > 1 else bin_s / 2
    edges = np.concatenate([centres - half, [centres[-1] + half]])
    return edges, values


def dshift_on_bins(item: Input, edges: np.ndarray) -> np.ndarray | None:
    motion = getattr(item.sorting, "motion", None)
    if motion is None:
        return None
    trace = sorter_drift_trace(motion)
    times = trace.times - (item.crop_s[0] if item.crop_s else 0.0)
    return truth_per_bin(edges, times, trace.displacement_um)


def run(with_si: bool) -> list[dict[str, object]]:
    rows = []
    inputs = ks4_inputs() + si_inputs()
    for item in inputs:
        for bin_s in BIN_WIDTHS:
            base = {
                "data": item.data,
                "case": item.case,
                "drift": item.drift,
                "depths": item.depths,
            }
            base |= {"bin_s": bin_s, "spikes": len(item.spikes.times)}
            edges = None
            for method in ("decentralised", "reference"):
                start = time.perf_counter()
                trace = estimate_drift_trace(item.spikes, bin_s=bin_s, method=method)
                seconds = time.perf_counter() - start
                edges = trace.time_edges
                row = score(item, edges, trace.displacement_um, trace.valid)
                rows.append({**base, "method": f"driftqc {method}", **row, "time_s": seconds})
            if with_si and item.depths != "registered":
                for method in ("decentralized", "dredge_ap"):
                    start = time.perf_counter()
                    try:
                        si_edges, values = si_motion(item, bin_s, method)
                    except Exception as exc:  # noqa: BLE001 - report and go on
                        rows.append({**base, "method": f"SI {method}", "verdict": f"error: {exc}"})
                        continue
                    seconds = time.perf_counter() - start
                    row = score(item, si_edges, values, np.ones(len(values), dtype=bool))
                    rows.append({**base, "method": f"SI {method}", **row, "time_s": seconds})
            if item.data == "KS4" and item.depths == "raw":
                values = dshift_on_bins(item, edges)
                if values is not None:
                    row = score(item, edges, values, np.isfinite(values))
                    rows.append({**base, "depths": "(own)", "method": "KS4 dshift", **row})
        print(f"{item.data} {item.case} {item.depths}: done", flush=True)
    return rows


def fmt(value: object, spec: str = ".2f") -> str:
    if isinstance(value, float):
        return "—" if not np.isfinite(value) else format(value, spec)
    return str(value)


def markdown(rows: list[dict[str, object]], command: str, seconds: float) -> str:
    import numpy

    lines = [
        START,
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, "
        f"Python {platform.python_version()}, numpy {numpy.__version__}",
        f"- command: `{command}` ({seconds:.0f} s in total)",
        f"- verdict: step / zig-zag / triangle RMS error ≤ {TARGET_RMS_UM:g} µm (mean removed);"
        f" stable sessions p-p ≤ {TARGET_STABLE_PTP_UM:g} µm; registered-frame rows report "
        "Kilosort's residual (no verdict). Step recovered: found within "
        f"{100 * STEP_TOLERANCE:.0f} % of its size (bins wholly before / after it)",
        "",
        "#### Summary: worst case over the bin widths 2, 5, 10 and 20 s",
        "",
        "| data | case | depths | method | worst RMS err µm | worst |step err| µm "
        "| step recovered | worst p-p µm (no drift) | bin widths passing |",
        "|---|---|---|---|---|---|---|---|---|",
        *summary_lines(rows),
        "",
    ]
    cases = []
    for row in rows:
        key = (row["data"], row["case"], row["drift"])
        if key not in cases:
            cases.append(key)
    header = (
        "| depths | bin s | method | RMS err µm | corr | step recovered | step est / true µm "
        "| step err µm | p-p est / true µm | valid | verdict |"
    )
    for data, case, drift in cases:
        lines += [f"### {data} `{case}` (drift `{drift}`)", "", header, "|" + "---|" * 11]
        for row in rows:
            if (row["data"], row["case"]) != (data, case):
                continue
            step_err = row.get("step_est_um", np.nan) - row.get("step_true_um", np.nan)
            lines.append(
                f"| {row['depths']} | {row['bin_s']:g} | {row['method']} | "
                f"{fmt(row.get('rms_um', np.nan))} | {fmt(row.get('corr', np.nan), '.3f')} | "
                f"{recovered(row)} | {fmt(row.get('step_est_um', np.nan), '.1f')} / "
                f"{fmt(row.get('step_true_um', np.nan), '.0f')} | {fmt(step_err, '+.1f')} | "
                f"{fmt(row.get('ptp_est_um', np.nan), '.1f')} / "
                f"{fmt(row.get('ptp_true_um', np.nan), '.1f')} | {row.get('valid', '—')} | "
                f"{row['verdict']} |"
            )
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def recovered(row: dict[str, object]) -> str:
    """``yes`` when the step was found within 20 % of its size, ``—`` where not measurable."""
    true, found = row.get("step_true_um", np.nan), row.get("step_est_um", np.nan)
    if not (np.isfinite(true) and np.isfinite(found)):
        return "—"
    return "yes" if abs(found - true) <= STEP_TOLERANCE * abs(true) else "no"


def summary_lines(rows: list[dict[str, object]]) -> list[str]:
    groups: dict[tuple, list[dict[str, object]]] = {}
    for row in rows:
        key = (row["data"], row["case"], row["depths"], row["method"])
        groups.setdefault(key, []).append(row)
    lines = []
    for (data, case, depths, method), group in groups.items():
        rms = [r.get("rms_um", np.nan) for r in group]
        steps = [abs(r.get("step_est_um", np.nan) - r.get("step_true_um", np.nan)) for r in group]
        flat = group[0]["drift"] == "none" or depths == "registered"
        ptp = [r.get("ptp_est_um", np.nan) for r in group] if flat else [np.nan]
        passing = sum(str(r["verdict"]) == "pass" for r in group)
        passed = "—" if depths == "registered" else f"{passing}/{len(group)}"
        marks = [recovered(r) for r in group if recovered(r) != "—"]
        found = f"{marks.count('yes')}/{len(marks)}" if marks else "—"
        lines.append(
            f"| {data} | {case} | {depths} | {method} | {fmt(_worst(rms))} | "
            f"{fmt(_worst(steps), '.1f')} | {found} | {fmt(_worst(ptp), '.1f')} | {passed} |"
        )
    return lines


def _worst(values: list[float]) -> float:
    finite = [v for v in values if isinstance(v, float) and np.isfinite(v)]
    return max(finite) if finite else np.nan


def time_session(folder: Path, repeats: int = 3) -> str:
    """Time the default trace on a Kilosort folder (e.g. the 10 M-spike benchmark session)."""
    spikes = read_kilosort(folder).spikes
    lines = [
        f"Speed: `estimate_drift_trace` defaults on `{folder.name}` ({len(spikes.times):,} "
        f"spikes, {float(np.nanmax(spikes.times)):.0f} s), best / median of {repeats} runs "
        "after loading:",
        "",
        "| bin s | decentralised s | reference (former) s |",
        "|---|---|---|",
    ]
    for bin_s in BIN_WIDTHS:
        cells = []
        for method in ("decentralised", "reference"):
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                estimate_drift_trace(spikes, bin_s=bin_s, method=method)
                times.append(time.perf_counter() - start)
            cells.append(f"{min(times):.2f} / {float(np.median(times)):.2f}")
        lines.append(f"| {bin_s:g} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="Markdown file to update")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    parser.add_argument("--no-si", action="store_true", help="skip SpikeInterface's estimate")
    parser.add_argument(
        "--time-session", type=Path, default=None, help="only time the trace on this folder"
    )
    args = parser.parse_args(argv)
    if args.time_session is not None:
        print(time_session(args.time_session))
        return
    start = time.perf_counter()
    rows = run(with_si=not args.no_si)
    command = "python benchmarks/bench_trace_accuracy.py " + " ".join(argv or sys.argv[1:])
    text = markdown(rows, command.strip(), time.perf_counter() - start)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=float))
    if args.out is None:
        print(text)
        return
    old = args.out.read_text() if args.out.is_file() else ""
    if START in old and END in old:
        text = old[: old.index(START)] + text + old[old.index(END) + len(END) :]
    args.out.write_text(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
