"""Make results.json: run the real promptfoo on promptfooconfig.yaml against assay's scripted model server.

promptfoo is an npm package (about 1.5 GB installed), so the suite reads the committed
output instead of running it. To make it again (Node.js 20.20+ and npm, from this folder):

    python3 make_results.py                 # PROMPTFOO_CMD=promptfoo: an installed promptfoo instead of npx

The candidate names the capital for France and Germany and a wrong city for Italy; the
baseline never knows; the judge passes an output that names the rubric's city.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from assay.testing import ScriptedServer

PROMPTFOO = "promptfoo@0.121.20"  # the newest release that runs on Node.js 20
HERE = Path(__file__).resolve().parent


def answer(body: dict) -> str:
    last = body["messages"][-1]["content"]
    if body["model"] == "judge":
        output = re.search(r"<Output>(.*?)</Output>", last, re.S)
        city = re.search(r"Names (\w+) as the capital", last)
        ok = bool(output and city and city.group(1) in output.group(1))
        reason = f"the output {'names' if ok else 'does not name'} {city.group(1) if city else 'the city'}"
        return json.dumps({"reason": reason, "pass": ok, "score": 1.0 if ok else 0.0})
    if body["model"] == "baseline":
        return "I am not sure."
    return {"France": "Paris is the capital of France.", "Germany": "Berlin."}.get(
        next((c for c in ("France", "Germany") if c in last), ""), "Milan, of course, is the capital of Italy.")


def main() -> int:
    with ScriptedServer(handler=answer) as srv, tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, OPENAI_BASE_URL=srv.base_url, OPENAI_API_KEY="scripted",
                   PROMPTFOO_DISABLE_TELEMETRY="1", PROMPTFOO_DISABLE_UPDATE="1", PROMPTFOO_CACHE_ENABLED="false",
                   PROMPTFOO_CONFIG_DIR=home)
        cmd = [*os.environ.get("PROMPTFOO_CMD", f"npx --yes {PROMPTFOO}").split(), "eval", "-c", "promptfooconfig.yaml", "-o", "results.json", "--no-cache",
               "--no-progress-bar", "-j", "1"]
        done = subprocess.run(cmd, cwd=HERE, env=env)
    return 0 if (HERE / "results.json").exists() else done.returncode or 1


if __name__ == "__main__":
    sys.exit(main())
