"""The Temporal backend of the executor: each site a workflow, each step an activity, each wait a timer.

- :mod:`.workflow`: the site workflow (the executor's own :class:`~enforcer.engine.executor.SiteRunner`,
  its calls as activities, its waits as durable timers), deterministic and free of I/O;
- :mod:`.activities`: what a worker does for it, with the drivers and the credential store it has;
- :mod:`.client`: :class:`TemporalExecutor`, which submits sites and follows them for ``apply``;
- :mod:`.worker`: a worker for one region's task queue;
- :mod:`.sitelocks`: a site is held while its workflow runs (one run per site across machines);
- :mod:`.wire`: events and results as the JSON the workflow's history holds (no secret value).
"""

from __future__ import annotations

from enforcer.engine.temporal.client import DEFAULT_REGION, Submission, TemporalExecutor, task_queue
from enforcer.engine.temporal.connection import Connection

__all__ = ["DEFAULT_REGION", "Connection", "Submission", "TemporalExecutor", "task_queue"]
