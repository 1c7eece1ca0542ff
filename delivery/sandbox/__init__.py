"""Local 1C-Connect sandbox: a real HTTP server that imitates the 1C-Connect API.

Tests, benchmarks and demos send documents to it instead of push.1c-connect.com. It
checks requests the way the public API documentation describes, records every accepted
send with the file's SHA-256, imitates rate limits and injects faults on request.
"""

from .config import SandboxConfig, SandboxConfigError
from .faults import FaultRule, FaultSpecError
from .server import SandboxServer

__all__ = [
    "FaultRule",
    "FaultSpecError",
    "SandboxConfig",
    "SandboxConfigError",
    "SandboxServer",
]
