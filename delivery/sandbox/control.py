"""Control API under /_sandbox/ for tests and demos, without authentication.

The server binds to loopback addresses only (SandboxConfig checks the host), because
anyone who reaches this API can read every received document's metadata.
"""

from __future__ import annotations

from typing import Any, Callable

from .body import RequestBody
from .config import SandboxConfigError
from .exchange import RequestError, Response, decode_json_object
from .faults import FaultSpecError, fault_rule_from_dict
from .state import SandboxState

# Maximum JSON body size of the control API, in bytes.
MAX_CONTROL_BODY_BYTES = 1024 * 1024

ControlEndpoint = Callable[[SandboxState, dict[str, list[str]], RequestBody], Response]


def handle_control(
    state: SandboxState,
    method: str,
    path: str,
    query: dict[str, list[str]],
    body: RequestBody,
) -> Response:
    """Serve one control request; `path` ends with a slash. Raises RequestError."""
    endpoint = _ENDPOINTS.get((method, path))
    if endpoint is None:
        raise RequestError(404, f"Нет такого метода управления песочницей: {method} {path}")

    return endpoint(state, query, body)


def _received(state: SandboxState, query: dict[str, list[str]], body: RequestBody) -> Response:
    """List the send records, only those after `?since=SEQ` when it is given."""
    since_text = (query.get("since") or ["0"])[-1]
    if not since_text.isdigit():
        raise RequestError(
            400, f"Параметр since должен быть целым числом ≥ 0, а не {since_text!r}."
        )

    return Response.json(state.recorder.records(since=int(since_text)))


def _stats(state: SandboxState, query: dict[str, list[str]], body: RequestBody) -> Response:
    return Response.json(state.stats())


def _reset(state: SandboxState, query: dict[str, list[str]], body: RequestBody) -> Response:
    state.reset()
    return Response.json({"ok": True})


def _get_faults(state: SandboxState, query: dict[str, list[str]], body: RequestBody) -> Response:
    return Response.json(state.faults.to_dict())


def _add_fault(state: SandboxState, query: dict[str, list[str]], body: RequestBody) -> Response:
    """Add a fault rule, or flip the "down" switch when the body has a `down` key."""
    data = _read_json(body)
    try:
        if "down" in data:
            _set_down(state, data)
        else:
            state.faults.add(fault_rule_from_dict(data))
    except (FaultSpecError, TypeError) as error:
        raise RequestError(400, str(error)) from error

    return Response.json(state.faults.to_dict())


def _clear_faults(state: SandboxState, query: dict[str, list[str]], body: RequestBody) -> Response:
    state.faults.clear()
    return Response.json(state.faults.to_dict())


def _get_config(state: SandboxState, query: dict[str, list[str]], body: RequestBody) -> Response:
    return Response.json(state.config.runtime_view())


def _put_config(state: SandboxState, query: dict[str, list[str]], body: RequestBody) -> Response:
    try:
        config = state.update_config(**_read_json(body))
    except SandboxConfigError as error:
        raise RequestError(400, str(error)) from error

    return Response.json(config.runtime_view())


def _emit(state: SandboxState, query: dict[str, list[str]], body: RequestBody) -> Response:
    return Response.json({"deliveries": state.emit(_read_json(body))})


def _hooks(state: SandboxState, query: dict[str, list[str]], body: RequestBody) -> Response:
    return Response.json([hook.to_dict() for hook in state.hooks.hooks()])


def _set_down(state: SandboxState, data: dict[str, Any]) -> None:
    unknown = sorted(set(data) - {"down", "mode"})
    if unknown:
        raise FaultSpecError(
            f"С ключом down допустим только mode, а переданы: {', '.join(unknown)}."
        )
    if not isinstance(data["down"], bool):
        raise FaultSpecError("down должен быть true или false.")

    state.faults.set_down(data["down"], data.get("mode", "close"))


def _read_json(body: RequestBody) -> dict[str, Any]:
    raw = body.read_all(MAX_CONTROL_BODY_BYTES)
    try:
        return decode_json_object(raw, "request body")
    except RequestError as error:
        message = f"Тело запроса должно быть JSON-объектом: {error.message}"
        raise RequestError(400, message) from error


_ENDPOINTS: dict[tuple[str, str], ControlEndpoint] = {
    ("GET", "/_sandbox/received/"): _received,
    ("GET", "/_sandbox/stats/"): _stats,
    ("POST", "/_sandbox/reset/"): _reset,
    ("GET", "/_sandbox/faults/"): _get_faults,
    ("POST", "/_sandbox/faults/"): _add_fault,
    ("DELETE", "/_sandbox/faults/"): _clear_faults,
    ("GET", "/_sandbox/config/"): _get_config,
    ("PUT", "/_sandbox/config/"): _put_config,
    ("POST", "/_sandbox/emit/"): _emit,
    ("GET", "/_sandbox/hooks/"): _hooks,
}
