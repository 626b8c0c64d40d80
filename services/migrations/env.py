"""Alembic environment: runs migrations on the engine the app itself uses."""

from alembic import context
from sqlmodel import SQLModel

import services.models  # noqa: F401  (registers the tables)
from services import search_index
from services.db import engine_for

target_metadata = SQLModel.metadata
url = context.config.get_main_option("sqlalchemy.url")

with engine_for(url).connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        include_name=search_index.include_name,
    )
    with context.begin_transaction():
        before = context.get_context().get_current_revision()
        context.run_migrations()
        # A batch migration that rebuilt workitem or shot dropped their search triggers: put them back, refill.
        if (
            connection.dialect.name == "sqlite"
            and context.get_context().get_current_revision() != before
            and search_index.sqlite_installed(connection)
        ):
            search_index.repair_sqlite(connection, rebuild=True)
    connection.commit()
