"""``enforce lab generate`` then ``enforce lab serve``, as a person runs them: real processes and sockets."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from requests.auth import HTTPDigestAuth

from enforcer.cli import main

ENFORCE = str(Path(sys.executable).parent / "enforce")


@pytest.mark.lab
def test_generate_validate_serve_and_stop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "fleet"
    assert (
        main(
            [
                "lab",
                "generate",
                "--sites",
                "2",
                "--cameras",
                "4",
                "--seed",
                "7",
                "--problems",
                "stale_viewer,locked",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "10 devices, 2 clients" in capsys.readouterr().out
    assert main(["validate", str(out / "site.yml")]) == 0
    capsys.readouterr()

    server = subprocess.Popen(
        [ENFORCE, "lab", "serve", str(out), "--time-scale", "0.01"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = out / "lab.ready.json"
        deadline = time.monotonic() + 20
        while not ready.exists() and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.05)
        info = json.loads(ready.read_text())
        assert len(info["devices"]) == 10 and len(info["clients"]) == 2
        camera = next(d for d in info["devices"] if d["role"] == "camera" and not d["problems"])
        password = camera["accounts"][0]["password"]
        reply = requests.get(
            f"http://{camera['address']}:{camera['port']}/ISAPI/System/deviceInfo",
            auth=HTTPDigestAuth(camera["accounts"][0]["name"], password),
            timeout=5,
        )
        assert reply.status_code == 200 and camera["model"] in reply.text
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            stdout, stderr = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()
            raise AssertionError("enforce lab serve did not stop within 20 s of SIGTERM") from None
    assert server.returncode == 0, stderr
    assert "lab ready: 10 devices, 2 clients" in stdout and "lab stopped" in stdout


def test_generate_refuses_bad_options_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["lab", "generate", "--vendor", "axis", "--out", str(tmp_path / "x")])
    assert exit.value.code == 1
    assert "invalid choice: 'axis'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit:
        main(["lab", "generate", "--problems", "stale_viewr", "--out", str(tmp_path / "y")])
    assert exit.value.code == 1
    assert "unknown problem 'stale_viewr'" in capsys.readouterr().err


def test_serve_without_a_spec_says_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "serve", str(tmp_path)]) == 1
    assert "run enforce lab generate first" in capsys.readouterr().err
