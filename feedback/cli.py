"""Admin commands for feedback: `hook register|delete|show` and `feedback DOCUMENT_ID`.

They are plain click commands meant for the `celery -A tasks courier` group; until they
are attached there, `python -m feedback.cli` runs them the same way.
"""

import json
import sys
from typing import NoReturn

import click

from config import Settings, SettingsError, exit_on_settings_error, load_settings
from delivery.folders import CourierFolders
from delivery.sidecar import normalize_uuid
from feedback.hooks import HookError, client_from_settings, register_from_settings
from feedback.rating import VERDICT_LABELS
from feedback.records import read_records
from tasks.cli.command import CourierGroup, RussianHelpMixin

# The values of tasks.cli.output.ExitCode (INVALID_USAGE, NOT_FOUND, UNAVAILABLE,
# CONFIG), repeated here because tasks.cli will import this module.
EXIT_USAGE = 2
EXIT_NO_FEEDBACK = 3
EXIT_API_UNAVAILABLE = 69
EXIT_CONFIG = 78

LINE_ID_HELP = "UUID линии поддержки; по умолчанию CONNECT_LINE_ID."


class _Command(RussianHelpMixin, click.Command):
    """A plain Click command with the admin commands' Russian help and usage errors."""


class _Group(CourierGroup):
    """The admin group's Russian help and command list, with plain Click subcommands."""

    command_class = _Command


@click.group(name="hook", cls=_Group, help=(
    "Хук line в 1С-Коннект, через который приходят ответы клиентов.\n\n"
    "Примеры:\n\n"
    "  celery -A tasks courier hook show\n\n"
    "  celery -A tasks courier hook register --line-id 8d1e5a2c-0b4f-4c7e-9a57-0c2f7e1d8b21"))
def hook() -> None:
    """Group of the hook subcommands."""


@hook.command(name="register", help=(
    "Зарегистрировать хук line на адрес FEEDBACK_PUBLIC_URL с токеном FEEDBACK_TOKEN. "
    "Без линии (ни --line-id, ни CONNECT_LINE_ID) хук получает события всех линий."))
@click.option("--line-id", default=None, help=LINE_ID_HELP)
def register_command(line_id: str | None) -> None:
    settings = _settings()
    line_id = _line_id_or_none(line_id)
    try:
        url = register_from_settings(settings, line_id)
    except SettingsError as error:
        exit_on_settings_error(error)
    except HookError as error:
        _fail(str(error), EXIT_API_UNAVAILABLE)

    scope = line_id or settings.CONNECT_LINE_ID
    scope_text = f"линии {scope}" if scope else "всех линий"
    click.echo(f"Хук line для {scope_text} зарегистрирован: события придут на {url}.")


@hook.command(name="delete", help="Удалить хук line одной линии.")
@click.option("--line-id", default=None, help=LINE_ID_HELP)
def delete_command(line_id: str | None) -> None:
    settings = _settings()
    line_id = _line_id_or_none(line_id) or settings.CONNECT_LINE_ID
    if not line_id:
        _fail("Не указана линия: передайте --line-id или задайте CONNECT_LINE_ID.", EXIT_USAGE)

    try:
        client_from_settings(settings).delete(line_id)
    except SettingsError as error:
        exit_on_settings_error(error)
    except HookError as error:
        _fail(str(error), EXIT_API_UNAVAILABLE)
    click.echo(f"Хук line линии {line_id} удалён.")


@hook.command(name="show", help="Показать линии и адреса их хуков line.")
def show_command() -> None:
    settings = _settings()
    try:
        lines = client_from_settings(settings).lines()
    except SettingsError as error:
        exit_on_settings_error(error)
    except HookError as error:
        _fail(str(error), EXIT_API_UNAVAILABLE)

    if not lines:
        click.echo("Пользователю API не доступна ни одна линия.")
    for line in lines:
        url = line.get("hook_line") or "не зарегистрирован"
        click.echo(f"Линия «{line.get('name', '')}» ({line.get('line_id')}): хук line — {url}")


@click.command(name="feedback", cls=_Command, help=(
    "Показать последний отзыв клиента на документ (из папки feedback/).\n\n"
    "Пример:\n\n  celery -A tasks courier feedback 3f2c9a4e-5b1d-4c1e-9a57-0c2f7e1d8b21"))
@click.argument("document_id")
@click.option("--all", "show_all", is_flag=True, help="Показать все отзывы, старые первыми.")
@click.option("--json", "as_json", is_flag=True, help="Вывести отзывы в JSON, как их читает 1C.")
def feedback_command(document_id: str, show_all: bool, as_json: bool) -> None:
    try:
        document_id = normalize_uuid(document_id)
    except ValueError:
        _fail(f"«{document_id}» не похож на GUID документа 1C: укажите document_id из "
              "сопроводительного JSON.", EXIT_USAGE)

    records = read_records(CourierFolders(_settings().COURIER_ROOT), document_id)
    if not records:
        _fail(f"На документ {document_id} отзывов нет.", EXIT_NO_FEEDBACK)

    selected = records if show_all else records[-1:]
    if as_json:
        click.echo(json.dumps(selected, ensure_ascii=False, indent=2))
        return
    click.echo(f"Документ {document_id}: отзывов {len(records)}.")
    for record in selected:
        click.echo("")
        click.echo(describe_record(record))


def describe_record(record: dict) -> str:
    """Render one feedback record as Russian lines for the terminal."""
    rating = record.get("rating")
    verdict = VERDICT_LABELS.get(record.get("verdict"), "не выражено")
    files = [item.get("path") or f"{item.get('file_name')} (не сохранён: {item.get('error')})"
             for item in record.get("files") or []]
    lines = [
        f"Отзыв {record.get('message_id')} от {record.get('time')}",
        f"  Документ: {record.get('title') or record.get('number') or record.get('document_id')}",
        f"  Клиент (user_id): {(record.get('author') or {}).get('user_id')}",
        f"  Оценка: {rating if rating is not None else 'нет'}",
        f"  Решение: {verdict}",
        f"  Комментарий: {record.get('comment') or '—'}",
        f"  Текст сообщения: {record.get('text') or '—'}",
        f"  Файлы: {', '.join(files) if files else 'нет'}",
    ]
    return "\n".join(lines)


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        exit_on_settings_error(error)


def _line_id_or_none(line_id: str | None) -> str | None:
    if line_id is None:
        return None
    try:
        return normalize_uuid(line_id)
    except ValueError:
        _fail(f"--line-id «{line_id}» не является UUID линии.", EXIT_USAGE)


def _fail(message: str, code: int) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


main = click.Group(name="courier-feedback", commands=[hook, feedback_command],
                   help="Команды обратной связи курьера (до подключения к celery courier).")

if __name__ == "__main__":
    main()
