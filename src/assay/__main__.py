"""`python -m assay` is the `assay` command."""

from assay.cli import _console_main

_console_main()
