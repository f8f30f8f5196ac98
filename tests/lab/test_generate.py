"""Tests of the fleet generator: the repository validates, matches the lab spec, and each seeded problem
means exactly what ``enforcer.lab.generate.generator`` documents. Fast: no lab server is started."""

from __future__ import annotations

import ipaddress
import re
import stat
import string
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from enforcer.cli import main
from enforcer.config import vault
from enforcer.config.diagnostics import Diagnostics
from enforcer.config.playbook import load_playbook
from enforcer.credentials.secret import Secret
from enforcer.credentials.store import CredentialStore, Entry
from enforcer.lab.choices import PROBLEMS
from enforcer.lab.firmware import parse_image
from enforcer.lab.generate import generator as gen
from enforcer.lab.generate import models
from enforcer.lab.generate.models import Model
from enforcer.lab.isapi.security import is_risky
from enforcer.lab.spec import LabClient, LabDevice, LabSpec
from enforcer.model import Device, Inventory, ManualSettings, Playbook

SITES, CAMERAS, SEED = 4, 4, 11


@dataclass
class Generated:
    out: Path
    spec: LabSpec
    playbook: Playbook
    store: CredentialStore
    password: str

    @property
    def inventory(self) -> Inventory:
        return self.playbook.plays[0].inventory

    def devices(self) -> Iterator[tuple[Device, LabDevice]]:
        actual = {(d.site, d.name): d for d in self.spec.devices}
        for site in self.inventory.sites:
            for device in site.devices:
                yield device, actual[(site.name, device.name)]


def load(out: Path) -> Generated:
    diagnostics = Diagnostics()
    playbook = load_playbook(out / "site.yml", diagnostics)
    assert [str(d) for d in diagnostics] == []
    assert playbook is not None
    password = (out / "inventory" / ".vault-password").read_text(encoding="utf-8").strip()
    store = CredentialStore.load(out / "inventory" / "credentials.vault", password.encode())
    return Generated(out, LabSpec.load(out / "lab.spec.json"), playbook, store, password)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    out = tmp_path_factory.mktemp("fleet") / "msp"
    spec = gen.generate(out, sites=SITES, cameras=CAMERAS, seed=SEED, problems=PROBLEMS, https_share=0.5)
    generated = load(out)
    assert generated.spec == spec
    return generated


def desired(device: Device, account: str) -> str:
    acc = device.account(account)
    assert acc is not None and acc.password is not None
    return acc.password.reveal()


def actual(device: LabDevice, account: str) -> str:
    return next(a.password for a in device.accounts if a.name == account)


def stored(fleet: Generated, device: Device, account: str) -> Entry:
    entry = fleet.store.get(device.id, account)
    assert entry is not None and entry.pending is None
    return entry


def secret(value: Secret | None) -> str:
    assert value is not None
    return value.reveal()


def dahua_accepts(password: str) -> bool:
    """Dahua's password rule (protocols/dahua-cgi.md §4): 8-32 characters, two classes, none of ' " ; : &."""
    classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits)
    used = sum(bool(set(password) & set(chars)) for chars in classes) + any(not c.isalnum() for c in password)
    return 8 <= len(password) <= 32 and used >= 2 and not set(password) & set("'\";:&")


def known_model(lab: LabDevice) -> Model:
    recorders = models.RECORDERS[lab.vendor]
    cameras = tuple(m for m, _ in models.CAMERAS[lab.vendor])
    return next(m for m in (recorders if lab.role == "recorder" else cameras) if m.name == lab.model)


def test_the_repository_validates_and_selects_every_site(fleet: Generated) -> None:
    play = fleet.playbook.plays[0]
    assert play.sites == tuple(f"site-{i:03}" for i in range(1, SITES + 1))
    assert play.enforce == {"credentials", "lock_policy", "firmware"}
    assert play.serial == (1, "10%", "100%")
    assert [len(s.devices) for s in fleet.inventory.sites] == [1 + CAMERAS] * SITES
    assert sorted(p.name for p in fleet.out.iterdir()) == [
        ".gitignore",
        "inventory",
        "lab.spec.json",
        "site.yml",
    ]
    assert "/inventory/.vault-password" in (fleet.out / ".gitignore").read_text().splitlines()
    assert stat.S_IMODE((fleet.out / "inventory" / ".vault-password").stat().st_mode) == 0o600
    fleet_yml = (fleet.out / "inventory" / "fleet.yml").read_text()
    assert 'vault_password: !secret "file:.vault-password"' in fleet_yml
    assert "credential_store: credentials.vault" in fleet_yml
    assert f"enforce lab generate --sites {SITES} --cameras {CAMERAS} --vendor hikvision --seed {SEED}" in fleet_yml


