"""``python -m nctheory.sweep SPEC``: see :mod:`nctheory.sweep.cli`."""

import sys

from nctheory.sweep.cli import main

sys.exit(main())
