"""Command-line entry points: ``python -m nctheory.check`` (optimizers and theorems) and
``python -m nctheory.appendix``. Argument parsing and exit codes live here only."""
