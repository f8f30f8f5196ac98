"""Rotation: new passwords for the accounts declared ``!secret "store:"``, in the store before any device.

The inventory says *which* accounts enforcer owns the password of (``password: !secret "store:"``); the
credential store says what that password is. For those accounts the desired password is the store's
``pending`` one when a rotation is under way, else its ``current`` one (:func:`stored`), in every
command: ``plan`` and ``apply`` finish a rotation a killed run left, with the same passwords.

``enforce rotate`` (:func:`choose`, :func:`prepare`, :func:`finish`) is then "new passwords to the store,
then apply", credentials only:

1. **choose**: an unfinished rotation at any selected site is finished first, with its own passwords,
   and nothing new is generated (a killed rotation is never started again with other passwords, and
   the people who update clients by hand are not asked twice); else every selected account is rotated;
2. **prepare**, site by site: draw each password with :mod:`secrets` under the rules of everyone who
   must store it (the device's firmware, the recorder for a camera's channel account, each client
   that holds it: :func:`rules_for`), record it as *pending* and the rotation as under way, and save,
   before any device is sent anything. A site whose save meets someone else's change (a compare-and-set
   conflict) stops there, alone;
3. apply, as ``enforce apply`` does: lock-safe order, isolation, clients; each new password is verified
   on its device, then promoted pending → current, the old one kept as previous;
4. **finish**: a site that converged with no password left pending is done; once every site of a
   rotation is done, its record goes.
"""

from __future__ import annotations

import secrets as _secrets
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace

from enforcer.credentials.secret import Secret
from enforcer.credentials.store import CredentialStore, Rotation
from enforcer.drivers.base import PasswordRules
from enforcer.drivers.registry import client_for, driver_for
from enforcer.engine.passwords import combine, generate
from enforcer.errors import CredentialStoreConflict, EnforcerError
from enforcer.model import Account, Device, Play, Site

__all__ = ["Choice", "choose", "finish", "prepare", "rules_for", "stored"]

#: The ref a generated password carries (the value itself is never shown).
REF = "store:"


def stored(play: Play, store: CredentialStore | None, overlay: Mapping[tuple[str, str], Secret] | None = None) -> Play:
    """``play`` with every generated account's password filled in: ``overlay``'s, else the store's pending,
    else its current (None when the store has neither: the plan blocks that account)."""

    def value(device: Device, account: Account) -> Secret | None:
        if overlay and (device.id, account.name) in overlay:
            return overlay[(device.id, account.name)]
        entry = store.get(device.id, account.name) if store is not None else None
        return None if entry is None else entry.pending or entry.current

    def bind(device: Device) -> Device:
        if not any(a.generated for a in device.accounts):
            return device
        accounts = tuple(replace(a, password=value(device, a)) if a.generated else a for a in device.accounts)
        return replace(device, accounts=accounts)

    sites = tuple(replace(s, devices=tuple(bind(d) for d in s.devices)) for s in play.inventory.sites)
    return replace(play, inventory=replace(play.inventory, sites=sites))


def rules_for(site: Site, device: Device, account: str) -> PasswordRules:
    """What a new password of ``account`` on ``device`` must meet: the device's firmware, the recorder that
    stores it for the camera's channel, and every client holding it whose driver declares rules."""
    rules = [driver_for(device.vendor).password_rules]
    if device.recorder is not None and device.channel_user == account:
        recorder = site.device(device.recorder)
        if recorder is not None:
            rules.append(driver_for(recorder.vendor).password_rules)
    for client in site.clients:
        if any(h.device == device.name and h.user == account for h in client.holds):
            rules += _client_rules(client.kind)
    return combine(rules)


def _client_rules(kind: str) -> list[PasswordRules]:
    """The rules a client kind's driver declares (``password_rules``); none without a driver."""
    try:
        rules = client_for(kind).password_rules
    except LookupError:
        return []
    return [] if rules is None else [rules]


@dataclass
class Choice:
    """What a rotate run does: per site, the accounts (``site/device``, name) it rotates."""

    sites: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    #: The rotation's id (a resumed one's, else the new one :func:`prepare` starts); the journal is keyed by it.
    id: str = ""
    #: Sites finishing a rotation a killed run left: (rotation id, when it started, its accounts).
    resumed: dict[str, Rotation] = field(default_factory=dict)
    #: Sites stopped before anything was sent (a conflict, a password no rule set allows), and why.
    stopped: dict[str, str] = field(default_factory=dict)


def choose(play: Play, store: CredentialStore | None, accounts: Collection[str] = ()) -> Choice:
    """Which sites and accounts to rotate; EnforcerError when ``accounts`` names none the play may rotate."""
    selected = play.selected()
    unfinished = {s.name: r for s in selected if store is not None and (r := store.rotation(s.name)) and not r.done}
    if unfinished:
        sites = {s.name: _generated(s, unfinished[s.name].accounts) for s in selected if s.name in unfinished}
        return Choice(sites, resumed=unfinished)
    _check_names(selected, accounts)
    chosen = {s.name: found for s in selected if (found := _generated(s, accounts))}
    if not chosen:
        raise EnforcerError(
            'nothing to rotate: no selected account is declared password: !secret "store:" '
            "(the credential store then keeps its password, which enforce rotate generates)"
        )
    return Choice(chosen)


