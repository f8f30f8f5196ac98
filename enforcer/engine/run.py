"""One play, end to end: open drivers, gather facts, plan, apply (waiting out locks site by site), verify.

This is where the pure core meets the drivers: facts in, plan out, plan executed. The CLI and the
demo call it; tests call it against the lab.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from enforcer.credentials.backends import open_store
from enforcer.credentials.guard import LoginGuard
from enforcer.credentials.keyring import Keyring, Known
from enforcer.drivers.base import DeviceDriver, DriverOptions
from enforcer.drivers.client import ClientDriver, ClientFacts, held_of
from enforcer.drivers.registry import client_for, client_kinds, driver_for
from enforcer.engine.gather import Failure, Gathered, Progress, devices_of, gather
from enforcer.engine.rotate import stored
from enforcer.errors import DeviceError, EnforcerError, StalePlan
from enforcer.model import Client, Device, Play, Site

if TYPE_CHECKING:  # planning and applying are imported by the methods that do them: `facts` needs neither
    from enforcer.engine.executor import Event, Executor, RunOptions, SiteResult
    from enforcer.engine.journal import Journal
    from enforcer.engine.sitelocks import Held
    from enforcer.plan.artifact import Plan, SitePlan, Step


@dataclass
class PlayRun:
    """The live side of one play: its keyring (store, guard, what discovery proved), one driver per device."""

    play: Play
    options: DriverOptions = field(default_factory=DriverOptions)
    concurrency: int = 20
    time_scale: float = 1.0
    keyring: Keyring = field(init=False)
    drivers: dict[str, DeviceDriver] = field(default_factory=dict)
    clients: dict[str, ClientDriver] = field(default_factory=dict)
    client_facts: dict[str, ClientFacts] = field(default_factory=dict)
    checklist: list[Step] = field(default_factory=list)  # manual clients to update, after apply

    def __post_init__(self) -> None:
        if self.options.time_scale != self.time_scale:  # client drivers scale the waits they choose
            self.options = replace(self.options, time_scale=self.time_scale)
        # Devices report lock times in their own seconds; on a time-scaled lab the guard's clock follows.
        scale = self.time_scale
        guard = LoginGuard(clock=lambda: time.monotonic() / scale)
        self.keyring = Keyring(open_store(self.play.inventory), guard=guard)
        self.play = stored(self.play, self.keyring.store)  # passwords enforce rotate owns: the store's

    def open_driver(self, device: Device) -> DeviceDriver:
        if device.id not in self.drivers:
            factory = driver_for(device.vendor)
            self.drivers[device.id] = factory(device, keyring=self.keyring, options=self.options)
        return self.drivers[device.id]

    def open_client(self, client: Client) -> ClientDriver:
        if client.id not in self.clients:
            factory = client_for(client.kind)
            self.clients[client.id] = factory(client, keyring=self.keyring, options=self.options)
        return self.clients[client.id]

    def gather_clients(self) -> dict[str, str]:
        """Read every client with an API once (preflight), with the credential paths the inventory says it
        holds: by client id, why one cannot be read or does not hold them as declared (its facts are kept in
        ``client_facts``). A client kind with no driver is not read here; the plan blocks the changes it
        would hold stale."""
        kinds = client_kinds()
        clients = [(s, c) for s in self.play.selected() for c in s.clients if kinds.get(c.kind)]

        def read(pair: tuple[Site, Client]) -> tuple[str, str | None]:
            site, client = pair
            try:
                self.client_facts[client.id] = self.open_client(client).facts(held_of(site, client.holds))
            except EnforcerError as exc:
                return client.id, str(exc)
            return client.id, None

        with ThreadPoolExecutor(max_workers=max(1, min(self.concurrency, len(clients) or 1))) as pool:
            return {cid: why for cid, why in pool.map(read, clients) if why is not None}

    def _release(self, site: Site) -> None:
        """A finished site's connections are closed (a fleet's apply holds a socket per device in flight,
        not per device changed); its drivers reconnect if used again."""
        for device in site.devices:
            driver = self.drivers.get(device.id)
            if driver is not None:
                driver.close()

    def close(self) -> None:
        for driver in self.drivers.values():
            driver.close()
        for client in self.clients.values():
            client.close()

    # -- facts ----------------------------------------------------------------------------------------

    def gather(
        self,
        devices: tuple[Device, ...] | None = None,
        *,
        progress: Progress | None = None,
        rebooting: frozenset[str] = frozenset(),
        clients: bool = True,
    ) -> Gathered:
        """Facts for the play's devices (preflight).

        A device that has locked enforcer out is not waited for here: apply plans its site after the
        wait, inside the run, while the other sites go on (see ``plan(defer_locked=True)``). Devices in
        ``rebooting`` (an interrupted run was upgrading them) are read again until they answer, within
        the firmware timeout. With ``clients``, the clients with an API are read as well.
        """
        devices = devices_of(self.play) if devices is None else devices
        found = gather(devices, self.open_driver, concurrency=self.concurrency, progress=progress)
        deadline = time.monotonic() + self.options.firmware_timeout * self.time_scale
        while (waiting := {f.id for f in found.failures if f.id in rebooting}) and time.monotonic() < deadline:
            time.sleep(max(0.05, 2.0 * self.time_scale))
            found = self._again(found, devices, waiting, progress)
        return replace(found, client_failures=self.gather_clients()) if clients else found

    def _again(
        self, found: Gathered, devices: tuple[Device, ...], ids: set[str], progress: Progress | None
    ) -> Gathered:
        """``found`` with the devices in ``ids`` read again."""
        again = gather(
            [d for d in devices if d.id in ids], self.open_driver, concurrency=self.concurrency, progress=progress
        )
        facts = {**found.facts, **again.facts}
        failures = {f.id: f for f in found.failures if f.id not in ids} | {f.id: f for f in again.failures}
        return Gathered(
            {d.id: facts[d.id] for d in devices if d.id in facts},
            tuple(failures[d.id] for d in devices if d.id in failures),
        )

    def known(self, site: Site | None = None) -> Known:
        """The password known to be current per device account (what discovery proved, else the store's): of
        ``site``'s devices, or the play's. A site's plan needs its own devices' alone; the play's for each of
        a thousand sites was a million look-ups, most of planning a large fleet."""
        return self.keyring.known(site.devices if site is not None else devices_of(self.play))

    # -- plan -----------------------------------------------------------------------------------------

    def plan(
        self,
        found: Gathered,
        *,
        playbook: str,
        limit: tuple[str, ...] = (),
        restore_unknown: bool = False,
        defer_locked: bool = False,
    ) -> Plan:
        """The play's plan from ``found``; devices the store records as isolated are released (see plan_site).

        With ``defer_locked`` (apply), a site with a device that has locked enforcer out is planned to
        wait (``SitePlan.wait``) and is planned for real by :meth:`replan` once its timer has run.
        """
        from enforcer.plan.artifact import Plan

        sites = tuple(
            _waiting(site, found.failures) or self._plan_site(site, found, restore_unknown)
            if defer_locked
            else self._plan_site(site, found, restore_unknown)
            for site in self.play.selected()
        )
        return Plan(playbook, self.play.name, limit, sites, {d: f.fingerprint() for d, f in found.facts.items()})

    def replan(
        self,
        site_name: str,
        *,
        client_failures: dict[str, str],
        restore_unknown: bool = False,
        saved: Plan | None = None,
    ) -> SitePlan:
        """A site that waited for a lock, read again and planned (from the store as it is now).

        With ``saved`` (apply PLANFILE), the saved plan's steps for the site run if its devices are as
        they were when it was made; else the site fails as stale.
        """
        from enforcer.plan.artifact import SitePlan

        site = next(s for s in self.play.selected() if s.name == site_name)
        found = replace(self.gather(site.devices, clients=False), client_failures=client_failures)
        self.keyring.reconcile(only={d.id for d in site.devices})
        if saved is None:
            return self._plan_site(site, found, restore_unknown)
        try:
            check_fresh(saved, found, sites={site.name})
        except StalePlan as exc:
            return SitePlan(site.name, error=str(exc))
        return next(s for s in saved.sites if s.site == site.name)

    def _plan_site(self, site: Site, found: Gathered, restore_unknown: bool) -> SitePlan:
        from enforcer.plan.planner import plan_site

        return plan_site(
            site,
            found.facts,
            {f.id: f.reason for f in found.failures},
            self.play.enforce,
            self.known(site),
            self.keyring.isolated(),
            restore_unknown=restore_unknown,
            kinds=client_kinds(),
            owed=self.keyring.owed(),
            client_failures=found.client_failures,
            unreachable=frozenset(f.id for f in found.failures if f.unreachable),
            settle=self.play.settle,
        )

    # -- apply ----------------------------------------------------------------------------------------

    def apply(
        self,
        plan: Plan,
        journal: Journal,
        options: RunOptions,
        on_event: Callable[[Event], None],
        *,
        held: Held,
        source_address: str | None = None,
        replan: Callable[[str], SitePlan] | None = None,
        executor: Executor | None = None,
    ) -> list[SiteResult]:
        """Carry out ``plan``, journaled; ``held`` are this process's locks of the plan's sites (the journal
        checks them: work is never begun, nor resumed, on a site another live run may hold). ``replan``
        plans a site that waited for a lock (see :meth:`replan`). ``executor``: the backend that runs the
        sites, this process (:class:`LocalExecutor`) unless another is given (Temporal's workers)."""
        from enforcer.engine.executor import LocalExecutor, SiteFinished, SitePlanned, StepFinished, StepStarted, Work
        from enforcer.engine.handlers import StepContext, run_step
        from enforcer.plan.rescue import undo

        run, resumed = journal.begin(plan.playbook, plan.play, [s.site for s in plan.sites], held)
        self.keyring.reconcile()  # what discovery proved is the store's current from here on
        sites = {s.name: s for s in self.play.selected()}
        rewritten: set[tuple[str, str]] = set()
        touched: set[str] = set()
        for site_plan in plan.sites:
            note_writes(site_plan, rewritten, touched)
        ctx = StepContext(
            sites,
            self.drivers,
            self.keyring,
            source_address or self.options.source_address,
            self.open_client,
            kinds=client_kinds(),
        )
        work = Work(
            run_step=lambda step: run_step(step, ctx),
            lock_state=lambda device: self.drivers[device].lock_state(),
            verify=lambda site: self.verify(sites[site], rewritten, touched),
            skip=frozenset(journal.succeeded(run)) if resumed else frozenset(),
            rescue=undo,
            replan=replan,
        )

        def record(event: Event) -> None:
            """The journal subscribes first: a step's intent is on disk before the step runs."""
            if isinstance(event, StepStarted):
                journal.started(run, event.step)
            elif isinstance(event, StepFinished):
                journal.finished(run, event.step, event.status, event.detail)
            elif isinstance(event, SitePlanned):
                note_writes(event.plan, rewritten, touched)
            elif isinstance(event, SiteFinished) and event.site in sites:
                self._release(sites[event.site])
            on_event(event)

        results = (executor or LocalExecutor()).run(plan.sites, work, options, record)
        journal.finish(run, "failed" if any(r.status in ("failed", "skipped") for r in results) else "converged")
        # Steps that ran elsewhere (a worker) added to no checklist here: the results say which ran.
        self.checklist = ctx.checklist if executor is None else checklist_of(results)
        return results

    def verify(self, site: Site, rewritten: Collection[tuple[str, str]] = (), touched: Collection[str] = ()) -> str:
        """Read the site again: no change left, nothing locked; else the step fails saying what is left.

        A channel in ``rewritten`` (this run wrote it) that its camera still refuses is reconnecting,
        not unconverged: the recorder has not logged in again, or a lock its old password caused lasts.
        Each client in ``touched`` (this run updated or released it) must have its connections back.
        """
        from enforcer.plan.diff import CHANNEL_REFUSED
        from enforcer.plan.planner import plan_site

        found = self.gather(tuple(d for d in site.devices), clients=False)
        if found.failures:
            raise DeviceError(
                site=site.name, device=found.failures[0].device, step="verify", detail=found.failures[0].reason
            )
        known, isolated, kinds = self.known(site), self.keyring.isolated(), client_kinds()
        plan = plan_site(site, found.facts, {}, self.play.enforce, known, isolated, kinds=kinds)
        if plan.error:
            raise DeviceError(site=site.name, device=site.name, step="verify", detail=f"not converged: {plan.error}")
        left = [
            f"{c.device.split('/', 1)[1]} {c.key}"
            for c in plan.pending
            if not (c.reason == CHANNEL_REFUSED and (c.device, c.key) in rewritten)
        ]
        if left:
            raise DeviceError(
                site=site.name, device=site.name, step="verify", detail=f"not converged: {', '.join(left)}"
            )
        for client in site.clients:
            if client.id in touched and kinds.get(client.kind):
                self.open_client(client).verify(held_of(site, client.holds))
        blind = [d.name for d in site.recorders if found.facts[d.id].gap("channel_status")]
        offline = [
            f"{d.name} ch{c.id}"
            for d in site.recorders
            if d.name not in blind
            for c in found.facts[d.id].channels
            if not c.online
        ]
        return (
            "converged"
            + (f"; channels still reconnecting: {', '.join(offline)}" if offline else "")
            + (f"; {', '.join(blind)} report no channel status (firmware)" if blind else "")
        )


def note_writes(plan: SitePlan, rewritten: set[tuple[str, str]], touched: set[str]) -> None:
    """Add what ``plan`` will write to the sets verify reads: channels rewritten, clients touched."""
    from enforcer.plan.steps import ChannelKind, ReleaseClient, UpdateClient

    for step in plan.steps:
        if isinstance(step.kind, ChannelKind):
            rewritten.update((c.device, c.key) for c in step.changes)
        if isinstance(step.kind, UpdateClient | ReleaseClient):
            touched.add(step.target)


def checklist_of(results: Collection[SiteResult]) -> list[Step]:
    """The manual clients' checklist steps that ran, from the sites' results."""
    from enforcer.plan.steps import Checklist

    return [s.step for r in results for s in r.steps if isinstance(s.step.kind, Checklist) and s.status == "succeeded"]


def check_fresh(saved: Plan, found: Gathered, *, sites: Collection[str] | None = None) -> None:
    """Refuse a saved plan whose devices changed: a different fingerprint, or facts that now fail.

    ``sites``: check only these sites' devices (a site that waited is checked after its wait).
    """
    changed = [
        d
        for d, fp in saved.fingerprints.items()
        if (sites is None or d.split("/", 1)[0] in sites)
        and (d not in found.facts or found.facts[d].fingerprint() != fp)
    ]
    if changed:
        raise StalePlan(changed)


def _waiting(site: Site, failures: Collection[Failure]) -> SitePlan | None:
    """The plan of a site that must wait: some device has locked enforcer out, so it could not be read."""
    from enforcer.plan.artifact import SitePlan

    locked = {f.device: f.unlock_seconds for f in failures if f.site == site.name and f.unlock_seconds}
    if not locked:
        return None
    return SitePlan(site.name, locked_out=tuple(sorted(locked)), wait=max(locked.values()))


__all__ = ["Failure", "PlayRun", "StalePlan", "check_fresh", "note_writes"]
