"""One non-recursive listing of the inbox: the only source of truth for a scan.

Events only wake the scan loop early; what the watcher decides always rests on a fresh
listing like this one. Ignored names (`*.tmp`, `~$*`, hidden files, Thumbs.db) never
enter it, so a sidecar written as `NAME.json.tmp` shows up once, at its rename.
"""

import os
import re
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from delivery.drop import is_ignored
from delivery.sidecar import SIDECAR_SUFFIX

# Size in bytes and mtime in ns of one inbox entry, from lstat, packed into one int as
# mtime_ns << 64 | size: two entries compare equal exactly when both values do, and one
# int costs a third of the memory of a tuple of two, which counts at 100,000 entries.
FileSignature = int

_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def file_signature(size: int, mtime_ns: int) -> FileSignature:
    """Pack an entry's size and mtime into one FileSignature."""
    return mtime_ns << 64 | size


@dataclass
class InboxListing:
    """The inbox's entries at one moment, with its sidecars and, on demand, a stem index."""

    entries: dict[str, FileSignature]
    sidecars: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, entries: dict[str, FileSignature]) -> "InboxListing":
        """Build a listing and its sorted sidecar names from entries.

        `entries` contains no ignored names, so one suffix test per name finds the
        sidecars, without the full is_ignored() check.
        """
        sidecars = sorted(name for name in entries if name[-5:].lower() == SIDECAR_SUFFIX)
        return cls(entries, sidecars)

    @cached_property
    def stems(self) -> dict[str, list[str]]:
        """Drop-file candidates grouped by stem; built only when a sidecar lacks `files`."""
        index: dict[str, list[str]] = {}
        for name in self.entries:
            if name[-5:].lower() == SIDECAR_SUFFIX:
                continue
            stem, _, extension = name.rpartition(".")
            if stem and extension:
                index.setdefault(stem, []).append(name)
        return index

    def __contains__(self, name: str) -> bool:
        return name in self.entries

    def signature(self, name: str) -> FileSignature | None:
        """Return the entry's packed size and mtime, or None when it is not in the inbox."""
        return self.entries.get(name)

    def files_with_stem(self, sidecar_name: str) -> list[str]:
        """Return the files paired with a sidecar by stem, e.g. "Акт 9.pdf" for "Акт 9.json"."""
        stem = sidecar_name[: -len(SIDECAR_SUFFIX)]
        return sorted(self.stems.get(stem, ()))

    def mangled_form(self, name: str) -> str | None:
        """Return the inbox name that `name` becomes when a mount turns non-ASCII into "?".

        A CIFS mount whose iocharset cannot represent a character lists it as "?", so
        "Счёт.pdf" written from Windows appears here as "????.pdf".
        """
        if not _NON_ASCII.search(name):
            return None
        mangled = _NON_ASCII.sub("?", name)
        return mangled if mangled in self.entries else None


def list_inbox(inbox: Path) -> InboxListing:
    """List the inbox without following links; raise OSError when it cannot be read."""
    entries: dict[str, FileSignature] = {}
    with os.scandir(inbox) as iterator:
        for entry in iterator:
            if is_ignored(entry.name):
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                # Renamed away between readdir and lstat: claimed by another watcher.
                continue
            # Interned, so each scan's names share one object with the tracker's keys.
            entries[sys.intern(entry.name)] = file_signature(info.st_size, info.st_mtime_ns)
    return InboxListing.of(entries)
