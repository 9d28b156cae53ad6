"""Apply the label and amplitude filters and decimation to a cached session."""

import sys

from driftqc.io.cache import cache_selection

sys.stderr = open(snakemake.log[0], "w", encoding="utf-8")  # noqa: SIM115

options = snakemake.params.options
error = cache_selection(snakemake.input.cache, snakemake.output.selection, **options)
print(f"{snakemake.wildcards.session}: {'FAILED: ' + error if error else 'ok'}", file=sys.stderr)
