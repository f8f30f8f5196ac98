"""The HTML audit report in headless Chromium (Debian's ``chromium``): it renders its tables and charts, logs
no console error, opens no dialog (a hostile name's ``alert`` never runs), and its screenshot is not blank.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: fd 3 in, fd 4 out,
JSON messages ending in NUL), so console errors, exceptions, CSP violations and dialogs arrive as events
rather than being read from log text. ``.ci/run`` installs chromium; elsewhere the test is skipped if it is
missing (never in CI).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest

from enforcer.report.audit import audit_html
from tests.unit.test_audit import world
from tests.unit.test_audit_reports import HOSTILE, report, rich_world

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,2000",
    "--remote-debugging-pipe",
]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("CI") != "true", reason="chromium is not installed (apt-get install chromium)"
)


class Browser:
    """A headless Chromium and one page, over the DevTools pipe; every event is kept in ``events``."""

    def __init__(self, profile: Path) -> None:
        assert CHROMIUM is not None, "CI must install chromium (.ci/run)"
        to_child, self._out = os.pipe()
        self._in, from_child = os.pipe()
        command = " ".join([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"])
        # bash, not sh: dash takes only one-digit file descriptors in a redirection
        self.proc = subprocess.Popen(
            ["bash", "-c", f"exec {command} 3<&{to_child} 4>&{from_child}"],
            pass_fds=(to_child, from_child),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child)
        os.close(from_child)
        self._buffer = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            self.call(f"{domain}.enable", session=self.session)

    def call(self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None) -> Any:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._id:
                assert "error" not in reply, reply
                return reply["result"]
            self.events.append(reply)

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._in, 1 << 20)
            assert chunk, "chromium closed the DevTools pipe"
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        parsed: dict[str, Any] = json.loads(raw)
        return parsed

    def open(self, url: str) -> None:
        self.call("Page.navigate", {"url": url}, session=self.session)
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.events.append(self._read())

    def evaluate(self, expression: str) -> Any:
        found = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=self.session)
        return found["result"]["value"]

    def screenshot(self) -> bytes:
        shot = self.call("Page.captureScreenshot", {"format": "png"}, session=self.session)
        return base64.b64decode(shot["data"])

    def problems(self) -> list[str]:
        """Console errors, uncaught exceptions, error log entries (CSP violations among them), dialogs."""
        out = []
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                out.append(f"console: {params.get('args')}")
            elif method == "Runtime.exceptionThrown":
                out.append(f"exception: {params.get('exceptionDetails', {}).get('text')}")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                out.append(f"log: {params['entry'].get('text')}")
            elif method == "Page.javascriptDialogOpening":
                out.append(f"dialog: {params.get('message')}")
        return out

    def close(self) -> None:
        with contextlib.suppress(AssertionError):  # the pipe may close before the reply
            self.call("Browser.close")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._in)
        os.close(self._out)


@pytest.fixture
def browser(tmp_path: Path) -> Any:
    b = Browser(tmp_path / "profile")
    yield b
    b.close()


def test_the_report_renders_its_tables_and_charts_with_no_console_error(browser: Browser, tmp_path: Path) -> None:
    page = tmp_path / "audit.html"
    page.write_text(audit_html(report(rich_world(HOSTILE), world()), command="enforce audit playbooks/audit.yml"))
    browser.open(page.as_uri())
    dom = browser.evaluate(
        """JSON.stringify({
            tables: [...document.querySelectorAll('table')].map(t => t.className),
            rows: document.querySelectorAll('table.devices tbody tr').length,
            findings: document.querySelectorAll('table.findings tbody tr').length,
            charts: document.querySelectorAll('svg rect').length,
            scripts: document.scripts.length,
            text: document.body.innerText,
            height: document.body.scrollHeight,
            width: document.querySelector('table.devices').getBoundingClientRect().width
        })"""
    )
    found = json.loads(dom)
    assert found["tables"].count("devices") == 2 and found["tables"].count("findings") == 1
    assert {"forensics", "checklist", "kinds"} <= set(found["tables"])
    assert found["rows"] == 4 and found["findings"] > 5 and found["charts"] > 5
    assert found["scripts"] == 0
    assert HOSTILE in found["text"]  # the hostile site name is text on the page
    assert found["height"] > 1000 and found["width"] > 600
    assert browser.problems() == []
    shot = browser.screenshot()
    (tmp_path / "audit.png").write_bytes(shot)
    assert colours(shot) > 20  # not blank: text, bars and badges in many colours


def test_the_check_catches_a_console_error(browser: Browser, tmp_path: Path) -> None:
    """The negative control: a page that does log an error is caught (so an empty list means something)."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><p>x</p><script>console.error('boom'); undefinedThing();</script>")
    browser.open(page.as_uri())
    problems = browser.problems()
    assert any("boom" in p for p in problems) and any(p.startswith("exception") for p in problems)


def colours(png: bytes) -> int:
    """How many distinct colours an 8-bit RGB(A) PNG holds (sampled every 7th pixel of every 5th row)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, kind = 8, b"", 0, 0, 0
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        tag, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        if tag == b"IHDR":
            width, height, depth, kind = struct.unpack(">IIBB", data[:10])
            assert depth == 8 and kind in (2, 6), (depth, kind)
        elif tag == b"IDAT":
            idat += data
        pos += 12 + length
    channels = 4 if kind == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    seen: set[bytes] = set()
    for y in range(height):
        line = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        row = _unfilter(line[0], bytearray(line[1:]), previous, channels)
        if y % 5 == 0:
            seen |= {bytes(row[x : x + channels]) for x in range(0, stride, channels * 7)}
        previous = row
    return len(seen)


def _unfilter(kind: int, row: bytearray, up: bytearray, bpp: int) -> bytearray:
    for i in range(len(row)):
        left = row[i - bpp] if i >= bpp else 0
        upper, corner = up[i], up[i - bpp] if i >= bpp else 0
        if kind == 1:
            row[i] = (row[i] + left) & 255
        elif kind == 2:
            row[i] = (row[i] + upper) & 255
        elif kind == 3:
            row[i] = (row[i] + (left + upper) // 2) & 255
        elif kind == 4:
            p = left + upper - corner
            pa, pb, pc = abs(p - left), abs(p - upper), abs(p - corner)
            row[i] = (row[i] + (left if pa <= pb and pa <= pc else upper if pb <= pc else corner)) & 255
    return row
