"""Registration of the `line` webhook through the 1C-Connect API.

`POST /v1/hook/` registers the hook with `back_auth` of type bearer, so 1C-Connect
presents FEEDBACK_TOKEN on every call. `DELETE /v1/hook/line/{line_id}/` removes it.
`GET /v1/line/` returns each line's current hook URL in `hook_line`.
"""

import urllib.parse

import requests

from config import Settings, SettingsError, missing_setting

HOOK_TYPE = "line"
EVENTS_PATH = "/connect/events/"
CONNECT_TIMEOUT_SECONDS = 10.0
READ_TIMEOUT_SECONDS = 30.0


class HookError(Exception):
    """The API rejected a hook request or did not respond; the message is in Russian."""


class HookClient:
    """The three hook calls of the 1C-Connect API, with HTTP Basic auth."""

    def __init__(self, base_url: str, login: str, password: str):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.auth = (login, password)
        self.session.headers["User-Agent"] = "connect-courier"

    def register(self, url: str, token: str, line_id: str | None) -> None:
        """Register the line hook at `url`; without `line_id` it covers every line."""
        payload = {"type": HOOK_TYPE, "url": url,
                   "back_auth": {"type": "bearer", "token": token}}
        if line_id:
            payload["id"] = line_id
        self._request("POST", "hook", "регистрация хука", json=payload)

    def delete(self, line_id: str) -> None:
        """Delete the line hook of one line."""
        self._request("DELETE", f"hook/{HOOK_TYPE}/{line_id}", "удаление хука")

    def lines(self) -> list[dict]:
        """Return the lines with their `hook_line` URL, when one is registered."""
        return self._request("GET", "line", "список линий").json()

    def _request(self, method: str, path: str, action: str, **kwargs) -> requests.Response:
        url = f"{self.base_url}/v1/{path}/"
        try:
            response = self.session.request(
                method, url, timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS), **kwargs)
        except requests.RequestException as error:
            raise HookError(f"{action}: нет ответа от 1С-Коннект по адресу {self.base_url} "
                            f"({type(error).__name__}); проверьте CONNECT_BASE_URL и "
                            "сеть.") from None
        if response.status_code != 200:
            raise HookError(_refusal_message(action, response))
        return response


def events_url(public_url: str) -> str:
    """Return the URL to register: FEEDBACK_PUBLIC_URL, with /connect/events/ added.

    FEEDBACK_PUBLIC_URL may be the site root (https://courier.example.ru) or already end
    with the path; both give https://courier.example.ru/connect/events/.
    """
    parts = urllib.parse.urlsplit(public_url.strip())
    path = parts.path.rstrip("/")
    if not path.endswith(EVENTS_PATH.rstrip("/")):
        path += EVENTS_PATH.rstrip("/")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path + "/", parts.query, ""))


def check_public_url(public_url: str) -> None:
    """Raise SettingsError unless FEEDBACK_PUBLIC_URL is an http(s) URL with a host."""
    parts = urllib.parse.urlsplit(public_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(
            f"Настройка FEEDBACK_PUBLIC_URL имеет неверное значение «{public_url}»: нужен "
            "адрес, начинающийся с http:// или https://; исправьте её в файле .env или в "
            "переменной окружения.")


def client_from_settings(settings: Settings) -> HookClient:
    """Build the client; raise SettingsError when the API login or password is missing."""
    if not settings.CONNECT_LOGIN:
        raise missing_setting("CONNECT_LOGIN", "логин пользователя API 1С-Коннект")
    if settings.CONNECT_PASSWORD is None:
        raise missing_setting("CONNECT_PASSWORD", "пароль пользователя API 1С-Коннект")
    return HookClient(settings.CONNECT_BASE_URL, settings.CONNECT_LOGIN,
                      settings.CONNECT_PASSWORD.get_secret_value())


def register_from_settings(settings: Settings, line_id: str | None = None) -> str:
    """Register the hook at FEEDBACK_PUBLIC_URL with FEEDBACK_TOKEN; return the URL.

    Raises SettingsError for a missing setting and HookError when the API refuses.
    """
    if not settings.FEEDBACK_PUBLIC_URL:
        raise missing_setting("FEEDBACK_PUBLIC_URL",
                              "адрес, по которому 1С-Коннект достучится до приёмника")
    if settings.FEEDBACK_TOKEN is None:
        raise missing_setting("FEEDBACK_TOKEN", "секрет, который 1С-Коннект предъявит приёмнику")
    check_public_url(settings.FEEDBACK_PUBLIC_URL)

    url = events_url(settings.FEEDBACK_PUBLIC_URL)
    line_id = line_id or settings.CONNECT_LINE_ID
    client_from_settings(settings).register(
        url, settings.FEEDBACK_TOKEN.get_secret_value(), line_id)
    return url


def _refusal_message(action: str, response: requests.Response) -> str:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = body.get("error") if isinstance(body, dict) else None
    status_text = f"ответ {status}: {str(detail)[:300]}" if detail else f"ответ {status}"
    fixes = {
        401: "проверьте CONNECT_LOGIN и CONNECT_PASSWORD",
        403: "проверьте, что пользователю API доступна линия и включён внешний сервер "
             "для обработки данных",
        400: "проверьте FEEDBACK_PUBLIC_URL и CONNECT_LINE_ID",
    }
    fix = fixes.get(status, "повторите позже или проверьте CONNECT_BASE_URL")
    return f"{action}: 1С-Коннект отказал ({status_text}); {fix}."
