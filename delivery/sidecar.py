"""The sidecar: the JSON file 1C writes last to commit a drop.

`parse_sidecar()` reads raw bytes the way 1C:Enterprise writes them (UTF-8 with or
without BOM, windows-1251, CRLF, tab indents) and returns a validated `Sidecar`, or raises
`InvalidDropError` whose message names the file, the field and the fix in Russian.
"""

import json
import re
import uuid
from enum import Enum
from pathlib import Path
from typing import Annotated

from pydantic import (
    AfterValidator,
    BeforeValidator,
    BaseModel,
    ConfigDict,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from delivery.errors import InvalidDropError
from delivery.folders import printable_name

SIDECAR_SUFFIX = ".json"
# A sidecar is a few kilobytes; anything larger is not one, and is not read into memory.
MAX_SIDECAR_BYTES = 1024 * 1024
# Maximum file name length that ext4 and NTFS (through CIFS) accept, in UTF-8 bytes.
MAX_NAME_BYTES = 255

# File names the courier writes into a drop's folder; a drop may not bring its own.
RESERVED_NAMES = frozenset({"claim.json", "receipt.json", "error.json"})


class DocumentKind(str, Enum):
    """Kind of document 1C exported, which picks the comment template and the feedback default."""

    CONTRACT = "contract"
    INVOICE = "invoice"
    ORDER = "order"
    RECONCILIATION = "reconciliation"
    ACT = "act"
    WAYBILL = "waybill"
    TASK = "task"
    TIMESHEET = "timesheet"
    OTHER = "other"


# Kinds for which the recipient is asked for feedback unless the sidecar sets `feedback`.
FEEDBACK_BY_DEFAULT = frozenset({DocumentKind.CONTRACT, DocumentKind.TIMESHEET})


def normalize_uuid(value: str) -> str:
    """Return a UUID in canonical lowercase form; 1C may write braces or upper case."""
    return str(uuid.UUID(value.strip().strip("{}")))


def _integer_as_text(value):
    """Accept a whole number where text is expected: 1C writes a Число field without quotes."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


# Text that 1C may also write as a JSON number (document numbers, INNs).
NumberOrText = Annotated[str | None, BeforeValidator(_integer_as_text)]


class Client(BaseModel):
    """The franchisee's client company the document is about."""

    model_config = ConfigDict(extra="allow")

    name: str | None = None
    inn: NumberOrText = None


class Recipient(BaseModel):
    """One person who gets the document: a 1C-Connect user id, or an e-mail or phone."""

    model_config = ConfigDict(extra="allow")

    user_id: str | None = None
    email: str | None = None
    phone: str | None = None
    comment: str | None = None

    @field_validator("user_id")
    @classmethod
    def _user_uuid(cls, value: str | None) -> str | None:
        return None if value in (None, "") else normalize_uuid(value)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value.strip()):
            raise ValueError("email")
        return value.strip()

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if len(re.sub(r"\D", "", value)) < 10:
            raise ValueError("phone")
        return value.strip()

    @model_validator(mode="after")
    def _one_address(self) -> "Recipient":
        if not (self.user_id or self.email or self.phone):
            raise ValueError("no_address")
        return self

    @property
    def address(self) -> str:
        """How the sidecar named this recipient, for messages and receipts."""
        return self.user_id or self.email or self.phone or ""


def _plain_file_name(name: str) -> str:
    check_file_name(name)
    return name


# One entry of `files`: validated on its own, so an error points at files[N].
PlainFileName = Annotated[str, AfterValidator(_plain_file_name)]


