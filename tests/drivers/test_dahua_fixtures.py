"""The driver's parsers on real Dahua/Amcrest replies (tests/fixtures/dahua/README.md names each source)."""

from __future__ import annotations

from pathlib import Path

import pytest

from enforcer.drivers.dahua import _kv as kv
from enforcer.drivers.dahua import _parse
from enforcer.drivers.dahua._rpc import parse_login, password_hash
from enforcer.facts import LockPolicyFact

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "dahua"


def body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_every_fixture_has_its_source_in_the_readme() -> None:
    readme = (FIXTURES / "README.md").read_text(encoding="utf-8")
    names = sorted(p.name for p in FIXTURES.iterdir() if p.name != "README.md")
    assert names and all(f"`{name}`" in readme for name in names)


def test_general_lock_policy_of_a_camera_and_of_an_nvr() -> None:
    assert _parse.lock_policy(body("general_cam4.txt")) == LockPolicyFact(False, 3, 1800, attempts_range=(3, 10))
    assert _parse.lock_policy(body("general_nvr608h.txt")) == LockPolicyFact(True, 5, 1800, attempts_range=(3, 10))
    assert kv.parse(body("general_cam4.txt"))["table.General.MachineName"] == "Cam4"


def test_software_version_both_forms() -> None:
    assert _parse.software_version(body("software_version_ipc.txt")) == ("2.800.0000016.0.R", "2020-06-05")
    assert _parse.software_version(body("software_version_amcrest.txt")) == ("2.420.AC00.15.R", "2016-09-08")


def test_system_info_of_a_camera_and_of_an_nvr() -> None:
    ipc = _parse.system_info(body("system_info_ipc.txt"))
    assert (ipc.model, ipc.serial, ipc.device_type) == ("IPC-HDW5831R-ZE", "4X7C5A1ZAG21L3F", "IPC")
    nvr = _parse.system_info(body("system_info_nvr608h.txt"))
    assert (nvr.model, nvr.device_type) == ("DH-NVR608H-128-4KS3/I", "NVR")


def test_remote_device_slots_of_a_real_nvr() -> None:
    slots = _parse.remote_devices(body("remote_device_nvr4216.txt"))
    assert sorted(slots) == [0, 1]
    used, empty = slots[0], slots[1]
    assert (used.channel, used.used, used.address, used.http_port, used.user) == (1, True, "192.168.2.13", 80, "admin")
    assert (empty.used, empty.address) == (False, "192.168.0.0")
    facts = _parse.channel_facts(slots, {0: "Connected"}, lambda slot: "unknown")
    assert [(c.id, c.online, c.detect) for c in facts] == [(1, True, "connect")]


def test_current_time_has_no_zone() -> None:
    assert kv.parse(body("current_time_nvr608h.txt")) == {"result": "2026-09-09 06:24:26"}


@pytest.mark.parametrize(
    ("name", "detail"),
    [
        ("error_bad_request.txt", "Bad Request!"),
        ("error_getparam_ltn6416.txt", "Error -1 getting param in name=Lighting[0][0]"),
        ("error_media_find.txt", "ErrorID=2, Detail=Invalid Request!"),
    ],
)
def test_error_bodies_are_refusals_with_what_they_say(name: str, detail: str) -> None:
    assert kv.is_error(body(name)) and kv.error_detail(body(name)) == detail


def test_error_is_the_word_not_a_prefix_of_data() -> None:
    assert not kv.is_error(b"ErrorCode=0\r\n") and not kv.is_error(b"name=Terror Cam\r\n")


def test_rpc2_replies_of_real_devices() -> None:
    challenge = parse_login(body("rpc2_challenge_imou.json"))
    assert challenge.kind == "challenge" and challenge.challenge is not None
    assert challenge.challenge.realm == "Login to EB2711F0F250EAB5" and challenge.session == 2845467865
    # the protocol notes' test vector, on this real challenge
    assert password_hash("admin", "Passw0rd!", challenge.challenge.realm, challenge.challenge.random) == (
        "4B06E90CF436A4C968C0C1C828BD63C6"
    )
    ok = parse_login(body("rpc2_success.json"))
    assert ok.kind == "ok" and ok.session == "4f8fc4ebe6ab2b4b6a04909b3fb91686"
    for name, left in (("rpc2_wrong_password_2_left.json", 2), ("rpc2_wrong_password_3_left.json", 3)):
        wrong = parse_login(body(name))
        assert (wrong.kind, wrong.remain_login_times, wrong.remain_lock_seconds) == ("wrong", left, 0.0)
