"""Regenerate irrcac_reference.json: Gwet AC1/AC2 and Fleiss kappa by irrCAC 0.4.4 on seeded data.

irrCAC is the independent implementation assay's coefficients are checked against. It does
not work under pandas 3 (its chained assignments stop writing under copy-on-write, and its
results change silently), so its answers are computed here, once, under pandas 2, and the
tests compare with the stored figures. Run in an environment with pandas < 3:

    python -m venv /tmp/irr --system-site-packages && /tmp/irr/bin/pip install "pandas<3"
    /tmp/irr/bin/pip install --no-deps irrCAC==0.4.4
    /tmp/irr/bin/python tests/stats/data/make_irrcac_reference.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from assay.stats.agreement import GWET_WEIGHTS  # noqa: E402
from tests.stats.test_agreement import _random_reliability  # noqa: E402


def _cells(x: np.ndarray) -> list[list[float | None]]:
    return [[None if np.isnan(v) else float(v) for v in row] for row in x]


def _est(res: dict) -> dict:
    e = res["est"]
    return {k: float(e[k]) for k in ("coefficient_value", "se", "pa") if k in e}


def main() -> None:
    import irrCAC
    import irrCAC.raw as raw

    if int(pd.__version__.split(".")[0]) >= 3:
        sys.exit("irrCAC gives wrong answers under pandas 3: run this under pandas < 3 (see the docstring)")
    cases = []
    for seed in range(4):
        x = _random_reliability(seed, raters=3 + seed % 3, units=35, missing=0.25)
        for weights in GWET_WEIGHTS:
            cases.append({"test": "gwet", "seed": seed, "weights": weights, "ratings": _cells(x),
                          "irrcac": _est(raw.CAC(pd.DataFrame(x.T), weights=weights, digits=15).gwet())})
        y = _random_reliability(seed, raters=4, units=35, missing=0.3)
        cases.append({"test": "fleiss", "seed": seed, "ratings": _cells(y),
                      "irrcac": _est(raw.CAC(pd.DataFrame(y.T), digits=15).fleiss())})
    z = _random_reliability(11, raters=3, units=30, levels=3)
    scale = [1.0, 2.0, 3.0, 4.0, 5.0]
    cases.append({"test": "gwet_scale", "seed": 11, "categories": scale, "ratings": _cells(z),
                  "irrcac": _est(raw.CAC(pd.DataFrame(z.T), categories=scale, digits=15).gwet())})
    out = {"source": f"irrCAC {getattr(irrCAC, '__version__', '0.4.4')} (raw.CAC, digits=15) under pandas "
                     f"{pd.__version__}, numpy {np.__version__}; made by make_irrcac_reference.py",
           "cases": cases}
    path = Path(__file__).with_name("irrcac_reference.json")
    body = ",\n".join(json.dumps(c) for c in cases)  # one case a line
    path.write_text(f'{{"source": {json.dumps(out["source"])},\n"cases": [\n{body}\n]}}\n')
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
