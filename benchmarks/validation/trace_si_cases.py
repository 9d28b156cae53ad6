"""Spike depths for the drift-trace validation, localised by SpikeInterface on drifting recordings.

Not run in CI. The SpikeInterface cases of ``make_si_cases.py`` keep the analyzer's
``spike_locations`` computed with SpikeInterface's default (``center_of_mass`` on each unit's
fixed sparse channel set), which follows only about 40 % of the imposed motion (the channel set
does not move with the unit), so no drift estimator can recover the full displacement from
them. This script localises the same spikes the way SpikeInterface's motion pipeline does
(``localize_peaks(method="monopolar_triangulation")``, default options) and saves plain arrays
the drift-trace benchmark reads:

the ground-truth spikes (times from ``ground_truth.npz``, peak channel = the unit's extremum
channel on its average template, amplitude = ``spike_amplitudes``). (Peak detection with
``locally_exclusive`` needs numba, which the SpikeInterface venv does not have.)

It also simulates the two off-centre steps (``step25``, ``step75``: +30 µm at 25 % / 75 % of
the 60-s session) with ``make_si_cases.make_case`` (same seed, units and probe as ``step50``).

Run from the repository root with the SpikeInterface venv (see ``make_si_cases.py``)::

    /work/venvs/si/bin/python benchmarks/validation/trace_si_cases.py

Outputs (git-ignored scratch)::

    benchmarks/_data/validation/trace_si/<case>/spikes_gt.npz
        times_s, depth_um, x_um, amplitude, unit, sample_index,
        channel_index
    benchmarks/_data/validation/trace_si/<case>/source   path of the case folder used
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SI_ROOT = ROOT / "benchmarks" / "_data" / "validation" / "si"
OUT_ROOT = ROOT / "benchmarks" / "_data" / "validation" / "trace_si"
JOB_KWARGS = dict(n_jobs=1, chunk_duration="1s", progress_bar=False)
EXISTING = ("stable", "step50", "zigzag15", "shift25", "other_units")
NEW = {
    "step25": (42, 60.0, 20, "step:0.25:30", 0.0),
    "step75": (42, 60.0, 20, "step:0.75:30", 0.0),
}


def case_folder(name: str) -> Path:
    """The folder with ``recording/``, ``analyzer/`` and ``ground_truth.npz`` of a case."""
    if name in NEW:
        folder = OUT_ROOT / name / "case"
        if not (folder / "ground_truth.npz").is_file():
            sys.path.insert(0, str(ROOT / "benchmarks" / "validation"))
            import make_si_cases

            make_si_cases.make_case(name, *NEW[name], folder, copy_binary=False)
        return folder
    return SI_ROOT / name


def localise(name: str) -> None:
    import spikeinterface.core as si
    from spikeinterface.core.base import base_peak_dtype
    from spikeinterface.sortingcomponents.peak_localization import localize_peaks

    t0 = time.time()
    folder = case_folder(name)
    out = OUT_ROOT / name
    out.mkdir(parents=True, exist_ok=True)
    (out / "source").write_text(str(folder.relative_to(ROOT)) + "\n")
    recording = si.load(folder / "recording")
    truth = np.load(folder / "ground_truth.npz")
    fs = float(truth["fs"])
    templates = np.load(folder / "analyzer" / "extensions" / "templates" / "average.npy")
    extremum = np.ptp(templates, axis=1).argmax(axis=1)
    units = truth["spike_units"].astype(np.int64)
    gt = np.zeros(len(units), dtype=base_peak_dtype)
    gt["sample_index"] = truth["spike_times_samples"]
    gt["channel_index"] = extremum[units]
    amps = np.load(folder / "analyzer" / "extensions" / "spike_amplitudes" / "amplitudes.npy")
    gt["amplitude"] = amps
    for label, vector, unit in (("gt", gt, units),):
        loc = localize_peaks(
            recording, vector, method="monopolar_triangulation", job_kwargs=JOB_KWARGS
        )
        np.savez_compressed(
            out / f"spikes_{label}.npz",
            times_s=vector["sample_index"] / fs,
            depth_um=loc["y"].astype(np.float64),
            x_um=loc["x"].astype(np.float64),
            amplitude=np.abs(vector["amplitude"]).astype(np.float64),
            unit=unit,
            sample_index=vector["sample_index"],
            channel_index=vector["channel_index"],
        )
        print(f"{name} {label}: {len(vector)} spikes", flush=True)
    print(f"{name}: done in {time.time() - t0:.0f} s", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=["step50", *NEW, "zigzag15", "stable"])
    args = parser.parse_args(argv)
    for name in args.cases:
        localise(name)


if __name__ == "__main__":
    main()