def test_inventory_endpoints_and_settings_match_the_spec(fleet: Generated) -> None:
    pairs = list(fleet.devices())
    assert len(pairs) == len(fleet.spec.devices) == SITES * (1 + CAMERAS)
    by_name = {d.name: d for d in fleet.spec.devices}
    for want, lab in pairs:
        assert (want.address, want.port, want.scheme) == (lab.address, lab.port, lab.scheme)
        assert (want.vendor, want.model, want.role) == (lab.vendor, lab.model, lab.role)
        assert want.port == (gen.HTTPS_PORT if lab.scheme == "https" else gen.HTTP_PORT)
        ca = want.tls.ca.resolve() if want.tls.ca else None
        assert ca == ((fleet.out / "lab.cert.pem").resolve() if lab.scheme == "https" else None)
        assert [a.name for a in want.accounts] == [a.name for a in lab.accounts]
        assert want.lock_policy.max_attempts == lab.lock_policy.max_attempts
        assert want.lock_policy.lock_minutes * 60 == lab.lock_policy.lock_seconds
        assert 3 <= lab.lock_policy.max_attempts <= 7
        assert lab.profile.namespace == ("isapi" if lab.role == "recorder" else "hikvision")
        assert want.firmware is not None
        image = parse_image(want.firmware.image.read_bytes())
        assert (image.model, image.version) == (lab.model, want.firmware.version)
        if want.role == "camera":
            assert want.recorder is not None and want.channel is not None
            channel = next(c for c in by_name[want.recorder].channels if c.id == want.channel)
            # the recorder reaches its camera over the SDK (proxyProtocol HIKVISION), on the port the
            # inventory's sdk_port says, as real recorders do
            assert (channel.camera, channel.address, channel.port, channel.user, channel.protocol) == (
                lab.name,
                lab.address,
                lab.sdk_port,
                "admin",
                "vendor",
            )
            assert want.sdk_port == lab.sdk_port == 8000
            assert channel.password == actual(lab, "admin")
    assert {d.scheme for d in fleet.spec.devices if d.role == "recorder"} == {"http", "https"}


def test_every_device_and_viewer_has_its_own_loopback_address(fleet: Generated) -> None:
    devices = [d.address for d in fleet.spec.devices]
    viewers = [c.source for c in fleet.spec.clients]
    assert len(set(devices + viewers)) == len(devices) + len(viewers)
    assert gen.ENFORCER_SOURCE not in devices + viewers
    for address in devices + viewers:
        assert ipaddress.ip_address(address) in ipaddress.ip_network("127.0.0.0/8")
    assert all(10 <= int(a.split(".")[1]) < 200 for a in devices)
    assert all(int(a.split(".")[1]) >= 200 for a in viewers)
    assert [d.address for d in fleet.spec.devices[: 1 + CAMERAS]] == [f"127.10.0.{d}" for d in range(1, CAMERAS + 2)]


def test_each_site_gets_each_problem_once(fleet: Generated) -> None:
    for site in fleet.inventory.sites:
        seen = [p for d in fleet.spec.devices if d.site == site.name for p in d.problems if p != "stale_viewer"]
        seen += [p for c in fleet.spec.clients if c.site == site.name for p in c.problems]
        assert sorted(seen) == sorted(PROBLEMS)
        admins = [
            d.name for d in fleet.spec.devices if d.site == site.name and set(d.problems) & set(gen.CREDENTIAL_PROBLEMS)
        ]
        assert len(admins) == len(gen.CREDENTIAL_PROBLEMS)  # on different devices


def test_credentials_mean_exactly_what_each_problem_says(fleet: Generated) -> None:
    check_credentials(fleet)


