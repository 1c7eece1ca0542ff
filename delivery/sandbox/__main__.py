"""Command line: python -m delivery.sandbox --listen 127.0.0.1:8086 [options]."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Any

from .config import DEMO_CONFIG_PATH, SandboxConfig, SandboxConfigError
from .server import SandboxServer

logger = logging.getLogger("delivery.sandbox")

EXIT_OK = 0
EXIT_CONFIG_ERROR = 2
EXIT_CANNOT_LISTEN = 3

DEFAULT_LISTEN = "127.0.0.1:8086"

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

EPILOG = """\
примеры:
  python -m delivery.sandbox
  python -m delivery.sandbox --listen 127.0.0.1:9000 --latency-ms 150
  python -m delivery.sandbox --config my-sandbox.json --store-dir var/sandbox-files

коды выхода: 0 — остановлена сигналом, 2 — ошибка в настройках,
3 — не удалось занять адрес.
"""


def parse_listen(value: str) -> tuple[str, int]:
    """Split HOST:PORT (or [IPv6]:PORT) into host and port."""
    host, separator, port_text = value.rpartition(":")
    if not separator or not host or not port_text.isdigit():
        raise argparse.ArgumentTypeError(
            f"адрес должен иметь вид ХОСТ:ПОРТ, например {DEFAULT_LISTEN}, "
            f"а указано {value!r}"
        )

    return host.strip("[]"), int(port_text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m delivery.sandbox",
        description="Локальная песочница 1С-Коннект: HTTP-сервер, который имитирует API "
        "1С-Коннект для тестов, замеров и демонстраций. Это не настоящий 1С-Коннект.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--listen", type=parse_listen, default=parse_listen(DEFAULT_LISTEN), metavar="ХОСТ:ПОРТ",
        help="адрес обратной петли и порт, порт 0 — любой свободный "
        f"(по умолчанию {DEFAULT_LISTEN})",
    )
    parser.add_argument(
        "--config", default=str(DEMO_CONFIG_PATH), metavar="ФАЙЛ",
        help="JSON-файл с логином, линиями и подписчиками (по умолчанию demo.json из пакета)",
    )
    parser.add_argument(
        "--latency-ms", type=int, metavar="МС",
        help="задержка перед каждым ответом API, мс (по умолчанию из файла настроек, иначе 0)",
    )
    parser.add_argument(
        "--rate-per-second", type=int, metavar="N",
        help="лимит запросов в секунду, 0 — без лимита (по умолчанию из файла настроек, иначе 20)",
    )
    parser.add_argument(
        "--rate-per-minute", type=int, metavar="N",
        help="лимит запросов в минуту, 0 — без лимита (по умолчанию из файла настроек, иначе 600)",
    )
    parser.add_argument(
        "--max-file-mb", type=int, metavar="МИБ",
        help="максимальный размер принимаемого файла, МиБ (по умолчанию из файла настроек, "
        "иначе 100)",
    )
    parser.add_argument(
        "--store-dir", metavar="ПАПКА",
        help="папка для копий принятых файлов (по умолчанию копии не сохраняются)",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="уровень журнала (по умолчанию INFO)",
    )
    return parser


def config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Collect the settings given on the command line. Absent options keep the file's values."""
    host, port = args.listen
    overrides: dict[str, Any] = {"host": host, "port": port}
    optional = {
        "latency_ms": args.latency_ms,
        "rate_per_second": args.rate_per_second,
        "rate_per_minute": args.rate_per_minute,
        "store_dir": args.store_dir,
    }
    if args.max_file_mb is not None:
        optional["max_file_bytes"] = args.max_file_mb * 1024 * 1024

    overrides.update({name: value for name, value in optional.items() if value is not None})
    return overrides


def main(argv: list[str] | None = None) -> int:
    """Run the sandbox until SIGINT or SIGTERM and return the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format=LOG_FORMAT)

    try:
        config = SandboxConfig.from_file(args.config, **config_overrides(args))
    except SandboxConfigError as error:
        print(f"Песочница не запущена: {error}", file=sys.stderr)
        return EXIT_CONFIG_ERROR

    server = SandboxServer(config)
    try:
        server.start()
    except OSError as error:
        print(
            f"Песочница не запущена: не удалось занять адрес {config.host}:{config.port}: "
            f"{error}. Укажите свободный порт в --listen.",
            file=sys.stderr,
        )
        return EXIT_CANNOT_LISTEN

    serve_until_signal(server)
    return EXIT_OK


def serve_until_signal(server: SandboxServer) -> None:
    """Print the start line, wait for SIGINT or SIGTERM, then stop the server."""
    stop_requested = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stop_requested.set())

    print(
        f"Песочница 1С-Коннект слушает {server.url} — это локальная имитация для тестов "
        "и демонстраций, а не настоящий 1С-Коннект.",
        flush=True,
    )
    stop_requested.wait()

    logger.info("Получен сигнал остановки, песочница завершает работу.")
    server.stop()


if __name__ == "__main__":
    sys.exit(main())
