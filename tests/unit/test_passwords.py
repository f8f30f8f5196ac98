"""New passwords for rotation: drawn under every holder's rules at once, or refused saying why (pure)."""

from __future__ import annotations

import string
from dataclasses import replace
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enforcer.drivers.base import PasswordRules
from enforcer.engine import rotate
from enforcer.engine.passwords import LENGTH, SYMBOLS, NoPassword, combine, generate
from enforcer.model import Client, Hold, ManualSettings, Site
from tests.unit.test_planner import device

SAFE = set(string.ascii_letters + string.digits + SYMBOLS)

rules = st.builds(
    PasswordRules,
    min_length=st.integers(1, 40),
    max_length=st.integers(1, 64),
    min_classes=st.integers(1, 4),
    forbidden=st.text(alphabet=string.ascii_letters + string.digits + SYMBOLS + "'\";:&", max_size=12),
    alphanumeric=st.booleans(),
)


@given(rules)
def test_a_password_is_drawn_under_any_rules_or_refused_saying_why(r: PasswordRules) -> None:
    try:
        password = generate(r)
    except NoPassword as exc:
        assert "no password meets every rule at once" in str(exc)
        return
    assert r.problem(password) is None
    assert set(password) <= SAFE  # nothing a URL, an XML body, a config file or YAML would mangle
    assert len(password) == min(max(LENGTH, r.min_length), r.max_length)


@given(st.lists(rules, min_size=1, max_size=4))
def test_a_password_under_the_combined_rules_meets_each_of_them(every: list[PasswordRules]) -> None:
    try:
        password = generate(combine(every))
    except NoPassword:
        return
    assert all(r.problem(password) is None for r in every)


def test_vendor_rules_meet_at_the_strictest() -> None:
    hikvision, dahua = PasswordRules(min_length=1, max_length=16), PasswordRules(8, 32, 2, "'\";:&")
    both = combine([hikvision, dahua])
    assert (both.min_length, both.max_length, both.min_classes, both.forbidden) == (8, 16, 2, "\"&':;")
    assert len(generate(both)) == 16
    with pytest.raises(NoPassword, match="20 to 16 characters"):
        generate(combine([hikvision, PasswordRules(min_length=20)]))


class LettersAndDigitsClient:
    """A client driver class as the registry hands it out, declaring rules (as XProtect's letters and digits)."""

    kind: ClassVar[str] = "letters-only"
    updatable: ClassVar[bool] = True
    password_rules: ClassVar[PasswordRules] = PasswordRules(min_length=8, max_length=20, alphanumeric=True)


def _site(*clients: Client) -> Site:
    nvr = device("nvr", role="recorder", vendor="dahua")
    cam = device("cam")  # Hikvision: at most 16 characters
    return Site("s", (), (nvr, cam), clients)


def _client(kind: str, *holds: Hold) -> Client:
    return Client("s", kind, kind, holds, ManualSettings())


def test_rules_for_a_camera_account_are_its_firmware_its_recorder_and_each_client_holding_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registered: dict[str, Any] = {"letters-only": LettersAndDigitsClient}

    def client_for(kind: str) -> Any:
        if kind not in registered:
            raise LookupError(kind)
        return registered[kind]

    monkeypatch.setattr(rotate, "client_for", client_for)
    site = _site()
    cam, nvr = site.device("cam"), site.device("nvr")
    assert cam is not None and nvr is not None
    # The recorder (Dahua) stores the camera's channel account: its rules join the camera's (Hikvision).
    assert rotate.rules_for(site, cam, "admin") == PasswordRules(8, 16, 2, "\"&':;")
    assert rotate.rules_for(site, replace(cam, channel_user="operator"), "admin").min_length == 1
    # A client whose kind declares rules and holds the account narrows them; a client kind without a driver,
    # or one holding another account, does not.
    site = _site(_client("letters-only", Hold("cam", "admin")), _client("unregistered", Hold("cam", "admin")))
    strict = rotate.rules_for(site, cam, "admin")
    assert strict.alphanumeric and (strict.min_length, strict.max_length) == (8, 16)
    assert generate(strict).isalnum()
    assert not rotate.rules_for(site, nvr, "admin").alphanumeric
