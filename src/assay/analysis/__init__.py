"""Analyses over the store: what ``assay.stats`` computes, applied to stored judgments and comparisons.

Each module reads records through the store and returns plain data for the CLI and the report:
``frames`` (judgments and comparisons as DataFrames), ``agreement`` (every coefficient that fits
a dimension's scale), ``ranking`` (leaderboards), ``abtest`` (is model B better than A),
``calibration`` (calibration rounds) and ``judge_trust`` (how far a judge can be trusted beside
the humans). Nothing is imported here, so importing one module loads only what it needs.
"""
