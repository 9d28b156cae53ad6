"""Shift of every session from the reference session (per shank), and the kymograph."""

import sys

from driftqc.errors import DriftQCError
from driftqc.io.cache import load_selection, load_template_shanks
from driftqc.metrics import DepthCounts
from driftqc.plotting.batch import plot_shift_kymographs
from driftqc.qc import batch_session_shifts, shank_tables

sys.stderr = open(snakemake.log[0], "w", encoding="utf-8")  # noqa: SIM115

tables = {}
for sid, path in zip(snakemake.params.sessions, snakemake.input.selections, strict=True):
    try:  # each session is reduced to its depth counts before the next is read
        spikes = shank_tables(load_selection(path).kept, load_template_shanks(path))
        tables[sid] = {key: DepthCounts.of(table) for key, table in spikes.items()}
        del spikes
    except DriftQCError as exc:
        tables[sid] = None
        print(f"{sid}: not compared ({exc})", file=sys.stderr)
table, shifts = batch_session_shifts(
    tables, reference=snakemake.params.reference, max_shift_um=snakemake.params.max_shift_um
)
table.to_csv(snakemake.output.table, sep="\t", index=False)
failed = [sid for sid, t in tables.items() if t is None]
plot_shift_kymographs(shifts, failed).savefig(snakemake.output.figure, dpi=120)
