"""All sessions on one depth axis (PNG), and one page per session (PDF)."""

import json
import sys
import textwrap

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.image import imread

from driftqc.errors import DriftQCError
from driftqc.io.cache import load_selection
from driftqc.plotting import plot_drift_map
from driftqc.qc import choose_scaling

sys.stderr = open(snakemake.log[0], "w", encoding="utf-8")  # noqa: SIM115

params, layout = snakemake.params, snakemake.params.layout
shared = None
if snakemake.input.get("shared"):
    with open(snakemake.input.shared, encoding="utf-8") as fh:
        shared = json.load(fh)
scaling, note = choose_scaling(params.options["scaling"], shared)
options = {**params.options, "scaling": scaling}
n = len(params.sessions)
ncols = layout["columns"] or n
nrows = -(-n // ncols)
grid = Figure(
    figsize=(layout["column_width"] * ncols, layout["height"] * nrows), layout="constrained"
)
axes = grid.subplots(nrows, ncols, sharey=True, squeeze=False).ravel()
low, high = [], []
for ax, sid, path in zip(axes, params.sessions, snakemake.input.selections, strict=False):
    title = params.titles[sid]
    try:
        selection = load_selection(path)
    except DriftQCError as exc:
        ax.text(0.5, 0.5, f"failed:\n{exc}", transform=ax.transAxes, ha="center",
                wrap=True, fontsize=7, color="C3")  # fmt: skip
        ax.set_title(title, fontsize=8, loc="left")
        continue
    plot_drift_map(selection, **options, ax=ax, colorbar=False, title=title)
    width = int(14 * layout["column_width"])  # characters of 7-pt text per column
    ax.set_title(textwrap.fill(f"{title}. {selection.caption}", width), fontsize=7, loc="left")
    low.append(ax.get_ylim()[0])
    high.append(ax.get_ylim()[1])
for ax in axes[n:]:
    ax.set_visible(False)
for ax in axes[1:]:
    ax.set_ylabel("")
if low:
    axes[0].set_ylim(min(low), max(high))
grid.suptitle(f"{n} sessions; amplitude scale: {note.get('reason') or 'shared'}", fontsize=9)
grid.savefig(snakemake.output.png, dpi=layout["dpi"])

# one page per session: the session's own drift map, as drawn by rule render
with PdfPages(snakemake.output.pdf) as pdf:
    for image_path in snakemake.input.drift_maps:
        image = imread(image_path)
        page = Figure(figsize=(image.shape[1] / 150, image.shape[0] / 150))
        page.add_axes((0, 0, 1, 1), frameon=False).imshow(image, interpolation="none")
        page.axes[0].set_axis_off()
        pdf.savefig(page, dpi=150)
