"""Alembic environment: runs migrations on the engine the app itself uses."""

from alembic import context
from sqlmodel import SQLModel

import services.models  # noqa: F401  (registers the tables)
from services.db import engine_for

target_metadata = SQLModel.metadata
url = context.config.get_main_option("sqlalchemy.url")

with engine_for(url).connect() as connection:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
