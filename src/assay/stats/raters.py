"""Rater analytics: who agrees with whom, who is harsh or lenient, who drifts.

Input is long ratings, one row per (unit, rater): a DataFrame with columns ``unit``,
``rater``, ``value`` and, for :func:`drift`, ``time`` (names configurable with the
``unit=``, ``rater=``, ``value=``, ``time=`` keywords). A unit is whatever was rated
(a response x dimension); raters may be humans, LLM judges or programs. Rows with a
missing value are ignored; two rows for the same (unit, rater) are an error (keep the
superseding judgment before calling). Labels are numbers or strings; ``categories``
gives the scale order for ordinal string labels.

Every function returns a DataFrame. Where a coefficient is undefined for one rater
(e.g. kappa when a rater used a single label) its cell is NaN and a warning says so,
so one degenerate rater does not hide the others.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd

from ._kappa import cohen_kappa
from ._labels import encode


def _long(ratings: pd.DataFrame, unit: str, rater: str, value: str,
          extra: Sequence[str] = ()) -> pd.DataFrame:
    missing = [c for c in (unit, rater, value, *extra) if c not in ratings.columns]
    if missing:
        raise ValueError(f"ratings lack column(s) {missing}; have {list(ratings.columns)}")
    df = ratings[[unit, rater, value, *extra]].rename(
        columns={unit: "unit", rater: "rater", value: "value"})
    df = df[df["value"].notna()].reset_index(drop=True)
    dup = df.duplicated(["unit", "rater"])
    if dup.any():
        first = df.loc[dup].iloc[0]
        raise ValueError(f"{int(dup.sum())} duplicate (unit, rater) ratings, e.g. unit "
                         f"{first['unit']!r} by rater {first['rater']!r}")
    if df.empty:
        raise ValueError("no ratings")
    return df


def to_matrix(ratings: pd.DataFrame, *, unit: str = "unit", rater: str = "rater",
              value: str = "value") -> pd.DataFrame:
    """Raters x units matrix (NaN = not rated), the layout agreement functions take.

    >>> df = pd.DataFrame({"unit": [1, 1, 2], "rater": ["ann", "bob", "ann"],
    ...                    "value": ["good", "bad", "good"]})
    >>> to_matrix(df).loc["bob"].tolist()
    ['bad', nan]
    """
    df = _long(ratings, unit, rater, value)
    return df.pivot(index="rater", columns="unit", values="value")


def _coded(df: pd.DataFrame, categories):
    coded = encode(df["value"].to_numpy(), categories)
    codes = coded.codes.ravel()
    u_codes, units = pd.factorize(df["unit"])
    counts = np.zeros((len(units), max(coded.n_categories, 1)), dtype=np.int64)
    np.add.at(counts, (u_codes, codes), 1)
    return codes, u_codes, counts, coded


def _loo(df: pd.DataFrame, categories):
    """Per rating: the others' majority label (-1 none, -2 tie) and the others' mean value."""
    codes, u_codes, counts, coded = _coded(df, categories)
    others = counts[u_codes].copy()
    others[np.arange(len(codes)), codes] -= 1
    top = others.max(axis=1)
    consensus = np.argmax(others, axis=1)
    consensus[(others == top[:, None]).sum(axis=1) > 1] = -2
    consensus[top == 0] = -1
    values = coded.values()[codes]
    sums = np.bincount(u_codes, weights=values)
    n = counts.sum(axis=1)[u_codes] - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        other_mean = (sums[u_codes] - values) / n
    return codes, consensus, values - other_mean, coded


def _kappa_or_nan(a, b, who: str) -> float:
    try:
        return cohen_kappa(a, b)
    except ValueError as e:
        warnings.warn(f"kappa undefined for {who}: {e}", RuntimeWarning, stacklevel=3)
        return float("nan")


def rater_vs_consensus(ratings: pd.DataFrame, *, categories: Sequence | None = None,
                       unit: str = "unit", rater: str = "rater",
                       value: str = "value") -> pd.DataFrame:
    """Each rater against the leave-one-out majority of the *other* raters.

    Per rater: ``n`` units compared, ``accuracy`` (share equal to the others' majority),
    ``kappa`` (Cohen's, rater vs that consensus) and ``n_tied`` units skipped because
    the other raters tied. Units no other rater rated are not counted.
    """
    df = _long(ratings, unit, rater, value)
    codes, consensus, _, _ = _loo(df, categories)
    df = df.assign(code=codes, consensus=consensus)
    rows = {}
    for name, g in df.groupby("rater", sort=True):
        ok = g[g["consensus"] >= 0]
        rows[name] = {
            "n": len(ok),
            "accuracy": float((ok["code"] == ok["consensus"]).mean()) if len(ok) else np.nan,
            "kappa": _kappa_or_nan(ok["code"].to_numpy(), ok["consensus"].to_numpy(),
                                   f"rater {name!r} vs consensus") if len(ok) else np.nan,
            "n_tied": int((g["consensus"] == -2).sum()),
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("rater")


def rater_vs_gold(ratings: pd.DataFrame, gold, *, unit: str = "unit", rater: str = "rater",
                  value: str = "value") -> pd.DataFrame:
    """Each rater against gold labels: ``n`` gold units rated, ``accuracy``, ``kappa``.

    ``gold`` maps unit -> true label (a Series indexed by unit, or a dict).
    """
    df = _long(ratings, unit, rater, value)
    gold = pd.Series(gold).dropna()
    df = df[df["unit"].isin(gold.index)]
    if df.empty:
        raise ValueError("no rating falls on a gold unit")
    df = df.assign(gold=gold.reindex(df["unit"]).to_numpy())
    rows = {}
    for name, g in df.groupby("rater", sort=True):
        a, b = g["value"].to_numpy(), g["gold"].to_numpy()
        rows[name] = {"n": len(g), "accuracy": float(np.mean(a == b)),
                      "kappa": _kappa_or_nan(a, b, f"rater {name!r} vs gold")}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("rater")


def severity(ratings: pd.DataFrame, *, categories: Sequence | None = None,
             unit: str = "unit", rater: str = "rater", value: str = "value") -> pd.DataFrame:
    """Severity / leniency: each rater's mean offset from the other raters on shared units.

    A rating's offset is its value minus the mean of the other raters' values on that
    unit (numeric labels, or positions 0..K-1 in ``categories`` for ordinal strings).
    ``mean_offset`` > 0 means lenient (rates higher than peers), < 0 severe; ``se`` is
    its standard error (sd / sqrt(n)). Units nobody else rated are skipped. This is the
    observed-score analogue of the rater severity term in many-facet Rasch models
    (Linacre 1989), without the model.
    """
    df = _long(ratings, unit, rater, value)
    coded_check = encode(df["value"].to_numpy(), categories)
    if not coded_check.numeric and categories is None:
        raise ValueError("severity needs numeric labels or categories= giving the scale order")
    _, _, offset, _ = _loo(df, categories)
    df = df.assign(offset=offset).dropna(subset=["offset"])
    g = df.groupby("rater", sort=True)["offset"]
    out = pd.DataFrame({"n": g.size(), "mean_offset": g.mean(), "se": g.std(ddof=1) / np.sqrt(g.size())})
    return out.rename_axis("rater")


def drift(ratings: pd.DataFrame, *, freq: str | None = None, windows: int | None = None,
          categories: Sequence | None = None, unit: str = "unit", rater: str = "rater",
          value: str = "value", time: str = "time") -> pd.DataFrame:
    """Each rater's agreement with the consensus and offset, per time window.

    Windows are calendar periods (``freq``, a pandas period alias such as ``"D"``,
    ``"W"``, ``"M"``; needs datetime ``time``) or ``windows`` equal-width bins over the
    time range (any numeric or datetime ``time``). The consensus and offsets are
    leave-one-out over *all* of a unit's other ratings, whatever their time. Returns one
    row per (rater, window): ``n``, ``accuracy`` (vs the others' majority; NaN where
    the others tied on every unit), ``mean_offset`` (NaN for non-numeric labels without
    ``categories``). A trend in either column over windows is drift.
    """
    if (freq is None) == (windows is None):
        raise ValueError("give exactly one of freq= (calendar periods) or windows= (bins)")
    df = _long(ratings, unit, rater, value, extra=(time,)).rename(columns={time: "time"})
    codes, consensus, offset, coded = _loo(df, categories)
    if not coded.numeric and categories is None:
        offset = np.full(len(df), np.nan)
    if freq is not None:
        t = pd.to_datetime(df["time"])
        window = t.dt.to_period(freq).dt.start_time
    else:
        if windows < 1:
            raise ValueError("windows must be at least 1")
        window = pd.cut(df["time"], bins=windows, include_lowest=True)
    compared = consensus >= 0
    df = df.assign(window=window, hit=np.where(compared, codes == consensus, np.nan),
                   offset=offset)
    g = df.groupby(["rater", "window"], sort=True, observed=True)
    return pd.DataFrame({"n": g.size(), "accuracy": g["hit"].mean(),
                         "mean_offset": g["offset"].mean()})


def agreement_matrix(ratings: pd.DataFrame, *, statistic: str = "cohen_kappa", weights=None,
                     categories: Sequence | None = None, min_overlap: int = 2,
                     unit: str = "unit", rater: str = "rater",
                     value: str = "value") -> pd.DataFrame:
    """Rater x rater matrix of pairwise agreement on the units both rated.

    ``statistic``: ``"cohen_kappa"`` (with ``weights`` as in ``cohen_kappa``),
    ``"percent"`` (share of shared units labelled alike) or ``"overlap"`` (number of
    shared units). Pairs sharing fewer than ``min_overlap`` units, or whose kappa is
    undefined, are NaN. The diagonal is 1 (``overlap``: units the rater rated).
    """
    if statistic not in ("cohen_kappa", "percent", "overlap"):
        raise ValueError(f"statistic must be 'cohen_kappa', 'percent' or 'overlap', got {statistic!r}")
    wide = to_matrix(ratings, unit=unit, rater=rater, value=value)
    return wide_agreement_matrix(wide.to_numpy(), list(wide.index), statistic=statistic, weights=weights,
                                 categories=categories, min_overlap=min_overlap)


def wide_agreement_matrix(wide: np.ndarray, names: Sequence, *, statistic: str = "cohen_kappa", weights=None,
                          categories: Sequence | None = None, min_overlap: int = 2) -> pd.DataFrame:
    """:func:`agreement_matrix` on a raters x units array (missing = NaN or None), rows named by ``names``."""
    if statistic not in ("cohen_kappa", "percent", "overlap"):
        raise ValueError(f"statistic must be 'cohen_kappa', 'percent' or 'overlap', got {statistic!r}")
    names = list(names)
    out = pd.DataFrame(np.nan, index=pd.Index(names, name="rater"), columns=names)
    rated = ~pd.isna(wide)
    for i, name in enumerate(names):
        out.iloc[i, i] = float(rated[i].sum()) if statistic == "overlap" else 1.0
    for (i, a), (k, b) in combinations(enumerate(names), 2):
        both = rated[i] & rated[k]
        n = int(both.sum())
        if statistic == "overlap":
            val = float(n)
        elif n < max(min_overlap, 1):
            continue
        elif statistic == "percent":
            val = float(np.mean(wide[i][both] == wide[k][both]))
        else:
            try:
                val = cohen_kappa(wide[i][both], wide[k][both], weights=weights, categories=categories)
            except ValueError:
                continue
        out.loc[a, b] = out.loc[b, a] = val
    return out


def confusion_matrix(ratings: pd.DataFrame, *, raters: tuple | None = None,
                     categories: Sequence | None = None, normalize: bool = False,
                     unit: str = "unit", rater: str = "rater",
                     value: str = "value") -> pd.DataFrame:
    """Which labels raters confuse with which.

    Without ``raters``: for every unit, every ordered pair of *different* raters
    contributes one count to (label of the first, label of the second), so the matrix
    is symmetric and its diagonal holds agreements (Krippendorff's coincidence matrix
    before the 1/(m_u - 1) weighting). With ``raters=(a, b)``: rows are a's labels,
    columns b's, on the units both rated. ``normalize=True`` divides each row by its
    total: the chance that the other rater says k when one says c.
    """
    df = _long(ratings, unit, rater, value)
    if raters is not None:
        a, b = raters
        wide = to_matrix(df)
        for r in (a, b):
            if r not in wide.index:
                raise ValueError(f"rater {r!r} has no ratings")
        coded = encode(wide.loc[[a, b]].to_numpy(), categories)
        both = (coded.codes >= 0).all(axis=0)
        k = coded.n_categories
        table = np.bincount(coded.codes[0, both] * k + coded.codes[1, both],
                            minlength=k * k).reshape(k, k)
        index_name, col_name = f"{a}", f"{b}"
    else:
        _, _, counts, coded = _coded(df, categories)
        table = counts.T @ counts - np.diag(counts.sum(axis=0))
        index_name, col_name = "label", "other rater's label"
    cats = list(coded.categories)
    out = pd.DataFrame(table.astype(float if normalize else np.int64),
                       index=pd.Index(cats, name=index_name),
                       columns=pd.Index(cats, name=col_name))
    if normalize:
        totals = out.sum(axis=1)
        out = out.div(totals.where(totals > 0), axis=0)
    return out
