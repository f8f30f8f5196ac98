"""The lab's firmware image format, shared by every simulated vendor.

A text header, a blank line, then arbitrary bytes::

    ENFORCER-LAB-FIRMWARE
    model=DS-2CD2146G2-ISU
    version=V5.7.18
    build=240901

    <payload>

    >>> parse_image(build_image("DS-1", "V5.7.18", "240901")).version
    'V5.7.18'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAGIC = b"ENFORCER-LAB-FIRMWARE\n"
# V5.7.18 (ISAPI), 2.800.0000016.0.R (Dahua) or V2.820.00AC000.0.R (Amcrest)
_VERSION = re.compile(r"^V?\d+(\.[0-9A-Za-z]+)+$")
_BUILD = re.compile(r"^\d{6}$|^\d{4}-\d{2}-\d{2}$")  # 240901 (ISAPI) or 2024-10-30 (Dahua)


class ImageError(ValueError):
    """Not a lab firmware image."""


@dataclass(frozen=True)
class FirmwareImage:
    model: str
    version: str
    build: str


def build_image(model: str, version: str, build: str, payload: bytes = b"\0" * 64) -> bytes:
    """A firmware image for ``model`` at ``version`` (``V5.7.18``, ``2.800.0000016.0.R``), ``build``
    ``YYMMDD`` or ``YYYY-MM-DD``."""
    return MAGIC + f"model={model}\nversion={version}\nbuild={build}\n\n".encode() + payload


def parse_image(data: bytes) -> FirmwareImage:
    """Read the header of an uploaded image; :class:`ImageError` when it is not one."""
    if not data.startswith(MAGIC):
        raise ImageError("not an enforcer lab firmware image")
    head, sep, _ = data[len(MAGIC) :].partition(b"\n\n")
    if not sep:
        raise ImageError("image header not terminated")
    fields: dict[str, str] = {}
    try:
        for line in head.decode("utf-8").splitlines():
            key, eq, val = line.partition("=")
            if not eq:
                raise ImageError(f"bad header line {line!r}")
            fields[key.strip()] = val.strip()
    except UnicodeDecodeError as exc:
        raise ImageError("image header is not text") from exc
    missing = {"model", "version", "build"} - fields.keys()
    if missing:
        raise ImageError(f"image header lacks {sorted(missing)}")
    if not _VERSION.match(fields["version"]) or not _BUILD.match(fields["build"]):
        raise ImageError("bad version or build in image header")
    return FirmwareImage(fields["model"], fields["version"], fields["build"])


def build_label(build: str) -> str:
    """``build`` as Hikvision shows it: ``build 240606``."""
    return build if build.startswith("build ") else f"build {build}"
