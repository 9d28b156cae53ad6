"""All sessions on one depth axis (PNG, a row per shank), and one page per session (PDF)."""

import json
import sys

import pandas as pd

from driftqc.errors import DriftQCError
from driftqc.io.cache import load_kept_templates, load_selection, load_template_shanks
from driftqc.plotting.batch import SessionGrid, save_image_pages
from driftqc.qc import choose_scaling, shank_keys, shank_selections, shifts_by_session

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
# lay the grid out from each session's templates, then read, draw and drop one session at a
# time: the figure keeps only what was drawn, so memory stays at one session's spikes
failed, keys, shanks = {}, {}, {}
for sid, path in zip(params.sessions, snakemake.input.selections, strict=True):
    try:
        shanks[sid] = load_template_shanks(path)
        keys[sid] = shank_keys(load_kept_templates(path), shanks[sid], sid)
    except DriftQCError as exc:
        failed[sid] = str(exc)
grid = SessionGrid(
    list(params.sessions),
    keys,
    titles=params.titles,
    map_options={**params.options, "scaling": scaling},
    columns=layout["columns"],
    column_width=layout["column_width"],
    height=layout["height"],
    shifts=shifts,
    note=f"amplitude scale: {note.get('reason') or 'shared'}",
)
for sid, path in zip(params.sessions, snakemake.input.selections, strict=True):
    if sid in failed:
        grid.draw(sid, failed[sid])
        continue
    try:
        grid.draw(sid, shank_selections(load_selection(path), shanks[sid]))
    except DriftQCError as exc:
        grid.draw(sid, str(exc))
grid.finish().savefig(snakemake.output.png, dpi=layout["dpi"])
save_image_pages(snakemake.input.drift_maps, snakemake.output.pdf)
