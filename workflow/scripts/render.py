"""Draw a session's drift map and depth histogram; a failed session gets placeholders."""

import json
import sys

from driftqc.errors import DriftQCError
from driftqc.io.cache import load_selection
from driftqc.plotting import plot_depth_histogram, plot_drift_map
from driftqc.plotting.batch import failure_figure
from driftqc.qc import choose_scaling

sys.stderr = open(snakemake.log[0], "w", encoding="utf-8")  # noqa: SIM115

out, params = snakemake.output, snakemake.params
shared = None
if snakemake.input.get("shared"):
    with open(snakemake.input.shared, encoding="utf-8") as fh:
        shared = json.load(fh)
scaling, note = choose_scaling(params.options["scaling"], shared)
try:
    selection = load_selection(snakemake.input.selection)
except DriftQCError as exc:
    drift_map = failure_figure(params.title, str(exc), size=(10, 7.5))
    histogram = failure_figure(params.title, str(exc), size=(3.5, 7.5))
    note.update(status="failed", error=str(exc))
else:
    drift_map = plot_drift_map(
        selection,
        **{**params.options, "scaling": scaling},
        histogram=params.histogram,
        weight_histogram_by_amplitude=params.weighted,
        title=params.title,
    )
    histogram = plot_depth_histogram(
        selection, weight_by_amplitude=params.weighted, title=params.title
    )
    note.update(status="ok", caption=selection.caption)
for path in [out.drift_map, *out.extra]:
    drift_map.savefig(path, dpi=params.dpi)
histogram.savefig(out.histogram, dpi=params.dpi)
with open(out.sidecar, "w", encoding="utf-8") as fh:
    json.dump({"session": snakemake.wildcards.session, **note}, fh, indent=1)
print(f"{snakemake.wildcards.session}: {note}", file=sys.stderr)
