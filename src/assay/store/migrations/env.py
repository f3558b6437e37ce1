"""Alembic environment: migrations run on the connection the store hands over."""

from alembic import context

from assay.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when run by the alembic CLI
    raise RuntimeError("assay migrations run through assay.store.Store, which passes a connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    version_table_schema=None,
)
with context.begin_transaction():
    context.run_migrations()
