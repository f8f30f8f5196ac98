"""The asyncio floor: an aiohttp client sending exactly the requests enforce sent, and nothing else.

Usage (the harness runs it; by hand)::

    .venv/bin/python bench/floor.py REQUESTS.json [--concurrency 20]

``REQUESTS.json`` maps each device's URL to its user, password and requests in order (method, target),
as read from ``enforce -vv``'s request log (see :func:`requests_from_log`). Each device gets its own
digest state (the first request meets the 401 challenge, as enforce's probe does, and every later one
is signed at once with a growing nonce count) and its own kept-alive connection; ``--concurrency``
devices are read at a time, each device's requests one after the other, as enforce reads them.
Bodies are read, not parsed: this is the floor of the transport and digest, which enforce must
approach with all it does on top (XML, the guard, the store, its output).

aiohttp is the bench extra's one dependency (``pip install -e '.[bench]'``): the standard library has
no asyncio HTTP client, and aiohttp is what a Python program reading many devices at once would use.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import secrets
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: A request line of ``enforce -vv`` (the transport's log): URL, method, target, status.
_LINE = re.compile(r'(https?://[^\s"]+) "([A-Z]+) (\S+) HTTP/1\.1" (\d{3}) \d+')


def requests_from_log(lines: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    """Each device's requests in order, from an ``enforce -vv`` log; a 401 that the next request to the same
    target answers (the unauthenticated probe, then the signed request) is one request, which meets the
    challenge and is sent again signed."""
    found: dict[str, list[tuple[str, str, int]]] = {}
    for line in lines:
        match = _LINE.search(line)
        if match:
            url, method, target, status = match.groups()
            found.setdefault(url, []).append((method, target, int(status)))
    out: dict[str, list[tuple[str, str]]] = {}
    for url, sent in found.items():
        kept = []
        for i, (method, target, status) in enumerate(sent):
            following = sent[i + 1] if i + 1 < len(sent) else None
            if status == 401 and following is not None and following[:2] == (method, target):
                continue  # the middleware meets this challenge itself
            kept.append((method, target))
        out[url] = kept
    return out


class _Digest:
    """RFC 7616 digest (MD5, qop=auth) for one device: the challenge of its first 401, then every request
    signed at once with a growing nonce count, as enforce does. Not aiohttp's DigestAuthMiddleware: it
    reads a Hikvision recorder's ``domain="::"`` as the only URI it may sign for, and then meets a 401
    before every request (two requests for one)."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password
        self.challenge: dict[str, str] = {}
        self.count = 0

    def adopt(self, header: str) -> None:
        self.challenge = dict(_PAIR.findall(header.partition(" ")[2]))
        self.count = 0

    def authorization(self, method: str, target: str) -> str:
        c = self.challenge
        self.count += 1
        nc, cnonce = f"{self.count:08x}", secrets.token_hex(8)
        ha1 = _md5(f"{self.user}:{c['realm']}:{self.password}")
        ha2 = _md5(f"{method}:{target}")
        response = _md5(f"{ha1}:{c['nonce']}:{nc}:{cnonce}:auth:{ha2}")
        fields = {"username": self.user, "realm": c["realm"], "nonce": c["nonce"], "uri": target}
        head = ", ".join(f'{k}="{v}"' for k, v in fields.items())
        opaque = f', opaque="{c["opaque"]}"' if "opaque" in c else ""
        return f'Digest {head}, qop=auth, nc={nc}, cnonce="{cnonce}", response="{response}"{opaque}'


_PAIR = re.compile(r'(\w+)="?([^",]*)"?')


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


async def _device(session: Any, url: str, user: str, password: str, requests: list[tuple[str, str]]) -> int:
    digest = _Digest(user, password)
    failed = 0
    for method, target in requests:
        headers = {"Authorization": digest.authorization(method, target)} if digest.challenge else {}
        async with session.request(method, url + target, headers=headers) as reply:
            await reply.read()
            status, challenge = reply.status, reply.headers.get("WWW-Authenticate", "")
        if status == 401 and challenge.startswith("Digest") and not headers:  # the first request's challenge
            digest.adopt(challenge)
            headers = {"Authorization": digest.authorization(method, target)}
            async with session.request(method, url + target, headers=headers) as reply:
                await reply.read()
                status = reply.status
        failed += status != 200
    return failed


async def _all(plan: dict[str, Any], concurrency: int) -> int:
    import aiohttp

    gate = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=1, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(url: str, entry: dict[str, Any]) -> int:
            async with gate:
                return await _device(session, url, entry["user"], entry["password"], entry["requests"])

        results = await asyncio.gather(*(one(url, entry) for url, entry in plan.items()))
    return sum(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("requests", type=Path)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    plan = json.loads(args.requests.read_text(encoding="utf-8"))
    failed = asyncio.run(_all(plan, args.concurrency))
    if failed:
        sys.exit(f"{failed} requests did not come back 200")


if __name__ == "__main__":
    main()
