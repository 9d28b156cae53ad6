"""Per-session QC numbers (JSON) and a sample of its kept amplitudes for the summary."""

import json
import sys

import numpy as np

from driftqc.errors import DriftQCError
from driftqc.io.cache import FailedSessionError, load_selection, load_spike_cache
from driftqc.qc import amplitude_sample, failed_qc, session_qc

sys.stderr = open(snakemake.log[0], "w", encoding="utf-8")  # noqa: SIM115

sample = np.empty(0, dtype=np.float32)
try:
    spikes = load_spike_cache(snakemake.input.cache).spikes
    selection = load_selection(snakemake.input.selection)
    record = session_qc(spikes, selection, quantiles=snakemake.params.percentiles)
    sample = amplitude_sample(selection.kept.amplitudes)
except FailedSessionError as exc:
    record = failed_qc(str(exc), exc.stage)
except DriftQCError as exc:
    record = failed_qc(str(exc), "qc")
with open(snakemake.output.qc, "w", encoding="utf-8") as fh:
    json.dump(record, fh, indent=1)
np.save(snakemake.output.sample, sample)
print(f"{snakemake.wildcards.session}: {record['status']}", file=sys.stderr)
