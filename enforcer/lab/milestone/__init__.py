"""A simulated Milestone XProtect site: management server (API Gateway, IDP, Config REST, Events and State)
and its recording server, which logs into the fleet's devices (protocols/clients.md §1).

:mod:`.server` routes requests; :mod:`.idp` grants tokens, :mod:`.rest` serves hardware items,
:mod:`.tasks` the password tasks (:mod:`.ondevice` changes a device's own password), :mod:`.events` the
connection state over a WebSocket, and :mod:`.recording` is the recording server's login loop.
"""

from enforcer.lab.milestone.server import MilestoneHost, MilestoneServer

__all__ = ["MilestoneHost", "MilestoneServer"]
