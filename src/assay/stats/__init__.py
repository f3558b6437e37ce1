"""Pure statistics on arrays and DataFrames: agreement, rankings, A/B tests, power.

Nothing here touches the store or does I/O. Import the submodules directly
(``assay.stats.agreement``, ``assay.stats.ranking``, ``assay.stats.abtest``,
``assay.stats.winrate``).
"""