def check_credentials(fleet: Generated) -> None:
    """Each account's actual, desired and stored passwords are as the device's problems say."""
    clients = {(c.site, c.target): c for c in fleet.spec.clients}
    by_name = {d.name: d for d in fleet.spec.devices}
    for want, lab in fleet.devices():
        problems = set(lab.problems)
        admin, entry = actual(lab, "admin"), stored(fleet, want, "admin")
        wanted = desired(want, "admin")
        assert len(wanted) == 16 and not is_risky(wanted) and dahua_accepts(wanted)
        if "default_password" in problems:
            assert admin == lab.profile.default_password == secret(entry.current) != wanted
        elif "weak_password" in problems:
            assert admin in gen.WEAK_PASSWORDS and is_risky(admin)
            assert admin == secret(entry.current) != wanted
        elif "unknown_password" in problems:
            assert secret(entry.current) != admin and secret(entry.previous) == admin
            assert secret(entry.current) == wanted
            assert lab.lock_policy.max_attempts >= 4  # current, then previous, within the budget
        elif "stale_channel" in problems:
            assert lab.role == "camera" and want.recorder is not None
            assert admin == secret(entry.current) != wanted
            assert next(c for c in by_name[want.recorder].channels if c.camera == lab.name).password == admin
        else:
            assert admin == secret(entry.current) == wanted and entry.previous is None
        if lab.role == "recorder":
            operator, entry = actual(lab, "operator"), stored(fleet, want, "operator")
            assert operator == secret(entry.current) and entry.previous is None
            viewer: LabClient | None = clients.get((lab.site, lab.name))
            if "stale_viewer" in problems:
                assert viewer is not None and viewer.problems == ["stale_viewer"]
                assert (viewer.kind, viewer.user, viewer.password) == ("viewer", "operator", operator)
                assert viewer.interval_seconds == gen.VIEWER_INTERVAL
                assert desired(want, "operator") != operator
                site = fleet.inventory.site(lab.site)
                assert site is not None
                (manual,) = site.clients
                assert (manual.kind, manual.address, manual.name) == ("manual", viewer.source, viewer.name)
                assert [(h.device, h.user) for h in manual.holds] == [(lab.name, "operator")]
                assert isinstance(manual.settings, ManualSettings) and manual.settings.what
            else:
                assert viewer is None and desired(want, "operator") == operator


def test_firmware_and_locks_mean_exactly_what_each_problem_says(fleet: Generated) -> None:
    check_firmware_and_locks(fleet)


def check_firmware_and_locks(fleet: Generated) -> None:
    """Firmware and lock state are as the device's problems say; the inventory wants them right."""
    for want, lab in fleet.devices():
        assert want.firmware is not None and want.lock_policy.enabled
        model = known_model(lab)
        assert want.firmware.version == model.version
        if "old_firmware" in lab.problems:
            assert (lab.firmware_version, lab.firmware_build) == (model.old_version, model.old_build)
            assert lab.firmware_version != want.firmware.version and lab.firmware_build < model.build
        else:
            assert (lab.firmware_version, lab.firmware_build) == (model.version, model.build)
        if "lock_disabled" in lab.problems:
            assert not lab.lock_policy.enabled and lab.profile.lock_can_be_disabled
        else:
            assert lab.lock_policy.enabled
        if "locked" in lab.problems:
            assert lab.locked_sources == ["127.0.0.1"] and lab.profile.lock_scope != "account"
            assert "lock_disabled" not in lab.problems
        else:
            assert lab.locked_sources == []


def _passwords(fleet: Generated) -> set[str]:
    found = {a.password for d in fleet.spec.devices for a in d.accounts}
    found |= {c.password for c in fleet.spec.clients}
    found |= {desired(d, a.name) for d, _ in fleet.devices() for a in d.accounts}
    found |= {secret(v) for _, _, e in fleet.store.entries() for v in (e.current, e.previous) if v is not None}
    return found


def test_no_password_is_in_clear_in_the_repository(fleet: Generated) -> None:
    generated = {p for p in _passwords(fleet) if len(p) == 16} | {fleet.password}
    assert len(generated) > len(fleet.spec.devices)
    ignored = fleet.out / "inventory" / ".vault-password"  # the key itself, which .gitignore keeps out of git
    files = [p for p in (fleet.out / "inventory").rglob("*") if p.is_file() and p != ignored] + [fleet.out / "site.yml"]
    assert len(files) >= 6
    for path in files:
        data = path.read_bytes()
        leaked = [p for p in generated if p.encode() in data]
        assert not leaked, f"{path.relative_to(fleet.out)} holds a password in clear"
    for name in ("credentials.vault", "secrets/fleet.vault"):
        text = (fleet.out / "inventory" / name).read_text(encoding="ascii")
        assert text.startswith("$ANSIBLE_VAULT;1.1;AES256\n") and vault.is_vault(text)
        # The weak and default passwords are dictionary words: they may be inside, but only encrypted.
        assert all(w not in text for w in ("password", "admin", "qwertyui", "abcdefgh"))


def _snapshot(out: Path, password: bytes) -> dict[str, object]:
    files: dict[str, object] = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        data = path.read_bytes()
        files[str(path.relative_to(out))] = (
            yaml.safe_load(vault.decrypt(data, password)) if vault.is_vault(data) else data
        )
    return files


