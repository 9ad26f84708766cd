"""The start of every benchmark: the repository's packages on the import path, offline.

A benchmark begins with

    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

    from benchmarks._start import REPO

The ``sys.path`` line has to stand in the benchmark itself, before this module can be
found: run as a file (``python benchmarks/query.py``), python puts the script's folder
``benchmarks/`` first on the path, not the repository. Run as a module (``python -m
benchmarks.query`` from the repository) the line changes nothing. Importing this module
then, before anything else is imported:

- takes ``benchmarks/`` off the path: its ``ingest.py`` would stand in for the ``ingest``
  package, and ``llm.py`` for any installed package of that name;
- sets the offline and no-telemetry switches, which Hugging Face, Chroma and Gradio read
  when they are imported (the ``kora`` command line does the same first thing).

Until then ``benchmarks/`` stands before the standard library on the path, so no file
here may take a standard module's name.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rag.offline import enforce_offline

BENCHMARKS = Path(__file__).resolve().parent
REPO = BENCHMARKS.parent

sys.path[:] = [str(REPO)] + [
    entry for entry in sys.path if Path(entry or ".").resolve() not in (REPO, BENCHMARKS)
]
enforce_offline()
