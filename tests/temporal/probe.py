"""Read every workflow's history through the client API, and replay it: ``python -m tests.temporal.probe
ADDRESS OUTDIR``. Writes each history's raw bytes to OUTDIR (for the secret scan) and prints, as JSON, each
workflow's events with who ran them.

A process of its own: the SDK's native threads may crash the interpreter's teardown, which must not take
pytest with it (``enforcer.cli.entry`` says the same).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import Replayer

from enforcer.engine.temporal.worker import workflow_runner
from enforcer.engine.temporal.workflow import SiteWorkflow


def _event(raw: Any) -> dict[str, Any]:
    kind = EventType.Name(raw.event_type).removeprefix("EVENT_TYPE_")
    out: dict[str, Any] = {"type": kind, "time": raw.event_time.ToDatetime().timestamp()}
    for field in (
        "workflow_task_completed_event_attributes",
        "activity_task_started_event_attributes",
        "activity_task_completed_event_attributes",
    ):
        if raw.HasField(field):
            attributes = getattr(raw, field)
            out["identity"] = attributes.identity
            if hasattr(attributes, "attempt"):
                out["attempt"] = attributes.attempt
    if raw.HasField("activity_task_scheduled_event_attributes"):
        out["activity"] = raw.activity_task_scheduled_event_attributes.activity_type.name
    return out


async def main(address: str, folder: Path) -> dict[str, Any]:
    client = await Client.connect(address)
    replayer = Replayer(workflows=[SiteWorkflow], workflow_runner=workflow_runner())
    found: dict[str, Any] = {}
    async for execution in client.list_workflows():
        history = await client.get_workflow_handle(execution.id, run_id=execution.run_id).fetch_history()
        name = f"{execution.id.replace('/', '_')}-{execution.run_id}.bin"
        (folder / name).write_bytes(b"".join(e.SerializeToString() for e in history.events))
        replayed = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        found.setdefault(execution.id, []).append(
            {
                "run": execution.run_id,
                "events": [_event(e) for e in history.events],
                "replay_failure": str(replayed.replay_failure) if replayed.replay_failure else None,
            }
        )
    return found


if __name__ == "__main__":
    folder = Path(sys.argv[2])
    folder.mkdir(parents=True, exist_ok=True)
    sys.stdout.write(json.dumps(asyncio.run(main(sys.argv[1], folder))) + "\n")
    sys.stdout.flush()
    os._exit(0)
