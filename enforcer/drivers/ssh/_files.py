"""Putting rendered files on a host so that no reader, and no crash, ever sees half of one.

Each file is written beside its target (``PATH.enforcer-new``), given its mode before any byte of it is
written (it holds passwords), flushed to disk (``sync FILE``: paramiko's SFTP has no fsync) and renamed
over the target with the POSIX rename of OpenSSH's SFTP, which replaces it in one step. The file it
replaces is kept, the same way, as ``PATH.enforcer-previous`` (the host's own backup, readable only as
the original was), and the folder is synced so that the rename itself survives a power cut.
:func:`restore` puts the previous files back the same way, or removes a file that did not exist before.
"""

from __future__ import annotations

import posixpath
import shlex
import stat
from collections.abc import Sequence
from dataclasses import dataclass

from enforcer.drivers.ssh._session import Session

NEW, PREVIOUS = ".enforcer-new", ".enforcer-previous"


@dataclass(frozen=True)
class Remote:
    """A file as the host holds it now: its bytes and mode (``data`` None: it does not exist)."""

    path: str
    data: bytes | None
    mode: int | None


@dataclass(frozen=True)
class Planned:
    """A file to install: where, what, with which mode, and what it replaces."""

    path: str
    data: bytes
    mode: int
    before: Remote


def read(session: Session, path: str) -> Remote:
    """What ``path`` holds on the host (a missing file is ``data=None``; its folder must exist)."""
    with session.remote(f"reading {path}"):
        try:
            attrs = session.sftp.stat(path)
        except FileNotFoundError:
            folder = posixpath.dirname(path) or "/"
            try:
                session.sftp.stat(folder)
            except FileNotFoundError:
                raise session.fail(f"{folder} does not exist on {session.host}: create it, or fix the path") from None
            return Remote(path, None, None)
        with session.sftp.open(path, "rb") as stream:
            data = stream.read()
    return Remote(path, data, stat.S_IMODE(attrs.st_mode) if attrs.st_mode is not None else None)


def install(session: Session, files: Sequence[Planned]) -> None:
    """Write every file in place, each atomically, keeping what it replaced as ``PATH.enforcer-previous``."""
    staged: list[tuple[str, str]] = []
    for f in files:
        if f.before.data is not None:
            staged.append(
                (_write(session, f.path + PREVIOUS, f.before.data, f.before.mode or f.mode), f.path + PREVIOUS)
            )
        staged.append((_write(session, f.path, f.data, f.mode), f.path))
    _sync(session, [tmp for tmp, _ in staged])
    for tmp, target in staged:
        with session.remote(f"replacing {target}"):
            session.sftp.posix_rename(tmp, target)
    _sync(session, sorted({posixpath.dirname(target) or "/" for _, target in staged}))


def restore(session: Session, files: Sequence[Planned]) -> None:
    """Put back what each file replaced (atomically), or remove the ones that did not exist before."""
    back = [
        Planned(f.path, f.before.data, f.before.mode or f.mode, f.before) for f in files if f.before.data is not None
    ]
    for f in files:
        if f.before.data is None:
            with session.remote(f"removing {f.path}"):
                session.sftp.remove(f.path)
    staged = [(_write(session, f.path, f.data, f.mode), f.path) for f in back]
    _sync(session, [tmp for tmp, _ in staged])
    for tmp, target in staged:
        with session.remote(f"restoring {target}"):
            session.sftp.posix_rename(tmp, target)
    _sync(session, sorted({posixpath.dirname(f.path) or "/" for f in files}))


def _write(session: Session, target: str, data: bytes, mode: int) -> str:
    """``data`` in a temporary file beside ``target``, with ``mode`` set before it is written; its path."""
    tmp = target + NEW if not target.endswith(PREVIOUS) else target + ".new"
    with session.remote(f"writing {tmp}"):
        with session.sftp.open(tmp, "wb") as stream:
            stream.chmod(mode)  # before the first byte: a password is never readable by others
            stream.write(data)
        session.sftp.chmod(tmp, mode)
    return tmp


def _sync(session: Session, paths: Sequence[str]) -> None:
    """Flush ``paths`` (files, or folders after a rename) to disk: ``sync FILE…``, else a plain ``sync``."""
    if not paths:
        return
    quoted = " ".join(shlex.quote(p) for p in paths)
    ran = session.run(f"sync -- {quoted} 2>/dev/null || sync")
    if not ran.ok:
        raise session.fail(f"sync on {session.host} failed (exit {ran.status}): the files may not be on disk yet")
