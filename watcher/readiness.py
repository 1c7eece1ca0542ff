"""Decide when a sidecar in the inbox is a complete, stable drop that may be claimed.

Events are only hints; this tracker works from inbox listings. A drop is ready when its
sidecar parses and every listed file exists, opens, and has kept its size and mtime for
the settle time. A sidecar that still misses files after the missing-file time, or that
is invalid once it stopped changing, is rejected with a Russian reason.

The tracker keeps about 500 bytes per pending sidecar (ids, file names, signatures),
never the parsed model. It parses a sidecar again only when its size or mtime changed.
So thousands of pending drops cost little memory and little CPU per scan.
"""

import os
import stat
import sys
import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from delivery.drop import check_file, is_ignored, is_sidecar_name
from delivery.errors import InvalidDropError
from delivery.folders import printable_name
from delivery.sidecar import InvalidSidecarError, read_sidecar
from watcher.listing import FileSignature, InboxListing


class Verdict(Enum):
    """Outcome of one look at a sidecar: wait, claim or reject."""

    WAIT = "wait"
    READY = "ready"
    REJECT = "reject"


@dataclass
class Decision:
    """One look at a sidecar: the verdict, the drop's files and, on REJECT, the reason."""

    verdict: Verdict
    document_id: str | None = None
    file_names: list[str] = field(default_factory=list)
    error: InvalidDropError | None = None


@dataclass(slots=True)
class _Candidate:
    first_seen: float
    parsed_for: FileSignature | None = None
    document_id: str | None = None
    # The sidecar's `files`; None means "every file with the sidecar's stem".
    files: tuple[str, ...] | None = None
    error: InvalidDropError | None = None
    signature: tuple = ()
    stable_since: float = 0.0
    # When the sidecar stopped being readable or a listed file stopped opening.
    blocked_since: float | None = None


