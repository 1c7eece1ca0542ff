"""Decide when a sidecar in the inbox is a complete, stable drop that may be claimed.

Events are only hints; this tracker works from inbox listings. A drop is ready when its
sidecar parses and every listed file exists, opens, and has kept its size and mtime for
the settle time. A sidecar that still misses files after the missing-file time, or that
is invalid once it stopped changing, is rejected with a Russian reason.
"""

import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from delivery.drop import check_file, files_with_stem
from delivery.errors import InvalidDropError
from delivery.sidecar import Sidecar, read_sidecar

# (size in bytes, mtime in ns) of one inbox entry, from lstat.
FileSignature = tuple[int, int]


class Verdict(Enum):
    """What the watcher does with a sidecar after one look."""

    WAIT = "wait"
    READY = "ready"
    REJECT = "reject"


@dataclass
class Decision:
    """One look at a sidecar: the verdict and what it is based on."""

    verdict: Verdict
    sidecar: Sidecar | None = None
    file_names: list[str] = field(default_factory=list)
    error: InvalidDropError | None = None


@dataclass
class _Candidate:
    first_seen: float
    signature: tuple = ()
    stable_since: float = 0.0
    parsed_for: FileSignature | None = None
    sidecar: Sidecar | None = None
    error: InvalidDropError | None = None


class ReadinessTracker:
    """Remembers what each pending sidecar and its files looked like, across scans."""

    def __init__(self, inbox: Path, settle_seconds: float, missing_file_seconds: float,
                 max_file_bytes: int, clock=time.monotonic):
        self.inbox = inbox
        self.settle_seconds = settle_seconds
        self.missing_file_seconds = missing_file_seconds
        self.max_file_bytes = max_file_bytes
        self.clock = clock
        self._candidates: dict[str, _Candidate] = {}

    def __len__(self) -> int:
        return len(self._candidates)

    def evaluate(self, name: str, listing: dict[str, FileSignature]) -> Decision:
        """Look at one sidecar given the current inbox listing."""
        now = self.clock()
        candidate = self._candidates.setdefault(name, _Candidate(first_seen=now))
        sidecar_signature = listing[name]
        if candidate.parsed_for != sidecar_signature:
            self._parse(name, candidate, sidecar_signature)

        if candidate.sidecar is None and candidate.error is None:
            return Decision(Verdict.WAIT)
        if candidate.sidecar is None:
            files: list[str] = []
            missing: list[str] = []
        else:
            files = self._file_names(name, candidate.sidecar, listing)
            missing = [item for item in files if item not in listing]

        signature = (sidecar_signature,) + tuple(listing.get(item) for item in files)
        if signature != candidate.signature:
            candidate.signature = signature
            candidate.stable_since = now
        if now - candidate.stable_since < self.settle_seconds:
            return Decision(Verdict.WAIT)

        if candidate.error is not None:
            return Decision(Verdict.REJECT, error=candidate.error,
                            file_names=files_with_stem(listing, name))
        if missing or not files and candidate.sidecar.files is None:
            return self._waiting_for_files(name, candidate, files, missing, now)
        return self._check_files(candidate.sidecar, files)

    def forget(self, name: str) -> None:
        """Stop tracking a sidecar that was claimed or rejected."""
        self._candidates.pop(name, None)

    def prune(self, present: set[str]) -> None:
        """Drop candidates whose sidecar left the inbox (renamed back by 1C, or claimed)."""
        for name in [name for name in self._candidates if name not in present]:
            del self._candidates[name]

    def _parse(self, name: str, candidate: _Candidate, signature: FileSignature) -> None:
        candidate.parsed_for = signature
        try:
            candidate.sidecar = read_sidecar(self.inbox / name)
            candidate.error = None
        except InvalidDropError as error:
            candidate.sidecar, candidate.error = None, error
        except OSError:
            # Gone or locked mid-read (claimed by another watcher, or 1C still writing).
            candidate.parsed_for = None
            candidate.sidecar, candidate.error = None, None

    def _file_names(self, name: str, sidecar: Sidecar, listing) -> list[str]:
        if sidecar.files is not None:
            return list(sidecar.files)
        return files_with_stem(listing, name)

    def _waiting_for_files(self, name: str, candidate: _Candidate, files: list[str],
                           missing: list[str], now: float) -> Decision:
        if now - candidate.first_seen < self.missing_file_seconds:
            return Decision(Verdict.WAIT, sidecar=candidate.sidecar, file_names=files)
        minutes = self.missing_file_seconds / 60
        if missing:
            listed = ", ".join(f"«{item}»" for item in missing)
            message = (f"Сопроводительный файл {name} ждал файлы {listed} {minutes:.0f} мин, "
                       "но они так и не появились: положите их в inbox и выгрузите JSON "
                       "заново или исправьте поле files.")
        else:
            stem = name[:-len(".json")]
            message = (f"Рядом с {name} нет ни одного файла с именем «{stem}.*», а поле files "
                       "не задано: положите файлы рядом с JSON, перечислите их в files или "
                       "укажите \"files\": [] для текстового сообщения.")
        error = InvalidDropError(message, file=name, field="files")
        return Decision(Verdict.REJECT, sidecar=candidate.sidecar, file_names=files,
                        error=error)

    def _check_files(self, sidecar: Sidecar, files: list[str]) -> Decision:
        try:
            for item in files:
                path = self.inbox / item
                check_file(path, self.max_file_bytes)
                with open(path, "rb"):
                    pass
        except InvalidDropError as error:
            return Decision(Verdict.REJECT, sidecar=sidecar, file_names=files, error=error)
        except OSError:
            return Decision(Verdict.WAIT, sidecar=sidecar, file_names=files)
        return Decision(Verdict.READY, sidecar=sidecar, file_names=files)
