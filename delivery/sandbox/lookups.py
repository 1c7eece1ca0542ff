"""Directory and hook endpoints: GET /v1/line/..., POST and DELETE /v1/hook/."""

from __future__ import annotations

import logging

from .exchange import ApiRequest, RequestError, Response, decode_json_object
from .hooks import HOOK_TYPES, hook_from_request
from .validation import check_uuid

logger = logging.getLogger(__name__)

# Maximum JSON body size of a hook registration, in bytes.
MAX_HOOK_BODY_BYTES = 64 * 1024


def list_lines(request: ApiRequest) -> Response:
    """Return the lines with the URLs of the hooks that cover each one."""
    hooks = request.state.hooks
    lines = [
        {**line, **hooks.urls_for_line(line["line_id"])}
        for line in request.state.directory.lines()
    ]
    return Response.json(lines)


def list_subscribers(request: ApiRequest) -> Response:
    return Response.json(request.state.directory.subscribers())


def get_subscriber(request: ApiRequest) -> Response:
    """Return one subscriber, or 404 when the id is unknown.

    NOTE: the status of the real API for an unknown subscriber is not documented.
    """
    user_id = check_uuid(request.params["user_id"], "user_id")
    user = request.state.directory.subscriber(user_id)
    if user is None:
        raise RequestError(404, "User not found")

    return Response.json(user)


def list_subscriptions(request: ApiRequest) -> Response:
    """Return subscriptions filtered by the optional `user_id` and `line_id` query values.

    The `client_id` filter of the real API is accepted and ignored.
    """
    user_id = request.query_value("user_id")
    line_id = request.query_value("line_id")
    if user_id is not None:
        check_uuid(user_id, "user_id")
    if line_id is not None:
        check_uuid(line_id, "line_id")

    found = request.state.directory.subscriptions(user_id=user_id, line_id=line_id)
    return Response.json(found)


def list_specialists(request: ApiRequest) -> Response:
    """Return every specialist. The `line_id` query value is ignored."""
    return Response.json(request.state.directory.specialists())


def get_specialist(request: ApiRequest) -> Response:
    """Return one specialist, or 403 with an empty body as 1C-Connect does for others."""
    user_id = check_uuid(request.params["user_id"], "user_id")
    user = request.state.directory.specialist(user_id)
    if user is None:
        raise RequestError(403, None)

    return Response.json(user)


def register_hook(request: ApiRequest) -> Response:
    """Store a hook from POST /v1/hook/, replacing one of the same type and line."""
    raw = request.body.read_all(MAX_HOOK_BODY_BYTES)
    hook = hook_from_request(decode_json_object(raw, "request body"), request.state.directory)
    request.state.hooks.register(hook)
    logger.info(
        "Зарегистрирован хук типа %s для линии %s: %s.",
        hook.type,
        hook.line_id or "(все линии)",
        hook.url,
    )
    return Response.empty()


def delete_hook(request: ApiRequest) -> Response:
    """Delete one hook by type and line id. Deleting an absent hook also returns 200."""
    hook_type = request.params["hook_type"]
    if hook_type not in HOOK_TYPES:
        raise RequestError(400, "Hook type must be \"bot\" or \"line\"")
    line_id = check_uuid(request.params["line_id"], "id")

    deleted = request.state.hooks.delete(hook_type, line_id)
    logger.info(
        "Хук типа %s для линии %s %s.",
        hook_type,
        line_id,
        "удалён" if deleted else "не найден, удалять нечего",
    )
    return Response.empty()


def delete_hooks(request: ApiRequest) -> Response:
    """Delete every hook except the "bot" ones."""
    count = request.state.hooks.delete_all_but_bot()
    logger.info("Удалены все хуки, кроме хуков бота: %d шт.", count)
    return Response.empty()
