"""A drop: one sidecar plus the files it lists, and the checks that make it deliverable.

The watcher runs these checks before it claims a drop and the worker runs them again
before it uploads, so a drop that broke between the two still fails with a reason.
"""

import hashlib
import stat
from dataclasses import dataclass, field
from pathlib import Path

from delivery.errors import InvalidDropError
from delivery.folders import read_json
from delivery.sidecar import SIDECAR_SUFFIX, Sidecar, read_sidecar

CLAIM_FILE = "claim.json"
HASH_CHUNK_BYTES = 1024 * 1024

# Names 1C or Windows leave behind while writing, never part of a drop: *.tmp, ~$*,
# hidden files (.*), Thumbs.db and desktop.ini. Windows names ignore case, so the tests
# run on a case-folded name, and "Счёт.TMP" is ignored as well.
_IGNORED_SUFFIXES = (".tmp",)
_IGNORED_PREFIXES = ("~$", ".")
_IGNORED_NAMES = frozenset({"thumbs.db", "desktop.ini"})


def is_ignored(name: str) -> bool:
    """Tell whether a name in the inbox is a temporary or system file."""
    # Plain string tests instead of fnmatch: the watcher calls this for every inbox
    # entry on every scan, and fnmatch costs a few microseconds per pattern.
    folded = name.casefold()
    return (folded.endswith(_IGNORED_SUFFIXES) or folded.startswith(_IGNORED_PREFIXES)
            or folded in _IGNORED_NAMES)


def is_sidecar_name(name: str) -> bool:
    """Tell whether a name in the inbox is a sidecar (a committed drop marker)."""
    return name.lower().endswith(SIDECAR_SUFFIX) and not is_ignored(name)


def files_with_stem(names, sidecar_name: str) -> list[str]:
    """Pick the names that share the sidecar's stem, e.g. Счёт 1.pdf for Счёт 1.json."""
    stem = sidecar_name[: -len(SIDECAR_SUFFIX)]
    picked = []
    for name in names:
        if name == sidecar_name or is_ignored(name) or is_sidecar_name(name):
            continue
        extension = name[len(stem) + 1:]
        if name.startswith(stem + ".") and extension and "." not in extension:
            picked.append(name)
    return sorted(picked)


def default_file_names(folder: Path, sidecar_name: str) -> list[str]:
    """List the files in `folder` that share the sidecar's stem."""
    return files_with_stem((entry.name for entry in folder.iterdir()), sidecar_name)


def listed_file_names(folder: Path, sidecar_name: str, sidecar: Sidecar) -> list[str]:
    """Return the files a drop consists of: the sidecar's list or the default by stem."""
    if sidecar.files is not None:
        return list(sidecar.files)
    return default_file_names(folder, sidecar_name)


def check_file(path: Path, max_bytes: int) -> int:
    """Check one listed file; return its size or raise InvalidDropError with the fix."""
    name = path.name
    try:
        info = path.lstat()
    except FileNotFoundError:
        raise InvalidDropError(
            f"Файл «{name}», указанный в сопроводительном JSON, не найден: положите его "
            "рядом с JSON или исправьте поле files.", file=name, field="files") from None
    if stat.S_ISLNK(info.st_mode):
        raise InvalidDropError(
            f"«{name}» — символическая ссылка: положите в папку сам файл.", file=name,
            field="files")
    if stat.S_ISDIR(info.st_mode):
        raise InvalidDropError(
            f"«{name}» — папка, а не файл: укажите в поле files файлы, а не папки.",
            file=name, field="files")
    if not stat.S_ISREG(info.st_mode):
        raise InvalidDropError(
            f"«{name}» — не обычный файл: положите в папку обычный файл.", file=name,
            field="files")
    if name.lower().endswith(".mxl"):
        raise InvalidDropError(
            f"Файл «{name}» в формате MXL 1C не откроется у клиента: сохраните печатную "
            "форму в PDF (ТабличныйДокумент.Записать(Путь, ТипФайлаТабличногоДокумента.PDF)).",
            file=name, field="files")
    if info.st_size == 0:
        raise InvalidDropError(
            f"Файл «{name}» пуст (0 байт): выгрузите печатную форму заново.", file=name,
            field="files")
    if info.st_size > max_bytes:
        raise InvalidDropError(
            f"Файл «{name}» весит {info.st_size / 1048576:.1f} МБ, больше предела "
            f"MAX_FILE_MB = {max_bytes / 1048576:.0f} МБ: уменьшите файл или увеличьте "
            "MAX_FILE_MB.", file=name, field="files")
    return info.st_size


def file_sha256(path: Path) -> str:
    """Return the SHA-256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class ClaimedDrop:
    """A drop in work/<drop_id>/ with its parsed sidecar and the claim record."""

    drop_id: str
    folder: Path
    sidecar_name: str
    sidecar: Sidecar
    file_names: list[str]
    claimed_at: str
    claim: dict = field(default_factory=dict)

    @property
    def file_paths(self) -> list[Path]:
        return [self.folder / name for name in self.file_names]

    def check_files(self, max_bytes: int) -> None:
        """Run the file checks again in the work folder."""
        for path in self.file_paths:
            check_file(path, max_bytes)


def load_claimed_drop(folder: Path) -> ClaimedDrop:
    """Load a drop from its work folder; raise InvalidDropError if it cannot be read."""
    claim = read_json(folder / CLAIM_FILE)
    sidecar_name = claim["sidecar"]
    sidecar = read_sidecar(folder / sidecar_name)
    return ClaimedDrop(
        drop_id=claim["drop_id"],
        folder=folder,
        sidecar_name=sidecar_name,
        sidecar=sidecar,
        file_names=list(claim["files"]),
        claimed_at=claim["claimed_at"],
        claim=claim,
    )
