"""`assay redteam import`, `assay redteam detect` and `assay redteam asr`: what broke, and how often."""

from __future__ import annotations
