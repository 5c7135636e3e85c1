"""Workers and clients for the web UI's browser tests, on the official Temporal Python SDK.

Usage:
  python sdk.py worker GRPC QUEUE            runs a worker until killed; prints "ready"
  python sdk.py start GRPC WORKFLOW ID QUEUE  starts a workflow; prints its run id
  python sdk.py schedule GRPC ID QUEUE       creates a schedule of Simple every hour

Workflows: Simple (one activity), Flaky (an activity failing twice, then succeeding),
Waiter (waits for signal `approve`, answers query `state`). The workflow sandbox re-imports
this module, so it has no side effects outside `main`.
"""

import asyncio
import os
import sys
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy


@activity.defn
async def greet(name: str) -> str:
    return f"hello, {name}"


@activity.defn
async def flaky(name: str) -> str:
    attempt = activity.info().attempt
    if attempt < 3:
        raise RuntimeError(f"flaky failure on attempt {attempt}")
    return f"{name} on attempt {attempt}"


@workflow.defn
class Simple:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(greet, name, start_to_close_timeout=timedelta(seconds=10))


@workflow.defn
class Flaky:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            flaky,
            name,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=300), backoff_coefficient=1.0),
        )


@workflow.defn
class Waiter:
    def __init__(self) -> None:
        self.approved_by = None
        self.priority = 0

    @workflow.run
    async def run(self, name: str) -> str:
        await workflow.wait_condition(lambda: self.approved_by is not None)
        return f"{name} approved by {self.approved_by}"

    @workflow.signal(description="Approves the request; input: {\"by\": name}")
    def approve(self, decision: dict) -> None:
        self.approved_by = decision.get("by", "someone")

    @workflow.update(description="Sets the priority; input: a level from 0 up")
    def set_priority(self, level: int) -> str:
        self.priority = level
        return f"priority {level}"

    @set_priority.validator
    def check_priority(self, level: int) -> None:
        if level < 0:
            raise ValueError(f"priority {level} is below 0")

    @workflow.query(description="Where the request stands")
    def state(self) -> str:
        return "approved" if self.approved_by else "waiting for approval"


async def main() -> None:
    from temporalio.client import Client
    from temporalio.worker import Worker

    command, address = sys.argv[1], sys.argv[2]
    client = await Client.connect(address)
    if command == "worker":
        queue = sys.argv[3]
        worker = Worker(
            client,
            task_queue=queue,
            workflows=[Simple, Flaky, Waiter],
            activities=[greet, flaky],
            identity=f"ui-test-worker@{queue}",
        )
        async with worker:
            print("ready", flush=True)
            await asyncio.Event().wait()
    elif command == "start":
        workflow_name, workflow_id, queue = sys.argv[3], sys.argv[4], sys.argv[5]
        handle = await client.start_workflow(workflow_name, workflow_id, id=workflow_id, task_queue=queue)
        print(handle.result_run_id, flush=True)
        # The SDK's runtime threads can crash the interpreter's shutdown; the work is done.
        os._exit(0)
    elif command == "schedule":
        from temporalio.client import (
            Schedule,
            ScheduleActionStartWorkflow,
            ScheduleIntervalSpec,
            ScheduleSpec,
        )

        schedule_id, queue = sys.argv[3], sys.argv[4]
        await client.create_schedule(
            schedule_id,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    "Simple", "scheduled", id=f"{schedule_id}-wf", task_queue=queue
                ),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))]),
            ),
        )
        print(schedule_id, flush=True)
        os._exit(0)
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    asyncio.run(main())
