"""Where a lab listens: a block of loopback addresses chosen free at start, so that labs run side by side.

A generated fleet's device addresses are written for one block (``127.10.x.y`` …, one second octet per
250 sites) and its inventory reads the block from one small vars file (``lab: "127.10"``, ``lab1:
"127.11"`` …). At start the lab takes the first block whose every address and port it can bind, moves
its devices there, and rewrites that vars file: the repository follows the lab wherever it lands.

    >>> moved("127.10.3.2", 10, 42, 1)
    '127.42.3.2'
    >>> moved("127.200.0.10", 10, 42, 1)  # not a device block (a viewer's source): stays
    '127.200.0.10'
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterable

from enforcer.lab.spec import LabSpec

#: The second octets a lab may take (127.0.x.x is the enforcer's and the tests' hand-built devices';
#: 127.200 and up the simulated viewers' sources).
FIRST, LAST = 10, 199


class NoFreeBlock(OSError):
    """Every candidate block has an address or port another process holds."""


def moved(address: str, base: int, to: int, blocks: int) -> str:
    """``address`` moved from the blocks starting at ``base`` to those starting at ``to``."""
    parts = address.split(".")
    if len(parts) == 4 and parts[0] == "127" and base <= int(parts[1]) < base + blocks:
        parts[1] = str(int(parts[1]) - base + to)
    return ".".join(parts)


def listeners(spec: LabSpec) -> list[tuple[str, int]]:
    """Every (address, port) the lab listens on: its devices', its Milestone servers' and its hosts' sshd."""
    found = [(d.address, d.port) for d in spec.devices] + [(m.address, m.port) for m in spec.milestone]
    return found + [(h.address, h.ssh_port) for h in spec.hosts]


def blocks_of(spec: LabSpec, base: int) -> int:
    """How many consecutive blocks from ``base`` the spec's devices and servers use."""
    used = {int(a.split(".")[1]) for a, _ in listeners(spec) if a.startswith("127.")}
    inside = [b for b in used if b >= base]
    return max(inside) - base + 1 if inside else 1


def relocate(spec: LabSpec, to: int) -> None:
    """Move every device (and each recorder's channel to it), every Milestone server (and the hardware it
    stores) and every Linux host to the blocks starting at ``to``."""
    if spec.base is None or to == spec.base:
        return
    count = blocks_of(spec, spec.base)
    for device in spec.devices:
        device.address = moved(device.address, spec.base, to, count)
        for channel in device.channels:
            channel.address = moved(channel.address, spec.base, to, count)
    for server in spec.milestone:
        server.address = moved(server.address, spec.base, to, count)
        for hw in server.hardware:
            hw.address = moved(hw.address, spec.base, to, count)
    for host in spec.hosts:  # a site's Linux host sits in its block, as its sshd listens there
        host.address = moved(host.address, spec.base, to, count)
    spec.base = to


def choose(spec: LabSpec, wanted: int | None = None) -> int:
    """The block to serve on: ``wanted`` if given, else the spec's own if free, else the first free one."""
    if spec.base is None:
        raise ValueError("this lab's addresses are fixed: it has no block to move")
    count = blocks_of(spec, spec.base)
    if wanted is not None:
        if not FIRST <= wanted <= LAST - count + 1:
            raise ValueError(f"--base must be between {FIRST} and {LAST - count + 1}")
        return wanted
    candidates = [spec.base, *(b for b in range(FIRST, LAST - count + 2) if b != spec.base)]
    for base in candidates:
        if _free((moved(a, spec.base, base, count), p) for a, p in listeners(spec)):
            return base
    raise NoFreeBlock(errno.EADDRINUSE, f"no free block of {count} × 65,536 loopback addresses in 127.{FIRST}–{LAST}")


def vars_text(spec: LabSpec) -> str:
    """The inventory's vars file for the spec's block."""
    assert spec.base is not None
    count = blocks_of(spec, spec.base)
    names = {f"lab{k}" if k else "lab": f'"127.{spec.base + k}"' for k in range(count)}
    return (
        "# Written by the lab each time it starts: the loopback block its devices listen on.\n"
        f"vars: {{{', '.join(f'{k}: {v}' for k, v in names.items())}}}\n"
    )


def _free(endpoints: Iterable[tuple[str, int]]) -> bool:
    """Whether every (address, port) can be bound now (each probe socket is closed at once)."""
    for address, port in endpoints:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # as the servers bind: a port whose last connections linger in TIME_WAIT is free to them
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, port))
            except OSError:
                return False
    return True
