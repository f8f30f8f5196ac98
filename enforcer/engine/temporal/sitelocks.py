"""One run per site across machines: a site whose workflow runs is held, by whoever started it.

The file locks of :mod:`enforcer.engine.sitelocks` keep runs apart on one machine. With Temporal, the
site's workflow id is the lock between machines: while it runs, Temporal refuses a second workflow with
that id (the start is the atomic step, see :class:`~.client.TemporalExecutor`), and its memo names the
holder. :class:`TemporalSiteLocks` asks before a run reads a single device, so that a second run stops
(or waits, with ``--wait``) before it spends a login on a site the first is changing, as it would for
a file lock held on the same machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from enforcer.engine.sitelocks import Held, Holder
from enforcer.engine.temporal.connection import Connection
from enforcer.errors import BackendError, SiteBusy, SiteLockError


@dataclass(frozen=True)
class _Checked:
    """Proof that no workflow ran on ``sites`` when they were checked (the workflow start decides)."""

    holder: Holder
    sites: frozenset[str]

    def holds(self, site: str) -> bool:
        return site in self.sites


@dataclass(frozen=True)
class TemporalSiteLocks:
    """:class:`~enforcer.engine.sitelocks.SiteLocks` over the sites' workflows of one organisation."""

    connection: Connection
    organisation: str

    def acquire(self, sites: Collection[str], holder: Holder) -> Held:
        try:
            busy = asyncio.run(self._busy(sorted(set(sites))))
        except BackendError as exc:
            raise SiteLockError(str(exc)) from None
        except RPCError as exc:
            raise SiteLockError(f"cannot ask Temporal which sites are being applied: {exc.message}") from None
        if busy:
            raise SiteBusy(busy)
        return _Checked(holder, frozenset(sites))

    def release(self, held: Held) -> None:
        """Nothing to release: a site is free once its workflow ends."""

    def holder(self, site: str) -> Holder | None:
        return asyncio.run(self._holders([site])).get(site)

    async def _busy(self, sites: list[str]) -> dict[str, str]:
        holders = await self._holders(sites)
        return {
            site: (holder.describe() if holder else "being applied by another run")
            + f" (Temporal workflow {self.organisation}/{site})"
            for site, holder in holders.items()
        }

    async def _holders(self, sites: list[str]) -> dict[str, Holder | None]:
        """The sites whose workflow runs now, with who started it (None when its memo names nobody)."""
        client = await self.connection.connect()
        found = await asyncio.gather(*(running(client, f"{self.organisation}/{site}") for site in sites))
        return {site: holder for site, (running, holder) in zip(sites, found, strict=True) if running}


async def running(client: Client, wid: str) -> tuple[bool, Holder | None]:
    """Whether the workflow ``wid`` runs, and who started it (from its memo)."""
    try:
        described = await client.get_workflow_handle(wid).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False, None
        raise
    if described.status != WorkflowExecutionStatus.RUNNING:
        return False, None
    memo = await described.memo()
    return True, Holder.from_json(str(memo.get("holder", "")))
