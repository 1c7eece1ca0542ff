"""Celery app and tasks: `celery -A tasks worker|beat|flower` loads `tasks.app`."""

from tasks.flower_guard import check_flower

check_flower()

from tasks.application import app  # noqa: E402
from tasks import lifecycle  # noqa: E402,F401  (connects logging and start-up signals)

__all__ = ["app"]
