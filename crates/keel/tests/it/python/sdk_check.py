"""Drives Keel with the official Temporal Python SDK (`temporalio`): one process runs a
worker and a client on a unique task queue and checks each scenario, printing a line per
scenario. Exits non-zero with a clear message on the first failure.

Usage: python sdk_check.py HOST:PORT HTTP-URL

Run by crates/keel/tests/it/python.rs with the venv from scripts/python-env.sh.

The workflow sandbox re-imports this module, so the definitions below stay importable with
no side effects; the entry point is guarded by `if __name__ == "__main__":`.
"""

import asyncio
import os
import sys
import traceback
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

NAMESPACE = "default"
SCENARIO_TIMEOUT = 30  # seconds, per scenario


# ---------------------------------------------------------------------------------------
# Activities


@activity.defn
async def greet(name: str) -> str:
    return f"hello, {name}"


@activity.defn
async def flaky(value: str) -> str:
    attempt = activity.info().attempt
    if attempt < 3:
        raise RuntimeError(f"flaky failure on attempt {attempt}")
    return f"{value} on attempt {attempt}"


@activity.defn
async def double(value: int) -> int:
    return value * 2


# ---------------------------------------------------------------------------------------
# Workflows


@workflow.defn
class GreetAndSleep:
    @workflow.run
    async def run(self, name: str) -> dict:
        greeting = await workflow.execute_activity(
            greet, name, start_to_close_timeout=timedelta(seconds=10)
        )
        before = workflow.now()
        await workflow.sleep(1)
        slept = (workflow.now() - before).total_seconds()
        return {"greeting": greeting, "slept": slept}


@workflow.defn
class RetryingActivity:
    @workflow.run
    async def run(self, value: str) -> str:
        return await workflow.execute_activity(
            flaky,
            value,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=200),
                backoff_coefficient=2.0,
                maximum_attempts=5,
            ),
        )


@workflow.defn
class FailsNonRetryable:
    @workflow.run
    async def run(self, reason: str) -> str:
        raise ApplicationError(f"refused: {reason}", type="Refused", non_retryable=True)


@workflow.defn
class SleepsLong:
    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(3600)
        return "woke up"


@workflow.defn
class LocalActivity:
    @workflow.run
    async def run(self, value: int) -> int:
        return await workflow.execute_local_activity(
            double, value, start_to_close_timeout=timedelta(seconds=10)
        )


@workflow.defn
class Ranked:
    """Sets its own rank (an Int search attribute) and ends."""

    @workflow.run
    async def run(self, rank: int) -> int:
        from temporalio.common import SearchAttributeKey

        workflow.upsert_search_attributes([SearchAttributeKey.for_int("PyRank").value_set(rank)])
        return rank


WORKFLOWS = [GreetAndSleep, RetryingActivity, FailsNonRetryable, SleepsLong, LocalActivity, Ranked]
ACTIVITIES = [greet, flaky, double]


# ---------------------------------------------------------------------------------------
# Scenarios


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


