"""``python -m nctheory.appendix``: the entry point; the command lives in :mod:`nctheory.cli.appendix`."""

from nctheory.cli.appendix import main

if __name__ == "__main__":
    raise SystemExit(main())
