"""Fills a Keel namespace for the UI benchmark, with the official Python SDK.

    populate.py ADDRESS QUEUE CLOSED RUNNING ACTIVITIES

CLOSED workflows that complete at once, RUNNING that wait for an approval signal (so they
stay running, waiting for input), and one workflow `bench-long-history` that runs
ACTIVITIES activities in batches (about three events each, so 3,300 make a history of about
10,000 events). Prints one line per stage, then the long run's id.
"""

import asyncio
import os
import sys
import time
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

BATCH = 100


@activity.defn
async def step(n: int) -> int:
    return n + 1


@workflow.defn
class Quick:
    @workflow.run
    async def run(self, n: int) -> int:
        return n


@workflow.defn
class Approval:
    def __init__(self) -> None:
        self.approved = False

    @workflow.run
    async def run(self, n: int) -> int:
        await workflow.wait_condition(lambda: self.approved)
        return n

    @workflow.signal
    def approve(self) -> None:
        self.approved = True


@workflow.defn
class LongHistory:
    @workflow.run
    async def run(self, activities: int) -> int:
        done = 0
        while done < activities:
            batch = min(BATCH, activities - done)
            await asyncio.gather(
                *(
                    workflow.execute_activity(step, done + i, start_to_close_timeout=timedelta(seconds=30))
                    for i in range(batch)
                )
            )
            done += batch
        return done


async def start_many(client: Client, workflow_run, prefix: str, count: int, queue: str) -> None:
    for first in range(0, count, 200):
        await asyncio.gather(
            *(
                client.start_workflow(workflow_run, n, id=f"{prefix}-{n}", task_queue=queue)
                for n in range(first, min(count, first + 200))
            )
        )


async def main() -> None:
    address, queue = sys.argv[1], sys.argv[2]
    closed, running, activities = (int(arg) for arg in sys.argv[3:6])
    client = await Client.connect(address)
    began = time.monotonic()
    async with Worker(
        client,
        task_queue=queue,
        workflows=[Quick, Approval, LongHistory],
        activities=[step],
        max_concurrent_activities=200,
    ):
        await start_many(client, Quick.run, "bench-closed", closed, queue)
        print(f"started {closed} closing workflows in {time.monotonic() - began:.1f} s", flush=True)
        await start_many(client, Approval.run, "bench-running", running, queue)
        print(f"started {running} waiting workflows in {time.monotonic() - began:.1f} s", flush=True)
        long_run = await client.start_workflow(LongHistory.run, activities, id="bench-long-history", task_queue=queue)
        await long_run.result()
        print(f"long history done in {time.monotonic() - began:.1f} s", flush=True)
        # Every closing workflow must have closed before the board is measured.
        while True:
            count = await client.count_workflows(f"TaskQueue = '{queue}' AND ExecutionStatus = 'Running'")
            if count.count <= running:
                break
            await asyncio.sleep(0.5)
    print("bench-long-history", flush=True)
    sys.stdout.flush()
    # The SDK's runtime can crash while the interpreter shuts down; the work is done.
    os._exit(0)


if __name__ == "__main__":
    asyncio.run(main())
