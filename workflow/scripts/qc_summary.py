"""The QC table of all sessions (drift verdicts joined), and the per-shank drift QC table."""

import json
import sys

import pandas as pd

from driftqc.metrics import QCThresholds
from driftqc.qc import drift_qc_table, qc_table, with_drift_columns

sys.stderr = open(snakemake.log[0], "w", encoding="utf-8")  # noqa: SIM115


def read(paths):
    records = []
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            records.append(json.load(fh))
    return dict(zip(snakemake.params.sessions, records, strict=True))


records = read(snakemake.input.qc)
drift_records = read(snakemake.input.drift) if snakemake.input.drift else None
shifts = None
if snakemake.input.shifts:
    shifts = pd.read_csv(snakemake.input.shifts, sep="\t", dtype={"session": str, "shank": str})
thresholds = QCThresholds.from_mapping(snakemake.params.thresholds)
drift = drift_qc_table(drift_records or dict.fromkeys(records), shifts, thresholds)
table = with_drift_columns(qc_table(records, snakemake.params.details), drift)
table.to_csv(snakemake.output.table, sep="\t", index=False)
drift.to_csv(snakemake.output.drift, sep="\t", index=False)
for row in table.itertuples():
    if row.status != "ok":
        print(f"{row.session}: {row.error}", file=sys.stderr)
