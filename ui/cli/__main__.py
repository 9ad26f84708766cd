"""`python -m ui.cli`, as the tests and benchmarks run the command line."""

import sys

from ui.cli import main

sys.exit(main())
