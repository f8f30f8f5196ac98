"""The credential store as one Ansible Vault file in the repository (the default backend).

The file is an Ansible Vault 1.1 document (AES256; PBKDF2-SHA256, 10,000 iterations; HMAC-SHA256) encrypted
with the inventory's vault password, so that ``ansible-vault view`` opens it and a file that
``ansible-vault create`` wrote is read (tested against the real ``ansible-vault``). A save is atomic and
durable: temp file, fsync, rename, fsync of the folder; a crash leaves the old file or the new one.

Runs on different sites of one inventory may save at once: each save reads the file again under an
exclusive ``flock`` on its folder and writes only what this run changed over it (:func:`merge`). A run
saves after every account it changes, so the file it last read or wrote is remembered: while the file
holds those same bytes, it is not decrypted and parsed again (a 50-site rotation spent most of its time
there).

enforcer writes the document as JSON (``{"devices": …, "version": 1}``), which is YAML too, so that
``ansible-vault view`` and ``edit`` and any YAML reader still read it; it reads JSON with the JSON
parser, and anything else (a store edited by hand, or written before) as YAML, on libyaml's parser
under the inventory loader's depth bound (:mod:`enforcer.config.plainyaml`). Why: a 10,000-device
store took 0.7 s to read as YAML and 7 ms as JSON, and writing it as YAML 0.35 s, as JSON 0.06 s.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import yaml

from enforcer.config import plainyaml, vault
from enforcer.credentials._document import Changed, Snapshot, dump, merge, parse
from enforcer.errors import CredentialStoreError, VaultError, VaultPasswordError

__all__ = ["VaultFile"]

#: What a YAML reader does not read as written in a quoted string: characters YAML refuses, and U+0085,
#: U+2028 and U+2029, which it takes for line breaks (and folds into a space).
_NOT_YAML_TEXT = re.compile("[^\x09\x0a\x0d\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class VaultFile:
    """One vault file holding the whole store."""

    def __init__(self, path: Path, password: bytes) -> None:
        if not password:
            raise CredentialStoreError("the credential store needs a non-empty vault password")
        self.path = path
        self._password = password
        self._seen: tuple[bytes, Snapshot] | None = None  # the file's bytes last read or written, parsed

    def __str__(self) -> str:
        return str(self.path)

    def load(self, sites: Collection[str] | None = None) -> Snapshot:
        """The document in the file (every site's: it is one file); a missing file is an empty store."""
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return Snapshot()
        except OSError as exc:
            raise CredentialStoreError(f"cannot read credential store {self.path}: {exc.strerror}") from None
        if self._seen is not None and self._seen[0] == text:
            return self._seen[1].copy()
        if not vault.is_vault(text):
            raise CredentialStoreError(f"credential store {self.path} is not an Ansible Vault file")
        try:
            plain = vault.decrypt(text, self._password)
        except VaultPasswordError:
            raise CredentialStoreError(f"wrong vault password for credential store {self.path}") from None
        except VaultError as exc:
            raise CredentialStoreError(f"credential store {self.path}: {exc}") from None
        try:
            data = _document(plain.decode("utf-8"))
        except (UnicodeDecodeError, yaml.YAMLError):
            # The parser's message quotes the offending text, which may be a password.
            raise CredentialStoreError(f"credential store {self.path} does not hold valid YAML") from None
        snapshot = parse(data, str(self.path), self.path.name)
        self._seen = (text, snapshot)
        return snapshot.copy()

    def save(self, mine: Snapshot, changed: Changed) -> Snapshot:
        """Write ``changed`` over what the file holds now; returns the document as written."""
        with _folder_locked(self.path.parent):
            merged = merge(self.load(), mine, changed)
            text = _as_yaml_text(json.dumps(dump(merged), indent=1, sort_keys=True, ensure_ascii=False)) + "\n"
            data = vault.encrypt(text.encode("utf-8"), self._password).encode("ascii")
            try:
                _atomic_write(self.path, data)
            except OSError as exc:
                raise CredentialStoreError(f"cannot write credential store {self.path}: {exc.strerror or exc}") from exc
            self._seen = (data, merged)
        return merged.copy()


def _document(text: str) -> Any:
    """The store's document: JSON as enforcer writes it, or YAML as a person may have edited it."""
    if text.lstrip().startswith("{"):
        with contextlib.suppress(ValueError, RecursionError):  # not JSON: a YAML flow mapping, say
            return json.loads(text)
    return plainyaml.safe_load(text)


def _as_yaml_text(text: str) -> str:
    """JSON that every YAML reader reads as written: the characters above escaped (``\\u0085``), every other
    one as it is (escaping astral ones would give a YAML reader two halves of a surrogate pair)."""
    return _NOT_YAML_TEXT.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _write(stream: BinaryIO, data: bytes) -> None:
    """Write all of ``data``; a seam for tests that simulate a crash midway."""
    stream.write(data)


def _atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` so that a crash leaves either the old or the new content."""
    folder = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)  # mode 0600
    try:
        with os.fdopen(fd, "wb") as stream:
            _write(stream, data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


@contextlib.contextmanager
def _folder_locked(folder: Path) -> Iterator[None]:
    """An exclusive ``flock`` on the folder, between reading the store again and replacing it; where a
    folder cannot be opened or locked, saves go unlocked, as they did before runs could overlap."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_CLOEXEC)
    except OSError:
        yield
        return
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(folder, flags)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some file systems refuse to fsync a folder
            os.fsync(fd)
    finally:
        os.close(fd)
