"""Importing other people's verdicts: pairwise labels with a field mapping, and published formats.

``import_labels(store, file, reader, dataset=...)`` reads a file through a reader (a
:class:`MappedReader` over :class:`PairFields`, or a preset from :func:`reader_for`) and
writes items, responses, raters, comparisons and judgments in one transaction, matching
prompts and answers already in the store by content (see :mod:`assay.io.labels._writer`).
"""

from assay.io.labels._parsed import Answer, Parsed, RaterRef, RowError, Score, Verdict
from assay.io.labels._writer import LabelSummary, RowReader, import_labels
from assay.io.labels.labelmaps import NAMES as LABEL_MAPS
from assay.io.labels.labelmaps import LabelMap
from assay.io.labels.mapped import MappedReader, PairFields
from assay.io.labels.presets import Preset, PresetOptions, names, preset, reader_for

__all__ = ["LABEL_MAPS", "Answer", "LabelMap", "LabelSummary", "MappedReader", "PairFields", "Parsed",
           "Preset", "PresetOptions", "RaterRef", "RowError", "RowReader", "Score", "Verdict", "import_labels",
           "names", "preset", "reader_for"]