def test_a_seed_reproduces_the_fleet(tmp_path: Path, fleet: Generated) -> None:
    again = tmp_path / "again"
    gen.generate(again, sites=SITES, cameras=CAMERAS, seed=SEED, problems=PROBLEMS, https_share=0.5)
    key = fleet.password.encode()
    assert _snapshot(again, key) == _snapshot(fleet.out, key)
    other = tmp_path / "other"
    gen.generate(other, sites=SITES, cameras=CAMERAS, seed=SEED + 1, problems=PROBLEMS, https_share=0.5)
    regenerated = load(other)
    assert regenerated.password != fleet.password
    assert not {p for p in _passwords(regenerated) if len(p) == 16} & _passwords(fleet)


def test_problem_share_and_thresholds(tmp_path: Path) -> None:
    share = {"locked": 0.5, "old_firmware": 0.0}
    spec = gen.generate(
        tmp_path / "f",
        sites=10,
        cameras=2,
        seed=3,
        problems=["locked", "weak_password", "old_firmware"],
        problem_share=share,
        thresholds=[3, 20],
    )
    sites_with = {
        p: {d.site for d in spec.devices if p in d.problems} for p in ("locked", "weak_password", "old_firmware")
    }
    assert [len(sites_with[p]) for p in ("locked", "weak_password", "old_firmware")] == [5, 10, 0]
    assert {d.lock_policy.max_attempts for d in spec.devices} == {3, 20}
    assert spec.clients == []
    header = (tmp_path / "f" / "inventory" / "fleet.yml").read_text()
    assert "--problem-share locked=0.5,old_firmware=0 --thresholds 3,20" in header
    assert gen.parse_share("locked=0.5,old_firmware=0") == share
    assert gen.parse_share(gen.format_share(0.25)) == 0.25
    load(tmp_path / "f")


def test_annke_fleet(tmp_path: Path) -> None:
    spec = gen.generate(tmp_path / "a", sites=2, cameras=6, vendor="annke", seed=5, problems=["stale_channel"])
    assert {d.vendor for d in spec.devices} == {"annke"}
    assert {d.model for d in spec.devices if d.role == "recorder"} == {"N48PAW"}
    assert {d.model for d in spec.devices if d.role == "camera"} <= {"C800", "CZ400"}
    inventory = load(tmp_path / "a").inventory
    assert {d.vendor for s in inventory.sites for d in s.devices} == {"annke"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"vendor": "axis"}, "unknown vendor 'axis'"),
        ({"vendor": "amcrest", "cameras": 33}, "cameras must be 0 to 32 per site for amcrest"),
        ({"vendor": "mixed", "sites": 3, "cameras": 33}, "cameras must be 0 to 32 per site for mixed"),
        ({"vendor": "dahua", "thresholds": [3, 11]}, "Dahua and Amcrest devices lock after 3 to 10"),
        ({"vendor": "mixed", "sites": 2, "thresholds": [20]}, "Dahua and Amcrest devices lock after 3 to 10"),
        ({"problems": ["lockd"]}, "unknown problem 'lockd'"),
        ({"thresholds": [2, 5]}, "thresholds"),
        ({"thresholds": []}, "thresholds"),
        ({"cameras": 0, "problems": ["stale_channel"]}, "stale_channel needs at least one camera"),
        ({"cameras": 0, "problems": ["locked", "lock_disabled"]}, "two devices"),
        ({"cameras": 2, "problems": list(gen.CREDENTIAL_PROBLEMS)}, "need 4 devices per site"),
        ({"cameras": 254}, "cameras must be 0 to 253"),
        ({"sites": 0}, "sites must be"),
        ({"problem_share": 1.5}, "fraction"),
        ({"problem_share": {"bogus": 0.5}}, "unknown problem"),
        ({"organisation": "bad\nname"}, "organisation"),
    ],
)
def test_bad_options_are_refused_before_anything_is_written(
    tmp_path: Path, options: dict[str, object], message: str
) -> None:
    kwargs: dict[str, object] = {"sites": 1, "cameras": 2, "seed": 1} | options
    with pytest.raises(ValueError, match=message):
        gen.generate(tmp_path / "out", **kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "out").exists()


def test_parse_problems_and_a_used_folder(tmp_path: Path) -> None:
    assert gen.parse_problems("all") == PROBLEMS
    assert gen.parse_problems(" stale_viewer, locked ,") == ("locked", "stale_viewer")
    assert gen.parse_problems("") == ()
    with pytest.raises(ValueError, match="choose from"):
        gen.parse_problems("locked,bogus")
    with pytest.raises(ValueError, match="bad share"):
        gen.parse_share("locked=lots")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        gen.generate(tmp_path / "used", sites=1, cameras=1, seed=1)
    gen.generate(tmp_path / "fresh" / "nested", sites=1, cameras=0, seed=1)
    assert load(tmp_path / "fresh" / "nested").inventory.sites[0].cameras == ()