class Sidecar(BaseModel):
    """A validated sidecar; unknown fields are kept in `model_extra`."""

    model_config = ConfigDict(extra="allow")

    document_id: str
    kind: DocumentKind = DocumentKind.OTHER
    number: NumberOrText = None
    date: str | None = None
    client: Client | None = None
    line_id: str | None = None
    author_id: str | None = None
    comment: str | None = None
    recipients: list[Recipient]
    files: list[PlainFileName] | None = None
    feedback: bool | None = None

    @field_validator("document_id", "line_id", "author_id")
    @classmethod
    def _uuid(cls, value: str | None) -> str | None:
        return None if value in (None, "") else normalize_uuid(value)

    @field_validator("kind", mode="before")
    @classmethod
    def _kind_lower(cls, value):
        if isinstance(value, str):
            # An empty string is how 1C writes "not set", as in the other fields.
            return value.strip().lower() or DocumentKind.OTHER.value
        return value

    @field_validator("recipients")
    @classmethod
    def _at_least_one(cls, value: list[Recipient]) -> list[Recipient]:
        if not value:
            raise ValueError("no_recipients")
        return value

    @field_validator("files")
    @classmethod
    def _no_duplicates(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        seen = set()
        for name in value:
            # Windows shares compare names without regard to case.
            if name.casefold() in seen:
                raise PydanticCustomError("duplicate_files", "duplicate_files", {"name": name})
            seen.add(name.casefold())
        return value

    @property
    def wants_feedback(self) -> bool:
        """Whether the recipient is asked to rate the document."""
        if self.feedback is not None:
            return self.feedback
        return self.kind in FEEDBACK_BY_DEFAULT


class InvalidSidecarError(InvalidDropError):
    """A sidecar that cannot be used, with whatever could still be read from it.

    `document_id` and `file_names` are kept when the JSON object carried them in a valid
    form, so a rejected drop still gets its status file and takes its listed files along.
    """

    def __init__(self, message: str, *, document_id: str | None = None,
                 file_names: list[str] | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.document_id = document_id
        self.file_names = file_names or []


def check_file_name(name: str) -> None:
    """Raise ValueError with a reason code when `name` is not a plain file name."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("empty_name")
    if any(ord(character) < 32 for character in name):
        raise ValueError("control_character")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise ValueError("name_too_long")
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise ValueError("absolute_path")
    parts = re.split(r"[\\/]", name)
    if ".." in parts:
        raise ValueError("parent_path")
    if len(parts) > 1:
        raise ValueError("subfolder")
    if name.casefold() in RESERVED_NAMES:
        raise ValueError("reserved_name")


def decode_sidecar_bytes(raw: bytes, file_name: str) -> str:
    """Decode sidecar bytes: UTF-8 (BOM optional), UTF-16 with BOM, else windows-1251."""
    if len(raw) > MAX_SIDECAR_BYTES:
        raise InvalidSidecarError(
            f"Файл {file_name} больше {MAX_SIDECAR_BYTES // 1024} КБ, а сопроводительный "
            "JSON занимает несколько килобайт: проверьте, что под этим именем выгружен "
            "сопроводительный файл, а не сам документ.", file=file_name)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1251")
    except UnicodeDecodeError as error:
        raise InvalidSidecarError(
            f"Файл {file_name} не читается ни как UTF-8, ни как windows-1251 "
            f"(байт 0x{raw[error.start]:02x} в позиции {error.start}): сохраните его "
            "в кодировке UTF-8 через ЗаписьJSON и положите заново.",
            file=file_name, detail=str(error),
        ) from None


_JSON_TYPE_NAMES = {
    list: "массив", str: "строка", int: "число", float: "число", bool: "логическое значение",
    type(None): "null",
}


def load_sidecar_json(text: str, file_name: str) -> dict:
    """Parse sidecar text into a JSON object, with a Russian reason on failure."""
    if not text.strip():
        raise InvalidSidecarError(
            f"Файл {file_name} пуст: 1C должна записать в него JSON-объект с полями "
            "document_id и recipients.",
            file=file_name,
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidSidecarError(
            f"Файл {file_name} содержит неверный JSON (строка {error.lineno}, "
            f"столбец {error.colno}: {error.msg}); проверьте, что 1C дописала файл "
            "до конца, и выгрузите документ заново.",
            file=file_name, detail=str(error),
        ) from None
    except (RecursionError, ValueError) as error:
        # json raises RecursionError on deep nesting and ValueError on integers longer
        # than sys.get_int_max_str_digits(); neither comes from a real 1C export.
        raise InvalidSidecarError(
            f"Файл {file_name} не разобран: в JSON слишком глубокая вложенность или "
            "слишком длинное число; выгрузите сопроводительный файл заново через ЗаписьJSON.",
            file=file_name, detail=f"{type(error).__name__}: {str(error)[:200]}",
        ) from None
    if not isinstance(data, dict):
        found = _JSON_TYPE_NAMES.get(type(data), type(data).__name__)
        raise InvalidSidecarError(
            f"В файле {file_name} записан не JSON-объект, а {found}: сопроводительный "
            "файл должен быть объектом {...} с полями document_id и recipients.",
            file=file_name,
        )
    return data


_SURROGATE = re.compile("[\ud800-\udfff]")


def find_surrogate(data) -> str | None:
    """Return the path of the first string holding a lone UTF-16 surrogate, or None.

    JSON may spell one as an escape such as "\\ud800"; Python keeps it in the str, and
    writing that str as UTF-8 (claim.json, status files, the upload) raises later.
    """
    pending = [("", data)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                return path or "?"
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                if _SURROGATE.search(key):
                    return child
                pending.append((child, item))
        elif isinstance(value, list):
            pending.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
    return None



def salvage_document_id(data: dict) -> str | None:
    """Return the sidecar's document_id when it is a valid UUID, else None."""
    value = data.get("document_id")
    if not isinstance(value, str):
        return None
    try:
        return normalize_uuid(value)
    except ValueError:
        return None


def salvage_file_names(data: dict) -> list[str]:
    """Return the plain names listed in `files`, skipping anything unusable."""
    value = data.get("files")
    if not isinstance(value, list):
        return []
    names = []
    for name in value:
        try:
            check_file_name(name)
        except ValueError:
            continue
        if not _SURROGATE.search(name) and name not in names:
            names.append(name)
    return names


def parse_sidecar(raw: bytes, file_name: str) -> Sidecar:
    """Decode, parse and validate one sidecar's bytes; raise InvalidSidecarError."""
    from delivery.sidecar_messages import describe_sidecar_error

    text = decode_sidecar_bytes(raw, file_name)
    data = load_sidecar_json(text, file_name)
    salvaged = {"document_id": salvage_document_id(data),
                "file_names": salvage_file_names(data)}

    surrogate_at = find_surrogate(data)
    if surrogate_at is not None:
        # The path itself may run through a key that contains the surrogate.
        surrogate_at = printable_name(surrogate_at)
        raise InvalidSidecarError(
            f"В файле {file_name} поле {surrogate_at} содержит одиночный суррогат UTF-16 "
            "(экранированный символ вроде \\ud800 без пары): такой текст нельзя сохранить "
            "и отправить; выгрузите поле заново без экранирования символов.",
            file=file_name, field=surrogate_at, **salvaged)

    try:
        return Sidecar.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field, message = describe_sidecar_error(first, file_name)
        raise InvalidSidecarError(message, file=file_name, field=field,
                                  detail=str(error)[:2000], **salvaged) from None


def read_sidecar(path: Path) -> Sidecar:
    """Read and parse the sidecar at `path`; a file over MAX_SIDECAR_BYTES is not read whole."""
    with open(path, "rb") as handle:
        raw = handle.read(MAX_SIDECAR_BYTES + 1)
    return parse_sidecar(raw, path.name)
