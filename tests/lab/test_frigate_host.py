"""The lab's Frigate-like host: it reads its config as Frigate does, logs into the cameras it finds from its
own address, reads the config again only when restarted, and obeys ``frigatectl`` as a service manager.

The config rules are tested pure; the host runs in a fleet of one camera, with its real sshd."""

from __future__ import annotations

import getpass
import io
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import paramiko
import pytest

from enforcer.lab.fleet import Fleet
from enforcer.lab.frigate import CTL, host_dir
from enforcer.lab.frigate.config import CameraLogin, ConfigInvalid, load
from enforcer.lab.spec import LabHost, LabHostCamera, LabSpec
from enforcer.lab.sshd import free_port, host_key_pair
from tests.lab.conftest import CAM_PW, camera

CAM, HOST = "127.0.0.2", "127.0.0.40"


def config(path: str = "rtsp://admin:{pw}@127.0.0.2:554/live", extra: str = "") -> str:
    return f"cameras:\n  door:\n    ffmpeg:\n      inputs:\n        - path: {path}\n          roles: [detect]\n{extra}"


# -- the config, as Frigate reads it ------------------------------------------------------------------


def test_the_password_is_raw_up_to_the_last_at_sign_as_frigates_pattern_takes_it() -> None:
    [login] = load(config("rtsp://viewer:p@ss:w0rd@127.0.0.2:554/live"), {})
    assert login == CameraLogin("door", "127.0.0.2", 554, "viewer", "p@ss:w0rd")


def test_placeholders_come_from_frigate_secrets_and_an_unknown_one_is_a_load_error() -> None:
    text = config("rtsp://admin:{FRIGATE_DOOR_PW}@127.0.0.2:554/live")
    assert load(text, {"FRIGATE_DOOR_PW": "s3cret"})[0].password == "s3cret"
    with pytest.raises(ConfigInvalid, match="Invalid substitution found: FRIGATE_DOOR_PW"):
        load(text, {})
    with pytest.raises(ConfigInvalid, match="Invalid substitution found: HOME"):
        load(config("rtsp://admin:{HOME}@127.0.0.2/live"), {"HOME": "/root"})  # FRIGATE_* only
    assert load(config("rtsp://admin:a{{b}}c@127.0.0.2/live"), {})[0].password == "a{b}c"  # braces escaped


def test_onvif_is_a_login_too_and_each_credential_counts_once() -> None:
    onvif = "    onvif: {host: 127.0.0.2, port: 8080, user: admin, password: other}\n"
    logins = load(config("rtsp://admin:pw@127.0.0.2/a", onvif), {})
    assert [(x.port, x.password) for x in logins] == [(None, "pw"), (8080, "other")]
    same = "    onvif: {host: 127.0.0.2, user: admin, password: pw}\n"
    assert len(load(config("rtsp://admin:pw@127.0.0.2/a", same), {})) == 1


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("cameras: [\n", "Line 2: expected the node content"),
        ("mqtt: {enabled: false}\n", "cameras: Field required"),
        (config().replace("          roles: [detect]\n", ""), "cameras -> door -> ffmpeg -> inputs -> 0 -> roles"),
        ("cameras:\n  door: {ffmpeg: {inputs: []}}\n", "cameras -> door -> ffmpeg -> inputs: Field required"),
    ],
)
def test_what_frigate_refuses_is_said_in_its_words_without_a_value_from_the_file(text: str, says: str) -> None:
    with pytest.raises(ConfigInvalid) as err:
        load(text.replace("{pw}", "Secret-Pw-1"), {})
    assert str(err.value).startswith("Your configuration is invalid.") and says in str(err.value)
    assert "Secret-Pw-1" not in str(err.value)


# -- the host in a fleet --------------------------------------------------------------------------------


def host_fleet(start: Callable[..., Fleet], tmp_path: Path) -> tuple[Fleet, LabHost, str]:
    host_key, _ = host_key_pair()
    key, public = host_key_pair()
    host = LabHost(
        "frig", "s1", HOST, free_port(HOST), "root", public, host_key, [LabHostCamera("door", "admin", CAM_PW)]
    )
    host.interval_seconds = 5.0

    host.login = getpass.getuser()
    spec = LabSpec(devices=[camera("door", CAM)], hosts=[host], known_hosts_file="known_hosts")
    fleet = start(spec, base=None)
    return fleet, host, key


def ctl(fleet: Fleet, command: str) -> tuple[int, str]:
    ran = subprocess.run([str(host_dir(fleet.directory, "frig") / CTL), command], capture_output=True, text=True)
    return ran.returncode, ran.stdout + ran.stderr


