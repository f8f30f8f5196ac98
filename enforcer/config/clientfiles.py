"""Rendering the config files an SSH-managed client (Frigate and the like) keeps credentials in.

One function serves both validation (with masked passwords, to catch a bad template before any
device is touched) and apply (with the real values, on the way to the host).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from enforcer.config.templating import TemplateError, render_file
from enforcer.model import Client, Device

PasswordFor = Callable[[str, str], str]


def render_client_file(source: str, client: Client, devices: Mapping[str, Device], password_for: PasswordFor) -> str:
    """Render ``source`` for ``client``.

    The template sees ``credentials`` (one entry per hold: ``device``, ``user``, ``password``,
    ``address``, ``port``, ``scheme``, ``channel``), plus ``client`` and ``site``.

    Example::

        {% for c in credentials %}FRIGATE_{{ c.device | upper }}_PASSWORD={{ c.password }}{% endfor %}
    """
    credentials: list[dict[str, Any]] = []
    for hold in client.holds:
        device = devices.get(hold.device)
        credentials.append(
            {
                "device": hold.device,
                "user": hold.user,
                "password": password_for(hold.device, hold.user),
                "address": device.address if device else "",
                "port": device.port if device else 0,
                "scheme": device.scheme if device else "",
                "channel": device.channel if device else None,
            }
        )
    try:
        return render_file(source, {"credentials": credentials, "client": client.name, "site": client.site})
    except TemplateError as exc:
        # A failure can quote a value ("dict object has no element 'the password'"): never a password.
        message = str(exc)
        for secret in sorted({c["password"] for c in credentials if c["password"]}, key=len, reverse=True):
            message = message.replace(secret, "***")
        raise TemplateError(message) from None
