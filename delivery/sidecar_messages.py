"""Russian reasons for sidecar validation errors: what is wrong, in which field, the fix."""

from delivery.sidecar import DocumentKind

_KINDS = ", ".join(kind.value for kind in DocumentKind)

# Reason codes raised by the validators in delivery.sidecar, and what to tell 1C.
_REASONS = {
    "no_recipients": "список получателей пуст; добавьте хотя бы одного получателя",
    "no_address": "у получателя не указан ни user_id, ни email, ни phone; укажите один из них",
    "email": "это не адрес электронной почты; укажите адрес вида name@example.ru",
    "phone": "в номере телефона меньше 10 цифр; укажите номер вида +7 912 345-67-89",
    "empty_name": "пустое имя файла; укажите имя файла рядом с JSON",
    "control_character": "имя файла содержит управляющий символ (перевод строки, табуляцию "
                         "или нулевой байт); уберите его из имени",
    "name_too_long": "имя файла длиннее 255 байт в UTF-8; сократите его",
    "absolute_path": "указан абсолютный путь; укажите только имя файла, который лежит "
                     "рядом с JSON",
    "parent_path": "путь содержит «..»; положите файл рядом с JSON и укажите только его имя",
    "subfolder": "указан путь с папкой; положите файл рядом с JSON и укажите только его имя",
    "reserved_name": "имена claim.json, receipt.json и error.json заняты курьером; "
                     "переименуйте файл",
    "duplicate_files": "файл «{name}» указан дважды (регистр букв не различается); "
                       "уберите повтор",
}


def _field_path(location: tuple) -> str:
    """Render a pydantic location like ('recipients', 1, 'email') as recipients[1].email."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        elif text:
            text += f".{part}"
        else:
            text = str(part)
    return text


# Source of each id field in 1C, for the fix part of the message.
_UUID_SOURCES = {
    "document_id": "выгрузите GUID объекта 1C (УникальныйИдентификатор())",
    "user_id": "укажите UUID пользователя 1С-Коннект или задайте email или phone",
    "line_id": "укажите UUID линии поддержки 1С-Коннект или уберите поле",
    "author_id": "укажите UUID специалиста 1С-Коннект или уберите поле",
}


# Fixes for required fields that are absent.
_MISSING_FIXES = {
    "document_id": "обязательное поле не заполнено; добавьте GUID объекта 1C "
                   "(УникальныйИдентификатор())",
    "recipients": "обязательное поле не заполнено; добавьте массив recipients хотя бы с одним "
                  "получателем",
}


def _last_name(error: dict) -> str:
    """Return the innermost field name of an error location, e.g. user_id."""
    return next((part for part in reversed(error.get("loc", ())) if isinstance(part, str)), "")


def _reason(error: dict) -> str:
    kind = error.get("type", "")
    message = str(error.get("msg", ""))
    if kind in _REASONS:
        return _REASONS[kind].format(**error.get("ctx", {}))
    for code, reason in _REASONS.items():
        if message.endswith(code):
            return reason
    if kind == "missing":
        name = _last_name(error)
        return _MISSING_FIXES.get(name, "обязательное поле не заполнено; добавьте его")
    if kind == "enum":
        return f"неизвестный вид документа; допустимые значения: {_KINDS}"
    if "uuid" in message.lower() or "hexadecimal" in message or "badly formed" in message:
        name = _last_name(error)
        return f"значение не является UUID; {_UUID_SOURCES.get(name, 'укажите UUID')}"
    if kind in ("string_type", "list_type", "bool_type", "bool_parsing", "model_type",
                "dict_type", "model_attributes_type"):
        expected = {
            "string_type": "строка", "list_type": "массив", "bool_type": "true или false",
            "bool_parsing": "true или false", "model_type": "объект",
            "dict_type": "объект", "model_attributes_type": "объект",
        }[kind]
        return f"неверный тип значения; нужно: {expected}"
    return f"недопустимое значение ({message})"


# Maximum length of an invalid value quoted back in a message, in characters.
_QUOTED_VALUE_CHARS = 80


def _quoted_input(error: dict) -> str:
    """Quote a short invalid string value, so the 1C user sees what was written."""
    value = error.get("input")
    if not isinstance(value, str) or error.get("type") == "missing":
        return ""
    if len(value) > _QUOTED_VALUE_CHARS:
        value = value[:_QUOTED_VALUE_CHARS] + "…"
    return f" («{value}»)"


def describe_sidecar_error(error: dict, file_name: str) -> tuple[str, str]:
    """Return the field path and the Russian sentence for one pydantic error."""
    location = tuple(part for part in error.get("loc", ()) if part != "function-after")
    field = _field_path(location) or "?"
    return field, f"В файле {file_name} поле {field}{_quoted_input(error)}: {_reason(error)}."
