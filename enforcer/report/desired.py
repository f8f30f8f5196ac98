"""The resolved desired state as plain data, secrets masked: what ``enforce inventory`` shows.

One serialisation serves the JSON output and the console tables, so the two cannot disagree about
what is shown, and no code path between them can leak a secret value.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from enforcer.credentials.secret import Secret
from enforcer.drivers.registry import protocol_of
from enforcer.model import TLS, Client, Device, Play, Playbook, ServiceCommands


def secret_view(secret: Secret | None) -> dict[str, Any] | None:
    """A secret as it may be shown: where it comes from, never what it is."""
    return None if secret is None else {"sensitive": True, "ref": secret.ref}


def tls_view(tls: TLS) -> dict[str, Any]:
    return {"verify": tls.verify, "ca": str(tls.ca) if tls.ca else None, "fingerprint": tls.fingerprint}


def device_view(device: Device) -> dict[str, Any]:
    return {
        "id": device.id,
        "role": device.role,
        "vendor": device.vendor,
        "protocol": protocol_of(device.vendor),
        "model": device.model,
        "address": device.address,
        "port": device.port,
        "sdk_port": device.sdk_port,
        "scheme": device.scheme,
        "tls": tls_view(device.tls),
        "accounts": {
            a.name: {"level": a.level, "password": secret_view(a.password), "present": a.present}
            for a in device.accounts
        },
        "lock_policy": {
            "enabled": device.lock_policy.enabled,
            "max_attempts": device.lock_policy.max_attempts,
            "lock_minutes": device.lock_policy.lock_minutes,
        },
        "firmware": None
        if device.firmware is None
        else {
            "version": device.firmware.version,
            "image": str(device.firmware.image),
            "sha256": device.firmware.sha256,
        },
        "isolation": device.isolation,
        "unlock": device.unlock,
        "recorder": device.recorder,
        "channel": device.channel,
        "channel_user": device.channel_user if device.recorder else None,
    }


def client_view(client: Client) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": client.id,
        "kind": client.kind,
        "holds": [{"device": h.device, "user": h.user} for h in client.holds],
    }
    if client.address is not None:
        view["address"] = client.address
    for field in fields(client.settings):
        value = getattr(client.settings, field.name)
        if value is None or value == ():
            continue
        if isinstance(value, Secret):
            view[field.name] = secret_view(value)
        elif isinstance(value, TLS):
            view[field.name] = {
                "verify": value.verify,
                "ca": str(value.ca) if value.ca else None,
                "fingerprint": value.fingerprint,
            }
        elif field.name == "files":
            view["files"] = [{"path": f.path, "template": str(f.template), "mode": f.mode} for f in value]
        elif isinstance(value, Path):
            view[field.name] = str(value)
        elif isinstance(value, ServiceCommands):
            view[field.name] = {k: v for k, v in asdict(value).items() if v is not None}
        else:
            view[field.name] = value
    return view


def play_view(play: Play) -> dict[str, Any]:
    return {
        "name": play.name,
        "inventory": str(play.inventory.path),
        "organisation": play.inventory.organisation,
        "enforce": sorted(play.enforce),
        "serial": list(play.serial),
        "max_fail_percentage": play.max_fail_percentage,
        "concurrency": play.concurrency,
        "sites": [
            {
                "name": site.name,
                "groups": list(site.groups),
                "devices": [device_view(d) for d in site.devices],
                "clients": [client_view(c) for c in site.clients],
            }
            for site in play.selected()
        ],
    }


def playbook_view(playbook: Playbook) -> dict[str, Any]:
    return {"playbook": str(playbook.path), "plays": [play_view(p) for p in playbook.plays]}
