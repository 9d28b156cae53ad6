"""All sessions on one depth axis (PNG, a row per shank), and one page per session (PDF)."""

import json
import sys

import pandas as pd

from driftqc.errors import DriftQCError
from driftqc.io.cache import load_selection, load_template_shanks
from driftqc.plotting.batch import plot_session_grid, save_image_pages
from driftqc.qc import choose_scaling, shank_selections, shifts_by_session

sys.stderr = open(snakemake.log[0], "w", encoding="utf-8")  # noqa: SIM115

params, layout = snakemake.params, snakemake.params.layout
shared, shifts = None, None
if snakemake.input.get("shared"):
    with open(snakemake.input.shared, encoding="utf-8") as fh:
        shared = json.load(fh)
if snakemake.input.get("shifts"):
    shifts = shifts_by_session(
        pd.read_csv(snakemake.input.shifts, sep="\t", dtype={"session": str})
    )
scaling, note = choose_scaling(params.options["scaling"], shared)
panels = {}
for sid, path in zip(params.sessions, snakemake.input.selections, strict=True):
    try:
        panels[sid] = shank_selections(load_selection(path), load_template_shanks(path))
    except DriftQCError as exc:
        panels[sid] = str(exc)
grid = plot_session_grid(
    panels,
    titles=params.titles,
    map_options={**params.options, "scaling": scaling},
    columns=layout["columns"],
    column_width=layout["column_width"],
    height=layout["height"],
    shifts=shifts,
    note=f"amplitude scale: {note.get('reason') or 'shared'}",
)
grid.savefig(snakemake.output.png, dpi=layout["dpi"])
save_image_pages(snakemake.input.drift_maps, snakemake.output.pdf)
