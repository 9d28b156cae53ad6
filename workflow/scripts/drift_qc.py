"""Measure a session's drift (trace, events, per-unit drift) and draw it; failures say why."""

import json
import sys

import pandas as pd

from driftqc.errors import DriftQCError
from driftqc.io.cache import FailedSessionError, load_motion, load_selection, load_template_shanks
from driftqc.metrics import QCThresholds
from driftqc.plotting.batch import failure_figure, plot_session_drift_qc
from driftqc.qc import (
    DriftQCOptions,
    failed_drift_qc,
    session_drift_qc,
    shank_selections,
    trace_table,
)

sys.stderr = open(snakemake.log[0], "w", encoding="utf-8")  # noqa: SIM115

out, params, sid = snakemake.output, snakemake.params, snakemake.wildcards.session
try:
    selection = load_selection(snakemake.input.selection)
    shanks = load_template_shanks(snakemake.input.selection)
    result = session_drift_qc(
        selection,
        template_shanks=shanks,
        motion=load_motion(snakemake.input.cache),
        options=DriftQCOptions(**params.options),
        thresholds=QCThresholds.from_mapping(params.thresholds),
    )
    raw = result.raw_selection
    figure = plot_session_drift_qc(
        result,
        shank_selections(selection, shanks),
        shank_selections(raw, shanks) if raw is not None else None,
        title=params.title,
        overlay=params.overlay,
        show_events=params.options["events"],
        map_options=params.map_options,
    )
    record = result.record
    tables = {
        out.trace: trace_table(result),
        out.events: result.events,
        out.units: result.unit_drift,
    }
except DriftQCError as exc:
    stage = exc.stage if isinstance(exc, FailedSessionError) else "drift_qc"
    record = failed_drift_qc(str(exc), stage)
    figure = failure_figure(params.title, str(exc))
    failed = pd.DataFrame([{"session": sid, "status": "failed", "error": record["error"]}])
    tables = dict.fromkeys((out.trace, out.events, out.units), failed)
for path, table in tables.items():
    table.to_csv(path, sep="\t", index=False)
figure.savefig(out.figure, dpi=params.dpi)
with open(out.record, "w", encoding="utf-8") as fh:
    json.dump({"session": sid, **record}, fh, indent=1)
print(f"{sid}: {record['status']} {record.get('error') or record.get('flags')}", file=sys.stderr)
