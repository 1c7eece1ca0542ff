"""One logging configuration for every courier process."""

import logging
import sys

FORMAT = "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"


def configure_logging(level: str = "INFO") -> None:
    """Send log lines to stderr in one format; quiet the chatty libraries."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("urllib3", "watchdog", "kombu", "amqp"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
