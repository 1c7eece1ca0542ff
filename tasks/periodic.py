"""Beat jobs: refresh the recipient directory, re-queue drops that lost their task."""

import logging

from tasks.application import app
from tasks.recovery import requeue_expired_leases, requeue_orphaned_drops
from tasks.runtime import get_runtime

log = logging.getLogger(__name__)


@app.task(name="courier.refresh_recipient_directory", ignore_result=True)
def refresh_recipient_directory() -> int:
    """Reload e-mails and phones of the line's subscribers from 1C-Connect."""
    return get_runtime().directory.refresh()


@app.task(name="courier.requeue_stale_claims", ignore_result=True)
def requeue_stale_claims() -> list[str]:
    """Queue again every drop in work/ whose task was lost or died mid-upload."""
    runtime = get_runtime()
    expired = requeue_expired_leases(app, runtime.redis, runtime.folders, runtime.ledger)
    orphaned = requeue_orphaned_drops(app, runtime.redis, runtime.folders)
    return expired + orphaned
