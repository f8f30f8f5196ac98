"""Reading a Frigate config as Frigate does (protocols/clients.md §2.1), to find whom it logs into. Pure.

What a Frigate-like host needs of its ``config.yml``: every camera's credentials, from its ffmpeg input
URLs (``rtsp://user:password@host:554/...``, the password raw: Frigate URL-encodes it itself, and its
pattern ``://[a-zA-Z0-9_-]+:[\\S]+@`` takes the password up to the last ``@``) and from its ``onvif``
block (``host``, ``port``, ``user``, ``password``). ``{FRIGATE_NAME}`` placeholders in those fields are
replaced from the host's ``FRIGATE_*`` secret files, and an unknown one is a load error, as in Frigate;
``{{`` and ``}}`` stand for braces. A config Frigate would refuse raises :class:`ConfigInvalid` with
Frigate's own wording, naming the line where YAML says it; never a value from the file.

    >>> [c.password for c in load(EXAMPLE, {"FRIGATE_PW": "s3cret"})]
    ['s3cret']
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

INVALID = "Your configuration is invalid.\nSee the official documentation at docs.frigate.video.\n\n"
_URL = re.compile(
    r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?:(?P<user>[a-zA-Z0-9_-]+):(?P<password>\S+)@)?"
    r"(?P<host>[^:/?#@\s]+)(?::(?P<port>\d+))?"
)
EXAMPLE = """\
cameras:
  front:
    ffmpeg:
      inputs:
        - path: rtsp://admin:{FRIGATE_PW}@127.10.0.2:554/live
          roles: [detect]
"""


class ConfigInvalid(ValueError):
    """A config Frigate would refuse to load; the message is what it would say."""


@dataclass(frozen=True)
class CameraLogin:
    """A credential the software logs into a camera with: where (``port`` None: the URL gives none)."""

    camera: str
    host: str
    port: int | None
    user: str
    password: str


def load(text: str, secrets: Mapping[str, str]) -> list[CameraLogin]:
    """Every distinct camera login in the config ``text``; ConfigInvalid if Frigate would not load it."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"Line {mark.line + 1}: " if mark is not None else ""
        raise ConfigInvalid(f"{INVALID}{where}{getattr(exc, 'problem', None) or 'not YAML'}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("cameras"), dict) or not doc["cameras"]:
        raise ConfigInvalid(f"{INVALID}cameras: Field required")
    logins: dict[tuple[str, str, str, str], CameraLogin] = {}
    for name, camera in doc["cameras"].items():
        for login in _camera(str(name), camera, secrets):
            logins.setdefault((login.camera, login.host, login.user, login.password), login)
    return list(logins.values())


def _camera(name: str, camera: Any, secrets: Mapping[str, str]) -> list[CameraLogin]:
    at = f"cameras -> {name}"
    if not isinstance(camera, dict):
        raise ConfigInvalid(f"{INVALID}{at}: Input should be a valid dictionary")
    inputs = (camera.get("ffmpeg") or {}).get("inputs") if isinstance(camera.get("ffmpeg"), dict) else None
    if not isinstance(inputs, list) or not inputs:
        raise ConfigInvalid(f"{INVALID}{at} -> ffmpeg -> inputs: Field required")
    found = []
    for i, item in enumerate(inputs):
        here = f"{at} -> ffmpeg -> inputs -> {i}"
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            raise ConfigInvalid(f"{INVALID}{here} -> path: Field required")
        if not isinstance(item.get("roles"), list) or not item["roles"]:
            raise ConfigInvalid(f"{INVALID}{here} -> roles: Field required")
        url = _URL.match(substitute(item["path"], secrets, here))
        if url is None:
            raise ConfigInvalid(f"{INVALID}{here} -> path: not a stream URL")
        if url["user"] is not None:
            port = int(url["port"]) if url["port"] else None
            found.append(CameraLogin(name, url["host"], port, url["user"], url["password"]))
    onvif = camera.get("onvif")
    if onvif is not None:
        if not isinstance(onvif, dict) or not isinstance(onvif.get("host"), str):
            raise ConfigInvalid(f"{INVALID}{at} -> onvif -> host: Field required")
        fields = {k: substitute(str(onvif.get(k, "")), secrets, f"{at} -> onvif") for k in ("host", "user", "password")}
        if fields["user"]:
            port = onvif.get("port", 8000)
            if not isinstance(port, int):
                raise ConfigInvalid(f"{INVALID}{at} -> onvif -> port: Input should be a valid integer")
            found.append(CameraLogin(name, fields["host"], port, fields["user"], fields["password"]))
    return found


def substitute(value: str, secrets: Mapping[str, str], where: str) -> str:
    """``value`` with its ``{FRIGATE_*}`` placeholders filled in (Frigate's ``EnvString``)."""
    try:
        return value.format_map(_Only(secrets))
    except KeyError as exc:
        raise ConfigInvalid(f"{INVALID}{where}: Invalid substitution found: {exc.args[0]}") from None
    except (ValueError, IndexError, AttributeError):
        raise ConfigInvalid(f"{INVALID}{where}: Invalid substitution found (a stray brace: write {{{{ }}}})") from None


class _Only(dict[str, str]):
    """Only ``FRIGATE_*`` names resolve; anything else in braces is an unknown substitution."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        super().__init__({k: v for k, v in secrets.items() if k.startswith("FRIGATE_")})

    def __missing__(self, key: str) -> str:
        raise KeyError(key)
