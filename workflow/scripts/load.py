"""Read a session's Kilosort folder once into the compact spike cache (or a failure record)."""

import sys

from driftqc.io.cache import cache_sorting

sys.stderr = open(snakemake.log[0], "w", encoding="utf-8")  # noqa: SIM115

options = snakemake.params.options
error = cache_sorting(snakemake.params.folder, snakemake.output.cache, **options)
print(f"{options['name']}: {'FAILED: ' + error if error else 'cached'}", file=sys.stderr)
