# driftqc workflow entry point.
#
# The workflow itself lives in workflow/Snakefile (the standard Snakemake layout); this file
# includes it so that `snakemake` run from the repository root also picks up
# profiles/default/ (workflow profiles are looked up beside the main Snakefile).


include: "workflow/Snakefile"


# An included file's `default_target` does not carry over to the including file, so the
# target of a plain `snakemake` run is named here: everything rule `all` asks for.
rule default:
    input:
        rules.all.input,
    default_target: True