def _generated(site: Site, names: Collection[str]) -> tuple[tuple[str, str], ...]:
    return tuple(
        (d.id, a.name)
        for d in site.devices
        for a in d.accounts
        if a.generated and a.present and (not names or a.name in names)
    )


def _check_names(sites: Iterable[Site], names: Collection[str]) -> None:
    """Every name in ``names`` is a generated account somewhere; a declared one is refused, saying why."""
    declared: dict[str, list[str]] = {}
    generated: set[str] = set()
    for site in sites:
        for device in site.devices:
            for account in device.accounts:
                if account.generated:
                    generated.add(account.name)
                else:
                    declared.setdefault(account.name, []).append(device.id)
    for name in names:
        if name in generated:
            continue
        if name in declared:
            where = ", ".join(sorted(declared[name])[:3]) + (" …" if len(declared[name]) > 3 else "")
            raise EnforcerError(
                f"account {name} ({where}) has its password declared by reference in the inventory, which "
                'stays the one source of it: declare password: !secret "store:" to let enforce rotate own it'
            )
        raise EnforcerError(f"no selected device declares an account {name}")


def prepare(
    play: Play,
    store: CredentialStore | None,
    choice: Choice,
    *,
    dry_run: bool = False,
    clock: Callable[[], float] = time.time,
) -> tuple[Play, Choice]:
    """The play to apply, its generated accounts bound to their new passwords, and the sites it runs.

    For a new rotation each password is drawn and, unless ``dry_run`` (the plan: nothing is written, the
    passwords are forgotten after), written to the store as pending with the site's rotation record, one
    durable save per site, before any device sees it. An account that already has a pending password keeps
    it (it may have reached the device). A site whose save conflicts stops alone.
    """
    overlay: dict[tuple[str, str], Secret] = {}
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock()))
    rotation_id = time.strftime("%Y%m%dT%H%M%S", time.gmtime(clock())) + "-" + _secrets.token_hex(2)
    choice.id = min((r.id for r in choice.resumed.values()), default=rotation_id)
    for site in play.selected():
        keys = choice.sites.get(site.name)
        if not keys or site.name in choice.resumed:
            continue
        try:
            drawn = _draw(site, keys, store)
        except EnforcerError as exc:
            choice.stopped[site.name] = str(exc)
            continue
        overlay |= drawn
        if dry_run or store is None:
            continue
        for (device_id, account), password in drawn.items():
            store.set_pending(device_id, account, password)
        names = tuple(sorted({a for _, a in keys}))
        store.set_rotation(site.name, Rotation(rotation_id, started, names))
        try:
            store.save()
        except CredentialStoreConflict as exc:
            store.reload(site.name)
            choice.stopped[site.name] = str(exc)
    running = tuple(s for s in play.sites if s in choice.sites and s not in choice.stopped)
    bound = stored(replace(play, sites=running, enforce=frozenset({"credentials"})), store, overlay)
    return bound, choice


def _draw(site: Site, keys: Iterable[tuple[str, str]], store: CredentialStore | None) -> dict[tuple[str, str], Secret]:
    """A new password per account, under everyone's rules; an account with a pending one keeps it."""
    out: dict[tuple[str, str], Secret] = {}
    for device_id, account in keys:
        entry = store.get(device_id, account) if store is not None else None
        if entry is not None and entry.pending is not None:
            continue  # it may have reached the device: finish that change, never replace it
        device = site.device(device_id.split("/", 1)[1])
        assert device is not None
        out[(device_id, account)] = Secret(generate(rules_for(site, device, account)), REF)
    return out


def finish(store: CredentialStore | None, choice: Choice, converged: Collection[str]) -> list[str]:
    """Record each converged site's rotation as done (none of its rotated accounts left pending); forget
    the rotations whose sites are all done. Returns the sites still unfinished, for the report."""
    if store is None:
        return []
    unfinished = []
    for site, keys in choice.sites.items():
        if site in choice.stopped:
            continue
        store.reload(site)  # the site's steps may have run elsewhere (Temporal workers) and saved there
        record = store.rotation(site)
        if record is None:
            continue
        left = [k for k in keys if (e := store.get(*k)) is not None and e.pending is not None]
        if site in converged and not left:
            store.set_rotation(site, replace(record, done=True))
        else:
            unfinished.append(site)
    records = store.rotations()
    for rotation_id in {r.id for r in records.values()}:
        mine = [s for s, r in records.items() if r.id == rotation_id]
        if all(records[s].done for s in mine):
            for s in mine:
                store.set_rotation(s, None)
    store.save()
    return sorted(unfinished)