class Checker:
    def __init__(self, client, queue, http_url):
        self.client = client
        self.queue = queue
        self.http_url = http_url
        # (workflow id, run id) of every run this check starts, for the visibility scenario.
        self.started = set()

    def workflow_id(self, name):
        return f"{self.queue}-{name}"

    async def start(self, run, arg=None, *, name, **kwargs):
        args = [] if arg is None else [arg]
        handle = await self.client.start_workflow(
            run, *args, id=self.workflow_id(name), task_queue=self.queue, **kwargs
        )
        check(handle.result_run_id, f"{name}: start_workflow returned no run id")
        self.started.add((handle.id, handle.result_run_id))
        return handle

    async def activity_and_timer(self):
        from temporalio.api.enums.v1 import EventType

        handle = await self.start(GreetAndSleep.run, "keel", name="activity-and-timer")
        result = await handle.result()
        check(
            isinstance(result, dict) and result.get("greeting") == "hello, keel",
            f"workflow result: expected greeting 'hello, keel', got {result!r}",
        )
        slept = result["slept"]
        check(
            1.0 <= slept < 10.0,
            f"workflow.sleep(1) took {slept} s of workflow time: expected at least 1 s",
        )
        history = await handle.fetch_history()
        types = [event.event_type for event in history.events]
        for expected in (
            EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
            EventType.EVENT_TYPE_TIMER_STARTED,
            EventType.EVENT_TYPE_TIMER_FIRED,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
        ):
            check(
                expected in types,
                f"history lacks {EventType.Name(expected)}: "
                f"{[EventType.Name(t) for t in types]}",
            )
        return f"result {result!r}, {len(types)} events"

    async def activity_retries(self):
        from temporalio.api.enums.v1 import EventType

        handle = await self.start(RetryingActivity.run, "done", name="activity-retries")
        result = await handle.result()
        check(
            result == "done on attempt 3",
            f"workflow result: expected 'done on attempt 3', got {result!r}",
        )
        history = await handle.fetch_history()
        started = [
            event
            for event in history.events
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        ]
        check(
            len(started) == 1,
            f"expected one ActivityTaskStarted event, got {len(started)}: {started}",
        )
        attempt = started[0].activity_task_started_event_attributes.attempt
        check(attempt == 3, f"ActivityTaskStarted attempt: expected 3, got {attempt}")
        return f"result {result!r}, ActivityTaskStarted attempt {attempt}"

    async def workflow_failure(self):
        from temporalio.client import WorkflowFailureError

        handle = await self.start(FailsNonRetryable.run, "no", name="workflow-failure")
        try:
            result = await handle.result()
        except WorkflowFailureError as error:
            cause = error.cause
            check(
                isinstance(cause, ApplicationError),
                f"WorkflowFailureError cause: expected ApplicationError, "
                f"got {type(cause).__name__}: {cause}",
            )
            check(
                cause.message == "refused: no",
                f"ApplicationError message: expected 'refused: no', got {cause.message!r}",
            )
            check(cause.type == "Refused", f"ApplicationError type: got {cause.type!r}")
            check(cause.non_retryable, "ApplicationError lost non_retryable")
            return f"WorkflowFailureError caused by ApplicationError({cause.message!r})"
        raise CheckFailed(f"expected WorkflowFailureError, workflow returned {result!r}")

    async def already_started(self):
        from temporalio.client import WorkflowFailureError
        from temporalio.exceptions import TerminatedError, WorkflowAlreadyStartedError

        handle = await self.start(SleepsLong.run, name="already-started")
        try:
            again = await self.client.start_workflow(
                SleepsLong.run, id=handle.id, task_queue=self.queue
            )
        except WorkflowAlreadyStartedError as error:
            check(
                error.workflow_id == handle.id,
                f"WorkflowAlreadyStartedError workflow id: expected {handle.id!r}, "
                f"got {error.workflow_id!r}",
            )
        else:
            raise CheckFailed(
                f"starting running workflow {handle.id!r} again: expected "
                f"WorkflowAlreadyStartedError, got a new run {again.result_run_id!r}"
            )
        # Clean up: the run would otherwise sleep for an hour.
        await handle.terminate(reason="sdk_check done")
        try:
            await handle.result()
        except WorkflowFailureError as error:
            check(
                isinstance(error.cause, TerminatedError),
                f"terminated run's cause: expected TerminatedError, got {error.cause!r}",
            )
        else:
            raise CheckFailed("terminated run did not fail with WorkflowFailureError")
        return "WorkflowAlreadyStartedError on the second start"

    async def local_activity(self):
        handle = await self.start(LocalActivity.run, 21, name="local-activity")
        result = await handle.result()
        check(result == 42, f"local activity result: expected 42, got {result!r}")
        return f"result {result!r}"

    async def visibility(self):
        query = f"TaskQueue = '{self.queue}'"
        expected = self.started
        check(expected, "no runs were started before the visibility scenario")
        # Temporal's visibility is eventually consistent: allow a few seconds to catch up.
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            listed = [run async for run in self.client.list_workflows(query)]
            found = {(run.id, run.run_id) for run in listed}
            count = (await self.client.count_workflows(query)).count
            if found == expected and count == len(expected):
                break
            if asyncio.get_running_loop().time() > deadline:
                check(
                    found == expected,
                    f"list_workflows({query!r}): expected {sorted(expected)}, "
                    f"got {sorted(found)} (missing {sorted(expected - found)}, "
                    f"unexpected {sorted(found - expected)})",
                )
                check(
                    len(listed) == len(found),
                    f"list_workflows({query!r}) listed a run twice: {len(listed)} rows",
                )
                check(
                    count == len(expected),
                    f"count_workflows({query!r}): expected {len(expected)}, got {count}",
                )
            await asyncio.sleep(0.2)
        for run in listed:
            check(
                run.task_queue == self.queue,
                f"listed run {run.id} has task queue {run.task_queue!r}",
            )
        return f"{len(found)} runs listed, count {count}"


    async def search_attributes(self):
        from temporalio.api.enums.v1 import IndexedValueType
        from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
        from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

        await self.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=NAMESPACE,
                search_attributes={
                    "PyColor": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
                    "PyRank": IndexedValueType.INDEXED_VALUE_TYPE_INT,
                },
            )
        )
        color = SearchAttributeKey.for_keyword("PyColor")
        rank = SearchAttributeKey.for_int("PyRank")
        handle = await self.start(
            Ranked.run,
            7,
            name="ranked",
            search_attributes=TypedSearchAttributes([SearchAttributePair(color, "teal")]),
        )
        await handle.result()
        query = f"PyColor = 'teal' AND PyRank >= 7 AND TaskQueue = '{self.queue}'"
        found = [run.id async for run in self.client.list_workflows(query)]
        check(found == [handle.id], f"list_workflows({query!r}) found {found}")
        described = await handle.describe()
        attributes = described.typed_search_attributes
        check(
            attributes.get(color) == "teal" and attributes.get(rank) == 7,
            f"describe shows search attributes {attributes}",
        )
        return "registered, set at start, upserted, filtered and described"

    async def schedules(self):
        from temporalio.client import (
            Schedule,
            ScheduleActionStartWorkflow,
            ScheduleCalendarSpec,
            ScheduleRange,
            ScheduleSpec,
            ScheduleState,
        )

        schedule_id = f"{self.queue}-schedule"
        handle = await self.client.create_schedule(
            schedule_id,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    Ranked.run, 3, id=self.workflow_id("scheduled"), task_queue=self.queue
                ),
                # Every second, as a calendar.
                spec=ScheduleSpec(
                    calendars=[
                        ScheduleCalendarSpec(
                            second=[ScheduleRange(0, 59)],
                            minute=[ScheduleRange(0, 59)],
                            hour=[ScheduleRange(0, 23)],
                        )
                    ]
                ),
                state=ScheduleState(note="from python"),
            ),
        )
        for _ in range(100):
            described = await handle.describe()
            if described.info.num_actions >= 2:
                break
            await asyncio.sleep(0.1)
        check(described.info.num_actions >= 2, f"the schedule took {described.info.num_actions} actions")
        check(described.schedule.state.note == "from python", f"note {described.schedule.state.note!r}")
        check(
            len(described.schedule.spec.calendars) == 1,
            f"spec read back: {described.schedule.spec}",
        )
        await handle.pause(note="done")
        check((await handle.describe()).schedule.state.paused, "pause did not stick")
        await handle.delete()
        return f"{described.info.num_actions} actions, paused, deleted"


    async def replay_export(self):
        """The REST API's Temporal-format history export replays in the SDK's replayer."""
        import json
        import urllib.request

        from temporalio.client import WorkflowHistory
        from temporalio.worker import Replayer

        handle = await self.start(GreetAndSleep.run, "replay", name="replay-export")
        await handle.result()
        url = f"{self.http_url}/api/v1/executions/{handle.id}/history?format=temporal"
        body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read())
        exported = json.loads(body)
        fetched = await handle.fetch_history()
        check(
            len(exported["events"]) == len(fetched.events),
            f"export has {len(exported['events'])} events, the gRPC history {len(fetched.events)}",
        )
        history = WorkflowHistory.from_json(handle.id, exported)
        result = await Replayer(workflows=WORKFLOWS).replay_workflow(history)
        check(result.replay_failure is None, f"replay failed: {result.replay_failure}")
        return f"{len(exported['events'])} exported events replayed"


