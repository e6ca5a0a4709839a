"""Files that hold personal data (exports, codebooks, reports, the SQLite database): where they
may be written, with which modes, and how.

- `check_target` refuses an output path that already exists (unless `overwrite`) and, always, one
  that is or leads to a protected file (the database and its -wal/-shm/-journal, the
  questionnaire) or lies inside a protected folder (the installed packages). Paths are compared
  after resolving symlinks, and an existing target is also compared by inode (a hard link).
- `StagedFiles` writes outputs under temporary names (created exclusively, mode 0600) in the
  target's folder and renames them into place when complete (`os.replace`; without `overwrite`
  by `os.link`, which refuses a target that appeared meanwhile). On any failure the temporary
  files are removed.
- `make_private_dirs` creates the missing folders of a path with mode 0700.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
COMPANIONS = ("-wal", "-shm", "-journal")
"""The files SQLite keeps beside a database."""


class OutputRefused(ValueError):
    """An output path that must not be written; the message (one line) says why."""


class OutputExists(OutputRefused):
    """The output path exists and overwriting was not asked for."""


@dataclass(frozen=True, slots=True)
class Protected:
    """What an output must never replace, even when asked to overwrite."""

    files: tuple[tuple[Path, str], ...] = ()
    """(path, what it is: "the database", "the questionnaire", …)."""
    folders: tuple[tuple[Path, str], ...] = ()

    @staticmethod
    def of(
        *,
        databases: Iterable[Path] = (),
        others: Iterable[tuple[Path, str]] = (),
        folders: Iterable[tuple[Path, str]] = (),
    ) -> Protected:
        """SQLite `databases` with their companions, `others` files, `folders`."""
        files: list[tuple[Path, str]] = []
        for database in databases:
            files.append((database, "the database"))
            files += [(Path(f"{database}{s}"), f"the database's {s[1:]}") for s in COMPANIONS]
        files += list(others)
        return Protected(tuple(files), tuple(folders))

    def reason(self, path: Path) -> str | None:
        """Why `path` is protected, or None."""
        real = Path(os.path.realpath(path))
        for protected, what in self.files:
            if real == Path(os.path.realpath(protected)) or _same_file(path, protected):
                return what
        for folder, what in self.folders:
            if real.is_relative_to(os.path.realpath(folder)):
                return what
        return None


NOTHING_PROTECTED = Protected()


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # either does not exist
        return False


def check_target(path: Path, *, overwrite: bool, protected: Protected = NOTHING_PROTECTED) -> None:
    """Raise `OutputRefused` (or `OutputExists`) when `path` must not be written."""
    what = protected.reason(path)
    if what is not None:
        raise OutputRefused(f"{path} is {what}: never written over, even with --force")
    if path.is_dir():
        raise OutputRefused(f"{path} is a folder: give the path of a file")
    if os.path.lexists(path) and not overwrite:
        raise _exists(path)


def _exists(path: Path) -> OutputExists:
    return OutputExists(f"{path} already exists: choose another name, or add --force")


def make_private_dirs(folder: Path) -> None:
    """Create `folder` and its missing parents, each with mode 0700 (existing ones untouched)."""
    missing: list[Path] = []
    current = folder
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile by another process
            path.mkdir(mode=PRIVATE_DIR)


_warned: set[Path] = set()


def warn_if_shared(path: Path, what: str) -> None:
    """Log a warning (once per path) when `path` is readable or writable by other users."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return
    if mode & 0o077 and path not in _warned:
        _warned.add(path)
        log.warning(
            "%s %s is open to other users (mode %s): it holds personal data, `chmod 600` it",
            what,
            path,
            oct(mode),
        )


def create_private_file(path: Path) -> bool:
    """Create `path` empty with mode 0600 if it does not exist; True if it was created."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return False
    os.close(descriptor)
    return True


class StagedFiles:
    """Outputs written under temporary names, renamed into place together at the end.

    The targets are checked first (`check_target`), then again when renamed. Use `commit()` once
    everything is written, `discard()` on failure (both are safe to call after a failure)."""

    def __init__(
        self, *paths: Path, overwrite: bool = False, protected: Protected = NOTHING_PROTECTED
    ) -> None:
        self.final = paths
        self.overwrite = overwrite
        self.protected = protected
        for path in paths:
            check_target(path, overwrite=overwrite, protected=protected)
        temporary: list[Path] = []
        self.temporary: tuple[Path, ...] = ()
        try:
            for path in paths:
                make_private_dirs(path.parent)
                descriptor, name = tempfile.mkstemp(
                    prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
                )
                os.close(descriptor)  # mkstemp made it 0600, exclusively
                temporary.append(Path(name))
        except BaseException:
            for made in temporary:
                made.unlink(missing_ok=True)
            raise
        self.temporary = tuple(temporary)

    def open_text(self, index: int = 0, *, encoding: str, newline: str | None = None) -> IO[str]:
        return open(self.temporary[index], "w", encoding=encoding, newline=newline)

    def commit(self) -> tuple[Path, ...]:
        try:
            for path in self.final:
                check_target(path, overwrite=self.overwrite, protected=self.protected)
            for temporary, final in zip(self.temporary, self.final, strict=True):
                os.chmod(temporary, PRIVATE_FILE)  # whatever a library writing it did
                if self.overwrite:
                    os.replace(temporary, final)
                else:
                    _rename_no_clobber(temporary, final)
        except BaseException:
            self.discard()
            raise
        return self.final

    def discard(self) -> None:
        for temporary in self.temporary:
            temporary.unlink(missing_ok=True)


def _rename_no_clobber(temporary: Path, final: Path) -> None:
    """Move `temporary` to `final`, refusing a `final` that exists (atomically where the file
    system has hard links)."""
    try:
        os.link(temporary, final)
    except FileExistsError as error:
        raise _exists(final) from error
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        if os.path.lexists(final):  # no hard links here: check, then rename
            raise _exists(final) from error
        os.replace(temporary, final)
        return
    temporary.unlink()


@contextlib.contextmanager
def staged_text(
    path: Path, *, overwrite: bool = False, protected: Protected = NOTHING_PROTECTED, encoding: str
) -> Iterator[IO[str]]:
    """A text file written to `path` through `StagedFiles`: committed when the block ends
    normally, discarded otherwise."""
    staged = StagedFiles(path, overwrite=overwrite, protected=protected)
    try:
        with staged.open_text(encoding=encoding) as handle:
            yield handle
    except BaseException:
        staged.discard()
        raise
    staged.commit()
