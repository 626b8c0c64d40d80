"""JSON API (`python -m services api`): FastAPI app `app`, built by `create_app()`."""

from services.api.app import create_app

app = create_app()

__all__ = ["app", "create_app"]
