"""`python -m assay` is the `assay` command."""

from assay.cli import console_main

console_main()
