"""`assay redteam run` and `assay redteam attacks`: attack a target model."""

from __future__ import annotations
