"""``python -m nctheory.check``: the entry point; the command lives in :mod:`nctheory.cli.check`."""

from nctheory.cli.check import main

if __name__ == "__main__":
    raise SystemExit(main())
