"""Files an inventory names stay inside the inventory's folder, and are read within a size bound.

``plan`` sends each password, as a digest, to the address the inventory gives its device. A pull
request that could name ``file:/proc/self/environ``, ``file:../../.ssh/id_rsa`` or a symlink to
either would have CI hand a digest of that file to an address of its choosing. So every path in
an inventory that enforcer reads or writes (secret files, vault files, templates, firmware images,
the credential store) is relative, never climbs with ``..``, and after symlinks are resolved still lies inside the
folder. The rule is the same for all of them so that it is easy to state and to review.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath


class PathError(ValueError):
    """A path that leaves the inventory folder or cannot be read; the message says which."""


def inside(base: Path, name: str, what: str) -> Path:
    """``name``, relative to ``base``, resolved (symlinks followed) and checked to lie inside ``base``.

    ``what`` names the path in messages ("file", "template"); raises :class:`PathError`.
    """
    shown = clip(name)
    if not name.strip():
        raise PathError(f"{what} path is empty")
    if "\0" in name:
        raise PathError(f"{what} path {shown!r} holds a NUL character")
    pure = PurePosixPath(name)
    if pure.is_absolute():
        raise PathError(f"{what} {shown} is an absolute path: name it relative to the inventory folder")
    if ".." in pure.parts:
        raise PathError(f"{what} {shown} climbs out with '..': name it relative to the inventory folder")
    try:
        root = base.resolve()
        resolved = (root / pure).resolve()
    except (OSError, RuntimeError):  # a symlink loop, a name too long
        raise PathError(f"{what} {shown} cannot be resolved (a symlink loop?)") from None
    if not resolved.is_relative_to(root):
        raise PathError(f"{what} {shown} is a symlink that leads out of the inventory folder")
    return resolved


def read_text(path: Path, limit: int, what: str, shown: str) -> str:
    """A regular file's UTF-8 text, refused beyond ``limit`` bytes (never a FIFO or a device).

    Raises FileNotFoundError when it does not exist, PathError for anything else.
    """
    try:
        if not path.exists():
            raise FileNotFoundError(shown)
        if not path.is_file():
            raise PathError(f"{what} {shown} is not a regular file")
        with path.open("rb") as stream:
            raw = stream.read(limit + 1)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise PathError(f"cannot read {what} {shown}: {exc.strerror or exc}") from None
    if len(raw) > limit:
        raise PathError(f"{what} {shown} is larger than {limit // 1024:,} KB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PathError(f"{what} {shown} is not UTF-8 text") from None


def clip(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters for a message: a hostile name must not flood the output."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
