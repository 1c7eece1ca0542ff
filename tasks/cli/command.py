"""Click command classes for `celery -A tasks courier …`: Russian help, usage errors and exit codes.

Click prints its own help headings and usage errors in English, and these classes
replace them with Russian text. They also turn "Redis is down" and "a setting is invalid" into
one Russian sentence and a named exit code, whichever subcommand hits them.
"""

from urllib.parse import urlsplit

import click
import kombu.exceptions
import redis
from celery.bin.base import CeleryCommand

from config import SettingsError, load_settings
from tasks.cli.output import ExitCode, stop

HELP_OPTION_TEXT = "Показать эту справку и выйти."
DEFAULT_OPTION_GROUP = "Параметры"
OPTIONS_METAVAR = "[ПАРАМЕТРЫ]"

# Click (8.2 and later) raises this for a group called without a subcommand, and it
# prints the help itself, so it must not be translated.
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())
_NO_SUCH_COMMAND = getattr(click.exceptions, "NoSuchCommand", ())


class CourierUsageError(click.UsageError):
    """A usage error shown in Russian, ending the command with ExitCode.INVALID_USAGE."""

    exit_code = int(ExitCode.INVALID_USAGE)

    def show(self, file=None) -> None:
        """Print the usage line, where to find help, and the error, all in Russian."""
        if self.ctx is not None:
            click.echo(self.ctx.get_usage(), err=True)
            click.echo(f"Справка: {self.ctx.command_path} --help\n", err=True)
        click.echo(f"Ошибка: {self.format_message()}", err=True)


def _param_hint(error: click.BadParameter) -> str:
    """Name the parameter as the user typed it: --since, or DOCUMENT_ID for an argument."""
    if error.param_hint:
        hint = error.param_hint
        return " / ".join(hint) if isinstance(hint, (list, tuple)) else str(hint)
    param = error.param
    if isinstance(param, click.Argument):
        return param.human_readable_name
    if param is not None:
        return " / ".join(param.opts)
    return "параметра"


def _did_you_mean(possibilities) -> str:
    if not possibilities:
        return ""
    return " Возможно, имелось в виду: " + ", ".join(sorted(possibilities)) + "."


def translate_usage_error(error: click.UsageError) -> str:
    """Translate Click's English usage error into a Russian sentence."""
    if isinstance(error, click.MissingParameter):
        kind = "аргумент" if error.param is not None and \
            error.param.param_type_name == "argument" else "параметр"
        return f"не указан {kind} {_param_hint(error)}."
    if isinstance(error, click.BadParameter):
        return f"неверное значение {_param_hint(error)}: {error.message}"
    if isinstance(error, click.NoSuchOption):
        return f"неизвестный параметр {error.option_name}.{_did_you_mean(error.possibilities)}"
    if isinstance(error, click.BadOptionUsage):
        if "requires" in error.message:
            return f"после {error.option_name} нужно значение."
        return f"параметр {error.option_name} не принимает значения."
    if _NO_SUCH_COMMAND and isinstance(error, _NO_SUCH_COMMAND):
        return f"нет команды «{error.command_name}».{_did_you_mean(error.possibilities)}"
    return f"неверный вызов команды ({error.message})."


class RussianHelpMixin:
    """Russian usage line, headings and usage errors for a Click command or group."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("options_metavar", OPTIONS_METAVAR)
        super().__init__(*args, **kwargs)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        pieces = self.collect_usage_pieces(ctx)
        formatter.write_usage(ctx.command_path, " ".join(pieces), prefix="Использование: ")

    def format_arguments(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        records = [param.get_help_record(ctx) for param in self.get_params(ctx)
                   if isinstance(param, click.Argument) and getattr(param, "help", None)]
        if records:
            with formatter.section("Аргументы"):
                formatter.write_dl(records)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Write the options grouped by CeleryOption's `help_group`, under Russian headings."""
        sections: dict[str, list] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None or isinstance(param, click.Argument):
                continue
            group = getattr(param, "help_group", None) or DEFAULT_OPTION_GROUP
            sections.setdefault(group, []).append(record)
        for name, records in sections.items():
            with formatter.section(name):
                formatter.write_dl(records)

    def get_help_option(self, ctx: click.Context):
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = HELP_OPTION_TEXT
        return option

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Parse as Click does, but report usage errors and extra arguments in Russian."""
        strict = not ctx.allow_extra_args
        ctx.allow_extra_args = True
        try:
            rest = super().parse_args(ctx, args)
        except (CourierUsageError, _NO_ARGS_IS_HELP):
            raise
        except click.UsageError as error:
            raise CourierUsageError(translate_usage_error(error), ctx) from None
        finally:
            ctx.allow_extra_args = not strict

        if strict and rest and not ctx.resilient_parsing and not isinstance(self, click.Group):
            raise CourierUsageError(f"лишние аргументы: {' '.join(rest)}.", ctx)
        return rest


def redis_address(url: str) -> str:
    """Describe a Redis URL as host:port/db (or the socket path), leaving out any password."""
    split = urlsplit(url)
    if split.scheme == "unix":
        return split.path
    try:
        port = split.port or 6379
    except ValueError:
        port = "?"
    database = split.path.lstrip("/") or "0"
    return f"{split.hostname or 'localhost'}:{port}/{database}"


class CourierCommand(RussianHelpMixin, CeleryCommand):
    """An admin subcommand: Russian help, and Redis or settings trouble as a named exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except redis.AuthenticationError:
            address = redis_address(load_settings().REDIS_URL)
            stop(ctx, f"Redis по адресу {address} отклонил пароль: исправьте пароль в "
                      "REDIS_URL и повторите команду.", ExitCode.UNAVAILABLE)
        except (redis.ConnectionError, redis.TimeoutError,
                kombu.exceptions.OperationalError):
            address = redis_address(load_settings().REDIS_URL)
            stop(ctx, f"Redis по адресу {address} недоступен: запустите redis-server или "
                      "исправьте REDIS_URL и повторите команду.", ExitCode.UNAVAILABLE)
        except SettingsError as error:
            stop(ctx, f"Ошибка настройки: {error}", ExitCode.CONFIG)


class CourierGroup(RussianHelpMixin, click.Group):
    """The `courier` group, whose subcommands default to CourierCommand."""

    command_class = CourierCommand

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("subcommand_metavar", "КОМАНДА [АРГУМЕНТЫ]...")
        super().__init__(*args, **kwargs)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_options(ctx, formatter)
        self.format_commands(ctx, formatter)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=70)))
        if rows:
            with formatter.section("Команды"):
                formatter.write_dl(rows)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        try:
            return super().resolve_command(ctx, args)
        except CourierUsageError:
            raise
        except click.UsageError as error:
            raise CourierUsageError(translate_usage_error(error), ctx) from None
