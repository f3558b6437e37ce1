"""Inter-rater agreement: chance-corrected coefficients, ICC and their intervals.

Pure functions on arrays; no store, no I/O. Humans, LLM judges and programs are all
just raters here.

Data layouts (the ones the literature uses for each coefficient):

- ``percent_agreement``, ``krippendorff_alpha``, ``gwet_ac1``, ``gwet_ac2`` and
  ``to_table`` take *reliability data*: raters x units (a 2-D array or DataFrame), NaN
  or None where a rater did not rate a unit. Labels may be numbers or strings; pass
  ``categories=`` to fix their order (needed for ordinal/interval scales with string
  labels) or to include scale points nobody used.
- ``cohen_kappa`` and ``scott_pi`` take two label sequences over the same units.
- ``fleiss_kappa`` takes a units x categories table of counts (see ``to_table``).
- ``icc`` takes numeric ratings, units x raters (Shrout & Fleiss' layout).

Every coefficient returns a float and raises ``ValueError`` saying why when it is
undefined (fewer than two raters, no unit rated twice, a single category).

Intervals: ``bootstrap_interval`` resamples units for any coefficient;
``krippendorff_alpha_interval`` does the same by reweighting per-unit coincidences
(fast); ``cohen_kappa_interval``, ``fleiss_kappa_interval``, ``gwet_ac1_interval``,
``gwet_ac2_interval`` give the published analytic standard errors and
``icc_interval`` the F-distribution limits. All return an :class:`Estimate`.

At scale: ``summarise`` codes the labels once and keeps the distinct per-unit patterns
with their multiplicities (:class:`AgreementSummary`); every coefficient above is a method
of the summary, summaries of disjoint units add up exactly (``merge_summaries``, ``+``),
and ``summary.bootstrap()`` (:class:`SummaryBootstrap`) resamples units for every
coefficient at once by reweighting patterns.
"""

from ._icc import ICC_FORMS, icc, icc_interval
from ._pair import PairAgreement, pair_agreement
from ._intervals import Estimate, bootstrap_interval
from ._kappa import (
    GWET_WEIGHTS,
    cohen_kappa,
    cohen_kappa_interval,
    fleiss_kappa,
    fleiss_kappa_interval,
    gwet_ac1,
    gwet_ac1_interval,
    gwet_ac2,
    gwet_ac2_interval,
    percent_agreement,
    scott_pi,
    to_table,
)
from ._krippendorff import LEVELS, krippendorff_alpha, krippendorff_alpha_interval
from ._resample import SummaryBootstrap
from ._patterns import from_codes as summary_from_codes
from ._patterns import merge_summaries, summarise
from ._summary import AgreementSummary

__all__ = [
    "AgreementSummary",
    "SummaryBootstrap",
    "GWET_WEIGHTS",
    "ICC_FORMS",
    "LEVELS",
    "Estimate",
    "PairAgreement",
    "bootstrap_interval",
    "cohen_kappa",
    "cohen_kappa_interval",
    "fleiss_kappa",
    "fleiss_kappa_interval",
    "gwet_ac1",
    "gwet_ac1_interval",
    "gwet_ac2",
    "gwet_ac2_interval",
    "icc",
    "icc_interval",
    "krippendorff_alpha",
    "krippendorff_alpha_interval",
    "merge_summaries",
    "pair_agreement",
    "percent_agreement",
    "scott_pi",
    "summarise",
    "summary_from_codes",
    "to_table",
]