def test_a_thousand_devices_generate_in_well_under_a_few_seconds(tmp_path: Path) -> None:
    started = time.perf_counter()
    spec = gen.generate(tmp_path / "big", sites=100, cameras=9, seed=2, problems=PROBLEMS, problem_share=0.1)
    elapsed = time.perf_counter() - started
    print(f"generated {len(spec.devices)} devices in {elapsed:.2f} s")
    assert len(spec.devices) == 1000
    assert elapsed < 5.0
    assert {d.model for d in spec.devices if d.role == "recorder"} == {"DS-7616NXI-I2"}
    assert sum(1 for d in spec.devices if "locked" in d.problems) == 10
    assert len(load(tmp_path / "big").inventory.sites) == 100
    # how long devices keep counting failures: mostly as long as their lock, some ten minutes, a few for ever
    windows = Counter(d.profile.failure_window_seconds for d in spec.devices)
    assert set(windows) == {"lock", 600.0, None}
    assert 600 <= windows["lock"] <= 800 and 120 <= windows[600.0] <= 280 and 50 <= windows[None] <= 150


# -- every vendor: Dahua, Amcrest and mixed fleets as well as Hikvision and Annke ----------------------

ALL_VENDORS = gen.VENDORS
FIELD_LOCK_MINUTES = {"recorder": {30, 10, 60}, "camera": {5, 10, 30}}  # Dahua: shipped first


def generate_loaded(out: Path, **options: Any) -> Generated:
    """Generate, load as the CLI does, and check ``enforce validate`` accepts the playbook."""
    spec = gen.generate(out, **options)
    fleet = load(out)
    assert fleet.spec == spec
    assert main(["validate", str(out / "site.yml")]) == 0
    return fleet


def check_dahua_profile(lab: LabDevice) -> None:
    profile, recorder = lab.profile, lab.role == "recorder"
    assert (profile.namespace, profile.default_password, profile.max_attempts_range) == ("none", "admin", (3, 10))
    assert not profile.basic_only and not profile.basic_allowed and profile.lock_can_be_disabled
    assert profile.nonce_policy in ("reuse", "single_use", "single_use_403")
    assert profile.locked_http_status in (401, 403)
    assert recorder or (not profile.connection_close and profile.unknown_config_status == 400)
    assert 3 <= lab.lock_policy.max_attempts <= 10
    assert lab.lock_policy.lock_seconds // 60 in FIELD_LOCK_MINUTES[lab.role]
    assert re.fullmatch(r"(AMC0[0-9A-F]{14})|[0-9A-Z]{15}", lab.serial)
    if "locked" in lab.problems:
        assert profile.lock_scope in ("source", "source_user")


def check_vendors_and_profiles(fleet: Generated, vendor: str) -> None:
    """Each site is one vendor (its turn in a mixed fleet); the inventory and the spec agree."""
    sites = [s.name for s in fleet.inventory.sites]
    by_name = {d.name: d for d in fleet.spec.devices}
    for want, lab in fleet.devices():
        assert lab.vendor == want.vendor == gen.site_vendor(vendor, sites.index(lab.site))
        assert (want.model, want.role) == (lab.model, lab.role)
        assert (want.address, want.port, want.scheme) == (lab.address, lab.port, lab.scheme)
        assert want.lock_policy.max_attempts == lab.lock_policy.max_attempts
        assert want.lock_policy.lock_minutes * 60 == lab.lock_policy.lock_seconds
        assert want.firmware is not None
        header = f"model={lab.model}\nversion={want.firmware.version}\nbuild={known_model(lab).build}\n\n"
        assert want.firmware.image.read_bytes().startswith(b"ENFORCER-LAB-FIRMWARE\n" + header.encode())
        if models.FAMILY[lab.vendor] == "dahua":
            check_dahua_profile(lab)
        else:
            assert lab.profile.namespace in ("isapi", "hikvision") and lab.profile.default_password == "12345"
        if lab.role == "recorder":
            for channel in lab.channels:
                camera = by_name[channel.camera]
                assert (camera.site, camera.vendor, channel.user) == (lab.site, lab.vendor, "admin")
    for site in fleet.inventory.sites:
        for manual in site.clients:
            (hold,) = manual.holds
            assert isinstance(manual.settings, ManualSettings)
            assert manual.settings.what in models.VIEWERS[by_name[hold.device].vendor]


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("vendor", ALL_VENDORS)
def test_every_vendor_seeds_every_problem(tmp_path: Path, vendor: str, problem: str) -> None:
    options = {"sites": len(gen.MIXED), "cameras": 2, "vendor": vendor, "problems": [problem], "https_share": 0.25}
    fleet = generate_loaded(tmp_path / "fleet", seed=PROBLEMS.index(problem), **options)
    check_vendors_and_profiles(fleet, vendor)
    check_credentials(fleet)
    check_firmware_and_locks(fleet)
    for site in fleet.inventory.sites:
        holders = [d for d in fleet.spec.devices if d.site == site.name and d.problems]
        assert [d.problems for d in holders] == [[problem]]
        if problem == "stale_viewer":
            assert holders[0].role == "recorder"
            assert [c.target for c in fleet.spec.clients if c.site == site.name] == [holders[0].name]
    assert bool(fleet.spec.clients) == (problem == "stale_viewer")


