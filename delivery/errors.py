"""One error tree for everything that can go wrong while delivering a drop.

Workers decide what to do from the branch alone. A `TransientDeliveryError` is retried
with backoff, and a `PermanentDeliveryError` fails the drop (or one recipient) at once.
An `AuthenticationError` keeps the drops queued and retries slowly until an admin fixes
the API credentials.
"""


class DeliveryError(Exception):
    """Root of every error the courier raises while checking or delivering a drop."""

    #: Russian sentence for the 1C user and admin: what is wrong and how to fix it.
    message: str = "Не удалось доставить документ."

    def __init__(self, message: str | None = None, *, detail: str | None = None,
                 status: int | None = None, api_error: str | None = None) -> None:
        self.message = message or self.message
        self.detail = detail
        self.status = status
        self.api_error = api_error
        super().__init__(self.message)

    def technical(self) -> dict:
        """Return the machine-readable part that goes into error.json and status files."""
        return {
            "error_class": type(self).__name__,
            "http_status": self.status,
            "api_error": self.api_error,
            "detail": self.detail,
        }


class TransientDeliveryError(DeliveryError):
    """A failure that may pass by itself: connection error, timeout, 408, 429 or 5xx."""

    def __init__(self, message: str | None = None, *, retry_after: float | None = None,
                 **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class RateLimitedError(TransientDeliveryError):
    """1C-Connect returned 429: the account's request budget is used up for now."""


class PermitWaitTimeoutError(TransientDeliveryError):
    """The shared request budget stayed used up longer than a task may wait for a permit."""


class RecipientBusyError(TransientDeliveryError):
    """Another drop holds the `sending` lease for the same document and recipient right now."""


class LedgerRebuildingError(TransientDeliveryError):
    """The dedup ledger is being rebuilt from receipts; deliveries wait until it is ready."""


class PermanentDeliveryError(DeliveryError):
    """A failure that a retry cannot fix: 400, 403, 404, 413, 422 or an invalid drop."""


class RecipientRejectedError(PermanentDeliveryError):
    """1C-Connect refused one recipient, e.g. 403 for a user who is not a line subscriber."""


class InvalidDropError(PermanentDeliveryError):
    """The sidecar or the files of a drop break the folder contract."""

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None,
                 **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.file = file
        self.field = field

    def technical(self) -> dict:
        """Add the offending file and field to the technical detail."""
        return {**super().technical(), "file": self.file, "field": self.field}


class AuthenticationError(DeliveryError):
    """1C-Connect returned 401: the API login or password is wrong, so drops stay queued."""

    message = (
        "1С-Коннект отклонил учётные данные API (ответ 401): проверьте CONNECT_LOGIN и "
        "CONNECT_PASSWORD; документ остаётся в очереди и будет отправлен после исправления."
    )
