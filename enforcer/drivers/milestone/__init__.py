"""Milestone XProtect over its API Gateway: token, Config REST, tasks, Events and State (protocols/clients.md §1).

:mod:`._driver` is the client driver; :mod:`._api` the token and JSON requests, :mod:`._tasks` the password
task, :mod:`._events` the connection state, :mod:`._parse` the pure readers of replies.
"""

from enforcer.drivers.milestone._driver import MilestoneClient

__all__ = ["MilestoneClient"]
