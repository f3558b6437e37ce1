"""Getting data in and out: readers, the mapped importer, record exports, whole-store folders."""

from assay.io.guard import MAX_DEPTH
from assay.io.importer import FieldMap, ImportSummary, OnInvalid, import_file
from assay.io.manifest import EXPORTED, LEFT_OUT, is_store_export
from assay.io.native import StoreImport, import_records, import_store
from assay.io.readers import read_rows
from assay.io.writers import EXPORT_FORMATS, export, export_store

__all__ = ["EXPORTED", "EXPORT_FORMATS", "LEFT_OUT", "MAX_DEPTH", "FieldMap", "ImportSummary", "OnInvalid",
           "StoreImport", "export", "export_store", "import_file", "import_records", "import_store", "is_store_export",
           "read_rows"]
