"""The HTTP API (FastAPI): ``create_app()`` in ``api.main``."""