async def main(address, http_url):
    from temporalio.client import Client
    from temporalio.worker import Worker

    queue = f"keel-python-{uuid.uuid4()}"
    print(f"connecting to {address}, task queue {queue}", flush=True)
    client = await Client.connect(address, namespace=NAMESPACE)
    checker = Checker(client, queue, http_url)
    scenarios = [
        ("a: activity and 1 s timer", checker.activity_and_timer),
        ("b: activity retried until attempt 3", checker.activity_retries),
        ("c: non-retryable ApplicationError", checker.workflow_failure),
        ("d: start of a running workflow id", checker.already_started),
        ("f: local activity", checker.local_activity),
        ("e: list_workflows and count_workflows", checker.visibility),
        ("g: typed search attributes", checker.search_attributes),
        ("h: a schedule on a calendar", checker.schedules),
        ("i: REST history export replays", checker.replay_export),
    ]
    async with Worker(client, task_queue=queue, workflows=WORKFLOWS, activities=ACTIVITIES):
        for name, scenario in scenarios:
            try:
                detail = await asyncio.wait_for(scenario(), SCENARIO_TIMEOUT)
            except asyncio.TimeoutError:
                print(f"FAIL {name}: no outcome within {SCENARIO_TIMEOUT} s", flush=True)
                return 1
            except CheckFailed as failure:
                print(f"FAIL {name}: {failure}", flush=True)
                return 1
            except Exception:
                print(f"FAIL {name}: unexpected exception:", flush=True)
                traceback.print_exc(file=sys.stdout)
                sys.stdout.flush()
                return 1
            print(f"ok   {name}: {detail}", flush=True)
    print("all scenarios passed", flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(f"usage: {sys.argv[0]} HOST:PORT HTTP-URL", file=sys.stderr)
        sys.exit(2)
    try:
        code = asyncio.run(main(sys.argv[1], sys.argv[2]))
    except BaseException:
        print("FAIL: sdk_check.py crashed outside the scenarios:", flush=True)
        traceback.print_exc(file=sys.stdout)
        code = 1
    # Skip interpreter finalization: the SDK's Rust bridge threads can abort it with
    # "Fatal Python error: PyGILState_Release" (temporalio/sdk-python#300), turning a
    # passed check into SIGABRT. Everything is done and flushed by now.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