def test_a_mixed_fleet_gives_each_site_one_vendor_in_turn(tmp_path: Path) -> None:
    fleet = generate_loaded(tmp_path / "m", sites=6, cameras=3, vendor="mixed", seed=4, problems=PROBLEMS)
    vendors = [{d.vendor for d in fleet.spec.devices if d.site == s.name} for s in fleet.inventory.sites]
    assert vendors == [{"hikvision"}, {"dahua"}, {"annke"}, {"amcrest"}, {"hikvision"}, {"dahua"}]
    check_vendors_and_profiles(fleet, "mixed")
    grouped = ("dahua-amcrest",)
    assert [s.groups for s in fleet.inventory.sites] == [(), grouped, (), grouped, (), grouped]
    text = (fleet.out / "inventory" / "fleet.yml").read_text()
    assert "--vendor mixed" in text and "cameras:\n        lock_policy: {max_attempts: 5, lock_minutes: 5}" in text
    # Cameras declared without a lock_policy get their vendor's shipped one: through the defaults, or the group.
    lines = {line.split(":")[0].strip(): line for line in text.splitlines() if line.startswith("      cam-")}
    plain = {
        (w.vendor, w.lock_policy.max_attempts, w.lock_policy.lock_minutes)
        for w, _ in fleet.devices()
        if w.role == "camera" and "lock_policy" not in lines[w.name]
    }
    assert {v for v, _, _ in plain} == set(gen.MIXED)
    assert plain == {("hikvision", 7, 30), ("annke", 7, 30), ("dahua", 5, 5), ("amcrest", 5, 5)}
    two = gen.generate(tmp_path / "two", sites=2, cameras=1, vendor="mixed", seed=1)
    assert [d.vendor for d in two.devices] == ["hikvision", "hikvision", "dahua", "dahua"]


@pytest.mark.parametrize("vendor", ["dahua", "amcrest", "mixed"])
def test_generated_passwords_satisfy_the_dahua_rule(tmp_path: Path, vendor: str) -> None:
    fleet = generate_loaded(tmp_path / "f", sites=4, cameras=4, vendor=vendor, seed=8, problems=PROBLEMS)
    factory = set(gen.WEAK_PASSWORDS) | {"admin", "12345"}  # set at start only, as the devices came
    passwords = _passwords(fleet) - factory
    assert len(passwords) > len(fleet.spec.devices)
    assert [p for p in passwords if not dahua_accepts(p)] == []
    weak = {a.password for d in fleet.spec.devices for a in d.accounts} & factory
    assert weak and all(d.problems for d in fleet.spec.devices for a in d.accounts if a.password in weak)


def test_dahua_profiles_spread_like_the_field(tmp_path: Path) -> None:
    spec = gen.generate(
        tmp_path / "d", sites=80, cameras=4, vendor="dahua", seed=9, problems=["locked"], problem_share=0.1
    )
    devices = spec.devices
    recorders = [d for d in devices if d.role == "recorder"]
    cameras = [d for d in devices if d.role == "camera"]

    def share(pool: list[LabDevice], test: Callable[[LabDevice], bool]) -> float:
        return sum(map(test, pool)) / len(pool)

    free = [d for d in devices if "locked" not in d.problems]
    assert 0.8 <= share(free, lambda d: d.profile.lock_scope == "account") <= 0.95
    assert {d.profile.lock_scope for d in free} == {"account", "source", "source_user"}
    assert 0.7 <= share(devices, lambda d: d.profile.nonce_policy == "reuse") <= 0.9
    assert {d.profile.nonce_policy for d in devices} == {"reuse", "single_use", "single_use_403"}
    assert 0.15 <= share(recorders, lambda d: d.profile.connection_close) <= 0.45
    assert not any(d.profile.connection_close for d in cameras)
    assert 0.2 <= share(devices, lambda d: d.profile.locked_http_status == 403) <= 0.4
    assert 0.35 <= share(devices, lambda d: d.profile.lock_on_challenge) <= 0.65
    assert 0.3 <= share(recorders, lambda d: d.profile.unknown_config_status == 403) <= 0.7
    assert {d.profile.unknown_config_status for d in cameras} == {400}
    assert not any(d.profile.basic_only or d.profile.basic_allowed for d in devices)
    assert share(recorders, lambda d: d.lock_policy.lock_seconds == 1800) >= 0.5
    assert share(cameras, lambda d: d.lock_policy.lock_seconds == 300) >= 0.5
    assert share(devices, lambda d: d.lock_policy.max_attempts == 5) >= 0.4
    assert all(d.lock_policy.enabled for d in devices)
    assert {d.lock_policy.max_attempts for d in devices} <= set(range(3, 8))


