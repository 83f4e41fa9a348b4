"""``python -m nctheory.reproduce``: see :mod:`nctheory.reproduce.cli`."""

import sys

from nctheory.reproduce.cli import main

sys.exit(main())
