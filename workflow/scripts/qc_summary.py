"""One QC table of all sessions, failed ones marked."""

import json
import sys

from driftqc.qc import qc_table

sys.stderr = open(snakemake.log[0], "w", encoding="utf-8")  # noqa: SIM115

records = {}
for sid, path in zip(snakemake.params.sessions, snakemake.input.qc, strict=True):
    with open(path, encoding="utf-8") as fh:
        records[sid] = json.load(fh)
table = qc_table(records, snakemake.params.details)
table.to_csv(snakemake.output.table, sep="\t", index=False)
for row in table.itertuples():
    if row.status != "ok":
        print(f"{row.session}: {row.error}", file=sys.stderr)