class ReadinessTracker:
    """Remembers what each pending sidecar and its files looked like, across scans.

    `clock` returns monotonic seconds; tests pass a fake one.
    """

    def __init__(self, inbox: Path, settle_seconds: float, missing_file_seconds: float,
                 max_file_bytes: int, clock=time.monotonic):
        self.inbox = inbox
        self.settle_seconds = settle_seconds
        self.missing_file_seconds = missing_file_seconds
        self.max_file_bytes = max_file_bytes
        self.clock = clock
        self._candidates: dict[str, _Candidate] = {}
        # Wall-clock seconds spent reading and parsing sidecars since the last take.
        self._parse_seconds = 0.0

    def __len__(self) -> int:
        return len(self._candidates)

    def evaluate(self, name: str, listing: InboxListing) -> Decision:
        """Look at one sidecar of the listing and decide: wait, claim or reject."""
        now = self.clock()
        candidate = self._candidates.get(name)
        if candidate is None:
            candidate = self._candidates[name] = _Candidate(first_seen=now)

        sidecar_signature = listing.signature(name)
        if candidate.parsed_for != sidecar_signature:
            parse_started = time.perf_counter()
            read_error = self._parse(name, candidate, sidecar_signature)
            self._parse_seconds += time.perf_counter() - parse_started
            if read_error is not None:
                stem_files = listing.files_with_stem(name)
                return self._blocked(name, candidate, stem_files, now, read_error)

        files = self._file_names(name, candidate, listing)
        signature = (sidecar_signature,) + tuple(listing.signature(item) for item in files)
        if signature != candidate.signature:
            candidate.signature = signature
            candidate.stable_since = now
        if now - candidate.stable_since < self.settle_seconds:
            return Decision(Verdict.WAIT, candidate.document_id, files)

        if candidate.error is not None:
            return Decision(Verdict.REJECT, candidate.document_id, files, candidate.error)
        return self._check_complete(name, candidate, files, listing, now)

    def take_parse_seconds(self) -> float:
        """Return the seconds spent parsing sidecars since the last call, and reset them."""
        spent, self._parse_seconds = self._parse_seconds, 0.0
        return spent

    def forget(self, name: str) -> None:
        """Stop tracking a sidecar that was claimed or rejected."""
        self._candidates.pop(name, None)

    def prune(self, present: set[str]) -> None:
        """Drop candidates whose sidecar left the inbox (renamed back by 1C, or claimed)."""
        for name in [name for name in self._candidates if name not in present]:
            del self._candidates[name]

    def known_files(self, name: str, listing: InboxListing) -> list[str]:
        """Return the files a sidecar is known to bring, for moving a failed drop along."""
        candidate = self._candidates.get(name)
        if candidate is None:
            return listing.files_with_stem(name)
        return self._file_names(name, candidate, listing)

    def _parse(self, name: str, candidate: _Candidate,
               signature: FileSignature | None) -> OSError | None:
        """Read the sidecar into the candidate; return the OSError when it cannot be read."""
        candidate.parsed_for = signature
        candidate.document_id, candidate.files, candidate.error = None, None, None
        try:
            self._check_sidecar_entry(name)
            sidecar = read_sidecar(self.inbox / name)
        except InvalidSidecarError as error:
            candidate.document_id = error.document_id
            candidate.files = tuple(error.file_names) if error.file_names else None
            candidate.error = error
        except InvalidDropError as error:
            candidate.error = error
        except OSError as error:
            # Locked by 1C while it writes, or gone: look again on the next scan.
            candidate.parsed_for = None
            return error
        else:
            candidate.document_id = sidecar.document_id
            if sidecar.files is not None:
                candidate.files = tuple(sys.intern(item) for item in sidecar.files)
        candidate.blocked_since = None
        return None

    def _check_sidecar_entry(self, name: str) -> None:
        """Reject a sidecar whose name or file type makes it unusable before reading it."""
        shown = printable_name(name)
        if shown != name:
            raise InvalidDropError(
                f"Имя сопроводительного файла {shown} содержит байты, которые не читаются "
                "как UTF-8: смонтируйте общую папку с опцией iocharset=utf8 или переименуйте "
                "файл и выгрузите документ заново.", file=shown)
        info = os.lstat(self.inbox / name)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidDropError(
                f"«{name}» — не обычный файл (папка или ссылка), а сопроводительным может быть "
                "только файл JSON: положите в inbox сам файл.", file=name)

    def _file_names(self, name: str, candidate: _Candidate, listing: InboxListing) -> list[str]:
        if candidate.files is not None and candidate.error is None:
            return list(candidate.files)
        stem_files = listing.files_with_stem(name)
        if candidate.files is None:
            return stem_files
        # A rejected sidecar takes along what it listed and what shares its stem.
        return sorted(set(candidate.files) | set(stem_files))

    def _check_complete(self, name: str, candidate: _Candidate, files: list[str],
                        listing: InboxListing, now: float) -> Decision:
        unusable = self._unusable_name(files)
        if unusable is not None:
            return Decision(Verdict.REJECT, candidate.document_id, files, unusable)

        missing = [item for item in files if item not in listing]
        if missing or not files and candidate.files is None:
            return self._waiting_for_files(name, candidate, files, missing, listing, now)
        return self._check_files(name, candidate, files, now)

    def _unusable_name(self, files: list[str]) -> InvalidDropError | None:
        """Find a listed name that the inbox listing can never show as a drop file."""
        for item in files:
            shown = printable_name(item)
            if shown != item:
                return InvalidDropError(
                    f"Имя файла {shown} содержит байты, которые не читаются как UTF-8: "
                    "смонтируйте общую папку с опцией iocharset=utf8 или переименуйте файл и "
                    "выгрузите документ заново.", file=shown, field="files")
            if is_ignored(item):
                return InvalidDropError(
                    f"Файл «{item}» указан в files, но курьер пропускает временные и "
                    "служебные файлы (*.tmp, ~$*, скрытые, Thumbs.db): дайте файлу "
                    "окончательное имя и исправьте поле files.", file=item, field="files")
            if is_sidecar_name(item):
                return InvalidDropError(
                    f"Файл «{item}» указан в files, но файлы .json в inbox курьер считает "
                    "сопроводительными: смените расширение файла или упакуйте его в архив "
                    "и исправьте поле files.", file=item, field="files")
        return None

    def _waiting_for_files(self, name: str, candidate: _Candidate, files: list[str],
                           missing: list[str], listing: InboxListing, now: float) -> Decision:
        if now - candidate.first_seen < self.missing_file_seconds:
            return Decision(Verdict.WAIT, candidate.document_id, files)

        waited = f"{self.missing_file_seconds:.0f} с"
        if missing:
            listed = ", ".join(f"«{item}»" for item in missing)
            message = (f"Сопроводительный файл {name} ждал файлы {listed} {waited}, "
                       "но они так и не появились: положите их в inbox и выгрузите JSON "
                       f"заново или исправьте поле files.{self._mangling_hint(missing, listing)}")
        else:
            stem = name[:-len(".json")]
            message = (f"Рядом с {name} за {waited} не появилось ни одного файла с именем "
                       f"«{stem}.*», а поле files не задано: положите файлы рядом с JSON, "
                       "перечислите их в files или укажите \"files\": [] для текстового "
                       "сообщения.")
        error = InvalidDropError(message, file=missing[0] if missing else name, field="files")
        return Decision(Verdict.REJECT, candidate.document_id, files, error)

    @staticmethod
    def _mangling_hint(missing: list[str], listing: InboxListing) -> str:
        for item in missing:
            mangled = listing.mangled_form(item)
            if mangled is not None:
                return (f" В inbox есть «{mangled}»: похоже, общая папка смонтирована без "
                        "опции iocharset=utf8, и кириллица в именах превращается в «?».")
        return ""

    def _check_files(self, name: str, candidate: _Candidate, files: list[str],
                     now: float) -> Decision:
        try:
            for item in files:
                path = self.inbox / item
                check_file(path, self.max_file_bytes)
                with open(path, "rb"):
                    pass
        except InvalidDropError as error:
            return Decision(Verdict.REJECT, candidate.document_id, files, error)
        except OSError as error:
            return self._blocked(name, candidate, files, now, error)
        candidate.blocked_since = None
        return Decision(Verdict.READY, candidate.document_id, files)

    def _blocked(self, name: str, candidate: _Candidate, files: list[str], now: float,
                 error: OSError) -> Decision:
        """Wait while a sidecar cannot be read or a file cannot be opened, then reject."""
        if candidate.blocked_since is None:
            candidate.blocked_since = now
        if now - candidate.blocked_since < self.missing_file_seconds:
            return Decision(Verdict.WAIT, candidate.document_id, files)

        shown = Path(error.filename).name if error.filename else name
        reason = error.strerror or type(error).__name__
        message = (f"Файл «{shown}» дропа {name} не открывается уже "
                   f"{self.missing_file_seconds:.0f} с ({reason}): закройте его в программе, "
                   "которая его держит, или выдайте курьеру права на чтение, затем выгрузите "
                   "документ заново.")
        rejection = InvalidDropError(message, file=shown, field="files", detail=str(error))
        return Decision(Verdict.REJECT, candidate.document_id, files, rejection)
