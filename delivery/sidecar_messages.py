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
    "absolute_path": "указан абсолютный путь; укажите только имя файла, который лежит "
                     "рядом с JSON",
    "parent_path": "путь содержит «..»; положите файл рядом с JSON и укажите только его имя",
    "subfolder": "указан путь с папкой; положите файл рядом с JSON и укажите только его имя",
    "reserved_name": "имена claim.json, receipt.json и error.json заняты курьером; "
                     "переименуйте файл",
    "duplicate_files": "один и тот же файл указан дважды; уберите повтор",
}


def _field_path(location: tuple) -> str:
    """Render a pydantic location like ('recipients', 1, 'email') as recipients[1].email."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


# Where each id field comes from, for the fix part of the message.
_UUID_SOURCES = {
    "document_id": "выгрузите GUID объекта 1C (УникальныйИдентификатор())",
    "user_id": "укажите UUID пользователя 1С-Коннект или задайте email или phone",
    "line_id": "укажите UUID линии поддержки 1С-Коннект или уберите поле",
    "author_id": "укажите UUID специалиста 1С-Коннект или уберите поле",
}


def _reason(error: dict) -> str:
    kind = error.get("type", "")
    message = str(error.get("msg", ""))
    for code, reason in _REASONS.items():
        if message.endswith(code):
            return reason
    if kind == "missing":
        return "обязательное поле не заполнено; добавьте его"
    if kind == "enum":
        return f"неизвестный вид документа; допустимые значения: {_KINDS}"
    if "uuid" in message.lower() or "hexadecimal" in message or "badly formed" in message:
        name = next((part for part in reversed(error.get("loc", ())) if isinstance(part, str)), "")
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


def describe_sidecar_error(error: dict, file_name: str) -> tuple[str, str]:
    """Return the field path and the Russian sentence for one pydantic error."""
    location = tuple(part for part in error.get("loc", ()) if part != "function-after")
    field = _field_path(location) or "?"
    return field, f"В файле {file_name} поле {field}: {_reason(error)}."
