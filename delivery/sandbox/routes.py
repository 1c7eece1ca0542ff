"""Route table of the imitated 1C-Connect API under /v1/."""

from __future__ import annotations

import re
from typing import Callable

from . import lookups, sends
from .exchange import ApiRequest, RequestError, Response

Endpoint = Callable[[ApiRequest], Response]

# (method, path pattern, endpoint). Patterns match the path with its trailing slash,
# which normalize_path adds when the client left it out.
_ROUTE_SPECS: list[tuple[str, str, Endpoint]] = [
    ("POST", r"/v1/line/send/message/", sends.send_message),
    ("POST", r"/v1/line/send/file/", sends.send_file),
    ("POST", r"/v1/line/send/image/", sends.send_image),
    ("GET", r"/v1/line/", lookups.list_lines),
    ("GET", r"/v1/line/subscribers/", lookups.list_subscribers),
    ("GET", r"/v1/line/subscriber/(?P<user_id>[^/]+)/", lookups.get_subscriber),
    ("GET", r"/v1/line/subscriptions/", lookups.list_subscriptions),
    ("GET", r"/v1/line/specialists/", lookups.list_specialists),
    ("GET", r"/v1/line/specialist/(?P<user_id>[^/]+)/", lookups.get_specialist),
    ("POST", r"/v1/hook/", lookups.register_hook),
    ("DELETE", r"/v1/hook/", lookups.delete_hooks),
    ("DELETE", r"/v1/hook/(?P<hook_type>[^/]+)/(?P<line_id>[^/]+)/", lookups.delete_hook),
]

ROUTES = [(method, re.compile(pattern), endpoint) for method, pattern, endpoint in _ROUTE_SPECS]


def normalize_path(path: str) -> str:
    """Add the trailing slash that 1C-Connect paths canonically end with."""
    return path if path.endswith("/") else path + "/"


def find_endpoint(method: str, path: str) -> tuple[Endpoint, dict[str, str]]:
    """Return the endpoint and path parameters, or raise RequestError 404 or 405."""
    allowed = []
    for route_method, pattern, endpoint in ROUTES:
        match = pattern.fullmatch(path)
        if match is None:
            continue
        if route_method == method:
            return endpoint, match.groupdict()
        allowed.append(route_method)

    if allowed:
        raise RequestError(405, "Method not allowed", headers={"Allow": ", ".join(allowed)})

    raise RequestError(404, "Not found")