def wait_for(ready: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def from_host(fleet: Fleet) -> list[dict[str, object]]:
    return [e for e in fleet.read_events() if e["source"] == HOST and e["device"] == "door"]


def test_it_logs_into_its_cameras_from_its_own_address_and_the_lab_lists_it(
    start: Callable[..., Fleet], tmp_path: Path
) -> None:
    fleet, host, _ = host_fleet(start, tmp_path)
    wait_for(lambda: fleet.client_status("frig")["cameras"] == {"door": "ok"})
    assert [e["result"] for e in from_host(fleet) if e["event"] == "client_status"] == ["ok"]
    [listed] = [c for c in fleet.state()["clients"] if c["name"] == "frig"]
    assert listed["kind"] == "ssh" and listed["source"] == HOST and listed["running"] is True
    assert listed["holds"] == [{"camera": "door", "device": "door", "user": "admin", "password": CAM_PW}]
    assert f"[{HOST}]:{host.ssh_port} ssh-ed25519 " in (fleet.directory / "known_hosts").read_text()


def test_a_stale_config_locks_its_camera_only_once_the_service_reads_it_again(
    start: Callable[..., Fleet], tmp_path: Path
) -> None:
    fleet, _, _ = host_fleet(start, tmp_path)
    path = host_dir(fleet.directory, "frig") / "config" / "config.yml"
    path.write_text(path.read_text().replace(CAM_PW, "Old-Pass-99"))
    time.sleep(0.3)  # ~6 polls: still the config it started with
    assert not [e for e in from_host(fleet) if e["event"] == "auth_failed"]
    assert ctl(fleet, "restart") == (0, "started\n")
    wait_for(lambda: any(e["event"] == "locked" for e in fleet.read_events()))
    assert fleet.client_status("frig")["cameras"] == {"door": "auth_failed"}
    assert ctl(fleet, "check")[0] == 1


def test_frigatectl_is_its_service_manager(start: Callable[..., Fleet], tmp_path: Path) -> None:
    fleet, _, _ = host_fleet(start, tmp_path)
    assert ctl(fleet, "status") == (0, "active\n")
    assert ctl(fleet, "check") == (0, "connected to door\n")
    assert ctl(fleet, "stop") == (0, "stopped\n")
    seen = len(from_host(fleet))
    time.sleep(0.3)
    assert len(from_host(fleet)) == seen  # once stop returns, it sends nothing
    assert ctl(fleet, "status") == (3, "inactive\n")
    assert ctl(fleet, "check") == (3, "inactive\n")
    assert ctl(fleet, "bogus")[0] == 2
    path = host_dir(fleet.directory, "frig") / "config" / "config.yml"
    good = path.read_text()
    path.write_text(good.replace("roles:", "rolez:"))
    code, said = ctl(fleet, "validate")
    assert code == 1 and "roles: Field required" in said
    code, said = ctl(fleet, "start")
    assert code == 1 and said.startswith("Frigate could not start: Your configuration is invalid.")
    assert ctl(fleet, "status")[0] == 3
    path.write_text(good)
    assert ctl(fleet, "validate") == (0, "Config is valid\n")
    assert ctl(fleet, "start") == (0, "started\n")
    assert ctl(fleet, "check") == (0, "connected to door\n")
    events = [e["event"] for e in fleet.read_events() if e["device"] == "frig"]
    assert events == ["service_started", "service_stopped", "service_start_failed", "service_started"]


def test_its_sshd_lets_in_the_key_it_was_given_and_runs_frigatectl(start: Callable[..., Fleet], tmp_path: Path) -> None:
    fleet, host, key = host_fleet(start, tmp_path)
    client = paramiko.SSHClient()
    client.load_host_keys(str(fleet.directory / "known_hosts"))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    pkey = paramiko.Ed25519Key.from_private_key(io.StringIO(key))
    client.connect(HOST, host.ssh_port, host.login, pkey=pkey, allow_agent=False, look_for_keys=False, timeout=5)
    try:
        _, out, _ = client.exec_command(f"{host_dir(fleet.directory, 'frig') / CTL} status")
        assert out.read() == b"active\n" and out.channel.recv_exit_status() == 0
    finally:
        client.close()
    assert "Accepted publickey for" in (host_dir(fleet.directory, "frig") / "sshd" / "sshd.log").read_text()


def test_a_lab_that_moves_takes_its_hosts_and_their_known_hosts_along(
    start: Callable[..., Fleet], tmp_path: Path
) -> None:
    host_key, _ = host_key_pair()
    _, public = host_key_pair()
    host = LabHost(
        "frig", "s1", "127.10.0.250", 2222, "root", public, host_key, [LabHostCamera("door", "admin", CAM_PW)]
    )

    host.login = getpass.getuser()
    spec = LabSpec(devices=[camera("door", "127.10.0.2")], hosts=[host], base=10, known_hosts_file="known_hosts")
    fleet = start(spec, base=42)
    assert host.address == "127.42.0.250"
    assert "[127.42.0.250]:2222 ssh-ed25519 " in (fleet.directory / "known_hosts").read_text()
    wait_for(lambda: fleet.client_status("frig")["cameras"] == {"door": "ok"})
