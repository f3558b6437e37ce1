"""The web app is built from the store, annotation and its pages' own reads: no judge or run code."""

from __future__ import annotations

import json
import os
import subprocess
import sys

CODE = """
import json, sys
from assay.server.app import create_app
create_app()
pages = [m for m in ("assay.server.lead", "assay.server.rater", "assay.server.redteam_pages") if m in sys.modules]
print(json.dumps([pages, sorted(m for m in sys.modules if m.startswith(("assay.judges", "assay.runs")))]))
"""


def test_building_the_web_app_imports_no_judge_or_run_module(tmp_path):
    env = {**os.environ, "ASSAY_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"}
    proc = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    pages, loaded = json.loads(proc.stdout)
    assert len(pages) == 3  # the app was built with all its pages
    assert loaded == []