@pytest.mark.parametrize(
    ("vendor", "cameras", "recorder"),
    [
        ("dahua", 0, "DHI-NVR4104HS-P-4KS3"),
        ("dahua", 6, "DHI-NVR4208-8P-4KS3"),
        ("dahua", 12, "DHI-NVR5216-16P-4KS2E"),
        ("dahua", 32, "DHI-NVR5432-16P-I"),
        ("dahua", 100, "DHI-NVR608H-128-4KS3"),
        ("amcrest", 3, "NV4108E-HS"),
        ("amcrest", 9, "NV4116E-HS"),
        ("amcrest", 32, "NV5232E-16P"),
    ],
)
def test_each_site_gets_the_smallest_recorder_that_fits(
    tmp_path: Path, vendor: str, cameras: int, recorder: str
) -> None:
    spec = gen.generate(tmp_path / "f", sites=1, cameras=cameras, vendor=vendor, seed=2)
    assert [d.model for d in spec.devices if d.role == "recorder"] == [recorder]
    assert {d.model for d in spec.devices if d.role == "camera"} <= {m.name for m, _ in models.CAMERAS[vendor]}


def test_the_model_tables_hold_plausible_firmware() -> None:
    assert set(models.FAMILY) == set(gen.VENDORS) - {"mixed"} == set(models.RECORDERS) == set(models.CAMERAS)
    assert set(models.VIEWERS) == set(models.FAMILY)
    formats = {
        "isapi": (r"V\d+(\.\d+)+", r"\d{6}"),
        "dahua": (r"V?\d\.\d{3}\.[0-9A-Z]{7}\.\d+\.R", r"20\d\d-[01]\d-[0-3]\d"),
    }
    for vendor, family in models.FAMILY.items():
        recorders = models.RECORDERS[vendor]
        assert [m.channels for m in recorders] == sorted({m.channels for m in recorders}) and recorders[0].channels >= 4
        version, build = formats[family]
        for model in recorders + tuple(m for m, _ in models.CAMERAS[vendor]):
            assert re.fullmatch(version, model.version) and re.fullmatch(version, model.old_version)
            assert re.fullmatch(build, model.build) and re.fullmatch(build, model.old_build)
            assert model.old_version != model.version and model.old_build < model.build
            assert (model.namespace == "none") == (family == "dahua")


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    vendor=st.sampled_from(ALL_VENDORS),
    sites=st.integers(1, 6),
    cameras=st.integers(3, 5),
    problems=st.sets(st.sampled_from(PROBLEMS)),
)
def test_any_seed_gives_a_consistent_fleet(
    seed: int, vendor: str, sites: int, cameras: int, problems: set[str]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        options = {"sites": sites, "cameras": cameras, "vendor": vendor, "problems": sorted(problems)}
        fleet = generate_loaded(Path(folder) / "f", seed=seed, **options)
        check_vendors_and_profiles(fleet, vendor)
        check_credentials(fleet)
        check_firmware_and_locks(fleet)


def test_the_cli_writes_a_dahua_repo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "dahua"
    args = ["lab", "generate", "--vendor", "dahua", "--sites", "2", "--cameras", "3", "--seed", "4"]
    assert main([*args, "--problems", "all", "--out", str(out)]) == 0
    assert "8 devices, 2 clients" in capsys.readouterr().out
    fleet = load(out)
    assert {d.vendor for d, _ in fleet.devices()} == {d.vendor for d in fleet.spec.devices} == {"dahua"}
    assert "--vendor dahua --seed 4" in (out / "inventory" / "fleet.yml").read_text()
    with pytest.raises(SystemExit) as exit:
        main([*args, "--vendor", "axis", "--out", str(tmp_path / "axis")])
    assert exit.value.code == 1 and "invalid choice: 'axis'" in capsys.readouterr().err
    assert not (tmp_path / "axis").exists()


@pytest.mark.parametrize("vendor", ["hikvision", "mixed"])
def test_clients_milestone_and_viewer_hold_each_sites_current_credentials(tmp_path: Path, vendor: str) -> None:
    """``--clients milestone,viewer``: every site gets an XProtect server storing each of its devices as admin with
    its actual password (stale once enforcer changes it) and a desktop viewer holding the recorder's admin, both
    in the inventory; Milestone stores letters and digits only, so every password drawn is such."""
    out = tmp_path / "clients"
    spec = gen.generate(
        out,
        sites=4,
        cameras=2,
        seed=3,
        vendor=vendor,
        problems=("stale_viewer", "weak_password"),
        clients=("milestone", "viewer"),
    )
    fleet = load(out)
    assert [m.site for m in spec.milestone] == [s.name for s in fleet.inventory.sites]
    by_name = {d.name: d for d in spec.devices}
    for server, site in zip(spec.milestone, fleet.inventory.sites, strict=True):
        (client,) = [c for c in site.clients if c.kind == "milestone"]
        assert [h.device for h in client.holds] == [d.name for d in site.devices]
        assert [h.device for h in server.hardware] == [d.name for d in site.devices]
        for hw, device in zip(server.hardware, site.devices, strict=True):
            lab = by_name[hw.device]
            assert (hw.address, hw.port, hw.user, hw.password) == (lab.address, lab.port, "admin", actual(lab, "admin"))
            assert hw.driver == ("dahua" if lab.vendor in ("dahua", "amcrest") else "hikvision")
            assert desired(device, "admin").isalnum() and not desired(device, "admin").isdigit()
        assert server.address == f"127.10.{spec.milestone.index(server)}.254" and server.scheme == "https"
        settings = client.settings
        assert settings.url == f"https://{server.address}:{server.port}"  # type: ignore[union-attr]
        assert settings.password is not None and settings.password.reveal() == server.password  # type: ignore[union-attr]
        viewers = [c for c in spec.clients if c.site == site.name]
        tag = site.name[-3:]
        assert [(v.name, v.user, v.problems) for v in viewers] == [
            (f"viewer-{tag}", "operator", ["stale_viewer"]),
            (f"desk-{tag}", "admin", []),
        ]
        assert len({v.source for v in viewers}) == 2
    assert "--clients milestone,viewer" in (out / "inventory" / "fleet.yml").read_text()


def test_the_clients_option_names_its_kinds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x"
    with pytest.raises(SystemExit) as exit:
        main(["lab", "generate", "--clients", "milestone,frigate", "--out", str(out)])
    assert (
        exit.value.code == 1
        and "unknown client kind 'frigate': choose from milestone, ssh, viewer" in capsys.readouterr().err
    )
    assert (
        main(["lab", "generate", "--sites", "1", "--cameras", "1", "--clients", "viewer,milestone", "--out", str(out)])
        == 0
    )
    assert "2 devices, 2 clients" in capsys.readouterr().out
    with pytest.raises(ValueError, match="at most 252 cameras"):
        gen.generate(tmp_path / "big", sites=1, cameras=253, seed=1, clients=("milestone",))


def test_a_large_fleet_is_split_into_files_under_the_size_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past DEVICES_PER_FILE devices the inventory and its vault come in parts, as a large MSP's would (one
    file of 10,000 devices passes the loader's 1 MB limit): every device loads, with its own passwords."""
    from enforcer.lab.generate import repo

    monkeypatch.setattr(repo, "DEVICES_PER_FILE", 9)
    spec = gen.generate(tmp_path / "f", sites=5, cameras=3, seed=3, clients=("viewer",))
    inventory = tmp_path / "f" / "inventory"
    assert sorted(p.name for p in inventory.glob("*.yml")) == ["fleet.yml", "lab.yml", "sites-002.yml", "sites-003.yml"]
    assert sorted(p.name for p in (inventory / "secrets").iterdir()) == [
        "fleet-002.vault",
        "fleet-003.vault",
        "fleet.vault",
    ]
    diagnostics = Diagnostics()
    playbook = load_playbook(tmp_path / "f" / "site.yml", diagnostics)
    assert playbook is not None, [str(d) for d in diagnostics]
    devices = {d.name: d for site in playbook.plays[0].inventory.sites for d in site.devices}
    assert sorted(devices) == sorted(d.name for d in spec.devices)
    for lab in spec.devices:  # a converged fleet: desired == actual, from the part's own vault
        for account in lab.accounts:
            assert devices[lab.name].account(account.name).password.reveal() == account.password
