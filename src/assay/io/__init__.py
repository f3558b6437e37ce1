"""Getting data in and out: readers, the mapped importer, record exports."""

from assay.io.importer import FieldMap, ImportSummary, import_file, import_records
from assay.io.readers import read_rows
from assay.io.writers import EXPORT_FORMATS, export

__all__ = ["EXPORT_FORMATS", "FieldMap", "ImportSummary", "export", "import_file", "import_records", "read_rows"]
