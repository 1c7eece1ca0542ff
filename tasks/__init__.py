"""Celery app and tasks: `celery -A tasks worker|beat|flower` loads `tasks.app`."""

from tasks.application import app
from tasks import lifecycle  # noqa: F401  (connects logging and start-up signals)

__all__ = ["app"]
