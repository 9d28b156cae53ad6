"""Amplitude quantiles of every session, a figure of their distributions, the shared range."""

import json
import sys

import numpy as np
from matplotlib.figure import Figure

from driftqc.qc import amplitude_summary

sys.stderr = open(snakemake.log[0], "w", encoding="utf-8")  # noqa: SIM115

samples, units = {}, {}
for sid, qc_path, sample_path in zip(
    snakemake.params.sessions, snakemake.input.qc, snakemake.input.samples, strict=True
):
    with open(qc_path, encoding="utf-8") as fh:
        record = json.load(fh)
    ok = record["status"] == "ok"
    samples[sid] = np.load(sample_path) if ok else None
    units[sid] = record.get("amplitude_unit")
table, shared = amplitude_summary(
    samples,
    units,
    quantiles=snakemake.params.percentiles,
    shared_quantiles=snakemake.params.shared_percentiles,
)
table.to_csv(snakemake.output.table, sep="\t", index=False)
with open(snakemake.output.shared, "w", encoding="utf-8") as fh:
    json.dump(shared, fh, indent=1)
if shared["warning"]:
    print(f"WARNING: {shared['warning']}", file=sys.stderr)

ids = list(samples)
fig = Figure(figsize=(8, 1.0 + 0.45 * len(ids)), layout="constrained")
ax = fig.add_subplot()
drawn = [i for i, sid in enumerate(ids) if samples[sid] is not None and len(samples[sid])]
data = [np.log10(np.maximum(samples[ids[i]], 1e-12)) for i in drawn]
if data:
    ax.boxplot(data, positions=drawn, orientation="horizontal", whis=(1, 99), showfliers=False)
for i, sid in enumerate(ids):
    if i not in drawn:
        ax.text(0.5, i, "failed" if samples[sid] is None else "no spikes", va="center", color="C3")
if shared["applicable"]:
    for value in (shared["low"], shared["high"]):
        ax.axvline(np.log10(value), color="C0", linestyle="--", linewidth=1)
ax.set_yticks(range(len(ids)), [f"{sid} ({units[sid] or '-'})" for sid in ids])
ax.set_ylim(len(ids) - 0.5, -0.5)
ax.set_xlabel("log10 amplitude (whiskers: 1st-99th percentile; dashed: shared range)")
ax.set_title(shared["warning"] or "Spike amplitudes per session", fontsize=9, wrap=True)
fig.savefig(snakemake.output.figure, dpi=120)
