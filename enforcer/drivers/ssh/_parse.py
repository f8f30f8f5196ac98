"""Whom a host's config file says its software logs into: addresses and users, never passwords. Pure.

Understood: a Frigate config (YAML with ``cameras``: each camera's ffmpeg input URLs,
``rtsp://user:password@host:port/...``, and its ``onvif`` block). Any other file (an ``.env`` of
``FRIGATE_*`` values, a config in another shape) says nothing here: its facts list no stored path.

    >>> [(p.address, p.user) for p in stored_paths(
    ...     "cameras: {door: {ffmpeg: {inputs: [{path: 'rtsp://admin:x@10.0.0.3:554/s'}]}}}", True)]
    [('10.0.0.3', 'admin')]
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from enforcer.drivers.client import StoredPath

# Frigate's own pattern for credentials in a URL takes the password up to the last '@' (clients.md §2.1).
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://(?P<user>[a-zA-Z0-9_-]+):\S+@(?P<host>[^:/?#@\s]+)")


def stored_paths(text: str, running: bool) -> list[StoredPath]:
    """The (address, user) pairs a Frigate config holds, each once, in the order written."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    cameras = doc.get("cameras") if isinstance(doc, dict) else None
    if not isinstance(cameras, dict):
        return []
    found: dict[tuple[str, str], StoredPath] = {}
    for camera in cameras.values():
        for address, user in _camera(camera):
            found.setdefault((address, user), StoredPath(address, user, enabled=running))
    return list(found.values())


def _camera(camera: Any) -> list[tuple[str, str]]:
    if not isinstance(camera, dict):
        return []
    out = []
    ffmpeg = camera.get("ffmpeg")
    inputs = ffmpeg.get("inputs") if isinstance(ffmpeg, dict) else None
    for item in inputs if isinstance(inputs, list) else []:
        url = _URL.match(item.get("path", "")) if isinstance(item, dict) and isinstance(item.get("path"), str) else None
        if url is not None:
            out.append((url["host"], url["user"]))
    onvif = camera.get("onvif")
    if isinstance(onvif, dict) and isinstance(onvif.get("host"), str) and onvif.get("user"):
        out.append((onvif["host"], str(onvif["user"])))
    return out
