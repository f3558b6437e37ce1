"""Reports: one self-contained HTML file with interactive plots, a Markdown summary, or JSON."""

from assay.report.build import Limits, Sections, build_report
from assay.report.render import to_html, to_json, to_markdown

__all__ = ["Limits", "Sections", "build_report", "to_html", "to_json", "to_markdown"]
