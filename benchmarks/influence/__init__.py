"""Influence benchmark: `python -m benchmarks.influence` prints, per model, the cost of the fast
influence engine as ratios to training measured in the same run (R1-R4 of issue 6), with peak
memory; `--json PATH` writes the same rows machine-readably. See docs/performance.md.

For a CLI subcommand call benchmarks.influence.cli.main(argv) (argv: this module's flags)."""
