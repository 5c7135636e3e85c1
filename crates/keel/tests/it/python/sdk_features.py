"""Features of the official Temporal Python SDK (`temporalio`) that depend on the server,
one scenario at a time, written to run unchanged against Keel and against Temporal's dev
server (`temporal server start-dev`), so both answer the same way.

Usage: python sdk_features.py HOST:PORT SCENARIO [SCENARIO ...]

Prints `ok SCENARIO: detail` for each, or `FAIL SCENARIO: why` and exits 1. Run by
crates/keel/tests/it/sdk_gaps.rs with the venv from scripts/python-env.sh.

The workflow sandbox re-imports this module: definitions stay importable with no side
effects, and the entry point is guarded by `if __name__ == "__main__":`.
"""

import asyncio
import json
import os
import sys
import traceback
import uuid
from datetime import datetime, timedelta, timezone

from temporalio import activity, workflow
from temporalio.exceptions import ApplicationError

NAMESPACE = "default"
SCENARIO_TIMEOUT = 60  # seconds


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# ---------------------------------------------------------------------------------------
# Workflows and activities


@workflow.defn
class Timeouts:
    """Answers the timeouts the run was started with, as the SDK sees them."""

    @workflow.run
    async def run(self) -> list:
        info = workflow.info()
        return [str(info.run_timeout), str(info.execution_timeout), str(info.task_timeout)]


@workflow.defn
class Waiter:
    """Waits for `finish`; its update `slow` waits for `release`."""

    def __init__(self) -> None:
        self.finished = False
        self.released = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.finished)
        return "finished"

    @workflow.signal
    def finish(self) -> None:
        self.finished = True

    @workflow.signal
    def release(self) -> None:
        self.released = True

    @workflow.update
    async def slow(self, value: int) -> int:
        await workflow.wait_condition(lambda: self.released)
        return value * 2


@workflow.defn
class Echo:
    @workflow.run
    async def run(self, value: str) -> str:
        return value


@workflow.defn
class Grow:
    """Takes `bump` signals until it has `want`; notes when continue-as-new was suggested."""

    def __init__(self) -> None:
        self.bumps = 0
        self.first_suggested_at = None

    @workflow.run
    async def run(self, want: int) -> list:
        await workflow.wait_condition(lambda: self.bumps >= want)
        info = workflow.info()
        return [self.first_suggested_at, info.is_continue_as_new_suggested(), info.get_current_history_length()]

    @workflow.signal
    def bump(self) -> None:
        self.bumps += 1
        info = workflow.info()
        if self.first_suggested_at is None and info.is_continue_as_new_suggested():
            self.first_suggested_at = info.get_current_history_length()


@workflow.defn
class Memo:
    """Changes its memo, then waits for `finish`."""

    def __init__(self) -> None:
        self.finished = False

    @workflow.run
    async def run(self) -> str:
        workflow.upsert_memo({"stage": "started", "gone": None, "count": 2})
        await workflow.wait_condition(lambda: self.finished)
        return "done"

    @workflow.signal
    def finish(self) -> None:
        self.finished = True


@workflow.defn
class Locked:
    """Updates that take turns on one lock, some giving up waiting."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.order = []
        self.finished = False

    @workflow.run
    async def run(self) -> list:
        await workflow.wait_condition(lambda: self.finished)
        return self.order

    @workflow.update
    async def take(self, n: int) -> int:
        async with self.lock:
            self.order.append(n)
            await workflow.sleep(0.05)
        return n

    @workflow.update
    async def impatient(self, n: int) -> str:
        try:
            await workflow.wait_condition(lambda: self.finished, timeout=0.2)
            return "finished"
        except asyncio.TimeoutError:
            return f"gave up {n}"

    @workflow.signal
    def finish(self) -> None:
        self.finished = True


@workflow.defn
class Accumulate:
    """A scheduled run: adds one to the last run's result, or fails when told to."""

    @workflow.run
    async def run(self, fail: bool) -> int:
        last = workflow.get_last_completion_result(int) if workflow.has_last_completion_result() else 0
        failure = workflow.get_last_failure()
        if fail:
            raise ApplicationError("told to fail", non_retryable=True)
        return (last or 0) + 1 + (100 if failure is not None else 0)


@workflow.defn
class Counter:
    """Adds what its updates bring until `finish`; a negative amount is refused."""

    def __init__(self) -> None:
        self.total = 0
        self.finished = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.finished)
        return self.total

    @workflow.update
    def add(self, amount: int) -> int:
        self.total += amount
        return self.total

    @add.validator
    def check_add(self, amount: int) -> None:
        if amount < 0:
            raise ValueError(f"cannot add {amount}")

    @workflow.signal
    def finish(self) -> None:
        self.finished = True


@workflow.defn(sandboxed=False)
class Continuing:
    """On `next`, spends a while in its workflow task (an update arrives meanwhile), then
    continues as new; the next run answers updates with its own run id."""

    def __init__(self) -> None:
        self.go = False
        self.finished = False

    @workflow.run
    async def run(self, generation: int) -> int:
        if generation > 0:
            await workflow.wait_condition(lambda: self.finished)
            return generation
        await workflow.wait_condition(lambda: self.go)
        import time

        time.sleep(1.5)  # a slow workflow task: the update is admitted while it runs
        workflow.continue_as_new(1)

    @workflow.signal
    def next(self) -> None:
        self.go = True

    @workflow.signal
    def finish(self) -> None:
        self.finished = True

    @workflow.update
    async def which_run(self) -> str:
        return workflow.info().run_id


WORKFLOWS = [Timeouts, Waiter, Echo, Grow, Memo, Locked, Accumulate, Counter, Continuing]
ACTIVITIES = []


# ---------------------------------------------------------------------------------------
# Scenarios: each takes the client and a fresh task queue with a worker on it.


async def register_attributes(client, attributes):
    """Adds custom search attributes (name: IndexedValueType) unless they exist."""
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest

    listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=NAMESPACE))
    missing = {n: t for n, t in attributes.items() if n not in listed.custom_attributes}
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=NAMESPACE, search_attributes=missing)
        )


async def legacy_search_attributes(client, queue):
    """Untyped search attributes are lists: a list of one is that value (Temporal)."""
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
    from temporalio.api.enums.v1 import IndexedValueType

    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=NAMESPACE,
            search_attributes={
                "FeatureKeyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
                "FeatureInt": IndexedValueType.INDEXED_VALUE_TYPE_INT,
            },
        )
    )
    tag = unique("tag")
    workflow_id = unique("legacy-sa")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        handle = await client.start_workflow(
            Echo.run,
            "x",
            id=workflow_id,
            task_queue=queue,
            search_attributes={"FeatureKeyword": [tag], "FeatureInt": [7]},
        )
    await handle.result()
    described = await handle.describe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        shown = described.search_attributes
    check(shown.get("FeatureKeyword") == [tag], f"described: {shown}")
    check(shown.get("FeatureInt") == [7], f"described: {shown}")
    found = []
    for _ in range(50):
        found = [w.id async for w in client.list_workflows(f"FeatureKeyword = '{tag}' AND FeatureInt = 7")]
        if found:
            break
        await asyncio.sleep(0.2)
    check(found == [workflow_id], f"listed: {found}")
    return f"{tag} stored and found"


async def unset_timeouts(client, queue):
    """A run started without run or execution timeouts sees them unset, not zero."""
    result = await client.execute_workflow(Timeouts.run, id=unique("timeouts"), task_queue=queue)
    check(result[0] == "None" and result[1] == "None", f"run, execution, task timeouts: {result}")
    return f"run, execution, task timeouts: {result}"


async def count_group_by_status(client, queue):
    """CountWorkflowExecutions with GROUP BY ExecutionStatus answers one group per status."""
    kind = unique("Counted")
    for i in range(3):
        await client.start_workflow("Echo", f"{i}", id=unique("counted"), task_queue=queue)
    # Nobody works this type's queue: two stay running, one is terminated.
    other = unique("idle")
    handles = [
        await client.start_workflow(kind, id=unique("idle"), task_queue=other) for _ in range(3)
    ]
    await handles[0].terminate("counted")
    query = f"WorkflowType = '{kind}' GROUP BY ExecutionStatus"
    for _ in range(50):
        counted = await client.count_workflows(query)
        groups = {
            tuple(json.dumps(v) for v in g.group_values): g.count for g in counted.groups
        }
        if counted.count == 3 and len(groups) == 2:
            break
        await asyncio.sleep(0.2)
    check(counted.count == 3, f"total {counted.count}")
    check(groups == {('"Running"',): 2, ('"Terminated"',): 1}, f"groups {groups}")
    return f"{groups}"


async def schedule_without_spec(client, queue):
    """A schedule with no spec at all runs only when triggered (Temporal allows it)."""
    from temporalio.client import Schedule, ScheduleActionStartWorkflow, ScheduleSpec

    schedule_id = unique("by-hand")
    handle = await client.create_schedule(
        schedule_id,
        Schedule(
            action=ScheduleActionStartWorkflow(Echo.run, "by hand", id=unique("by-hand-run"), task_queue=queue),
            spec=ScheduleSpec(),
        ),
    )
    described = await handle.describe()
    check(described.info.next_action_times == [], f"next times: {described.info.next_action_times}")
    await handle.trigger()
    for _ in range(50):
        described = await handle.describe()
        if described.info.recent_actions:
            break
        await asyncio.sleep(0.2)
    check(len(described.info.recent_actions) == 1, f"recent: {described.info.recent_actions}")
    await handle.delete()
    return "triggered once, nothing due"


async def update_result_rpc_timeout(client, queue):
    """Waiting for an update's result with a short RPC timeout ends in the SDK's timeout
    error when the update does not finish in time, instead of polling forever."""
    from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError, WorkflowUpdateStage

    handle = await client.start_workflow(Waiter.run, id=unique("waiter"), task_queue=queue)
    update = await handle.start_update(Waiter.slow, 21, wait_for_stage=WorkflowUpdateStage.ACCEPTED)
    started = asyncio.get_running_loop().time()
    try:
        await update.result(rpc_timeout=timedelta(seconds=2))
        raise CheckFailed("the result came though the update waits")
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        waited = asyncio.get_running_loop().time() - started
    check(waited < 10, f"gave up after {waited:.1f} s")
    await handle.signal(Waiter.release)
    check(await update.result() == 42, "the update's result once released")
    await handle.signal(Waiter.finish)
    await handle.result()
    return f"timed out after {waited:.1f} s, then 42"


async def continue_as_new_suggested(client, queue):
    """Past 4096 events (Temporal's limit.historyCount.suggestContinueAsNew) the workflow
    task tells the workflow to continue as new."""
    want = 4200
    handle = await client.start_workflow(Grow.run, want, id=unique("grow"), task_queue=queue)
    for sent in range(0, want, 200):
        await asyncio.gather(*[handle.signal(Grow.bump) for _ in range(min(200, want - sent))])
    first, suggested, length = await handle.result()
    check(suggested, f"not suggested at {length} events")
    check(first is not None and first >= 4096, f"first suggested at {first} events")
    return f"first suggested at {first} events, {length} in all"


async def memo_upserted_by_the_workflow(client, queue):
    """A memo changed by the workflow shows in describe: set keys kept, null removes."""
    handle = await client.start_workflow(
        Memo.run, id=unique("memo"), task_queue=queue, memo={"gone": "soon", "kept": "yes"}
    )
    for _ in range(50):
        memo = await (await handle.describe()).memo()
        if memo.get("stage") == "started":
            break
        await asyncio.sleep(0.1)
    check(memo == {"stage": "started", "count": 2, "kept": "yes"}, f"memo {memo}")
    await handle.signal(Memo.finish)
    await handle.result()
    return f"{memo}"


async def concurrent_updates_on_one_lock(client, queue):
    """Many updates in flight on one run, taking turns on a lock, some timing out."""
    handle = await client.start_workflow(Locked.run, id=unique("locked"), task_queue=queue)
    takes = [handle.execute_update(Locked.take, n) for n in range(8)]
    waits = [handle.execute_update(Locked.impatient, n) for n in range(3)]
    results = await asyncio.gather(*takes, *waits)
    check(sorted(results[:8]) == list(range(8)), f"takes {results[:8]}")
    check(sorted(results[8:]) == ["gave up 0", "gave up 1", "gave up 2"], f"waits {results[8:]}")
    await handle.signal(Locked.finish)
    order = await handle.result()
    check(sorted(order) == list(range(8)), f"order {order}")
    return f"8 turns, 3 gave up"


async def schedule_passes_last_result_and_failure(client, queue):
    """A schedule's next run reads the last completion result and the last failure."""
    from temporalio.client import Schedule, ScheduleActionStartWorkflow, ScheduleSpec, ScheduleUpdate

    schedule_id = unique("accumulate")
    handle = await client.create_schedule(
        schedule_id,
        Schedule(
            action=ScheduleActionStartWorkflow(Accumulate.run, False, id=unique("acc"), task_queue=queue),
            spec=ScheduleSpec(),
        ),
    )

    async def run_once(expect_actions):
        await handle.trigger()
        for _ in range(100):
            described = await handle.describe()
            actions = described.info.recent_actions
            if len(actions) >= expect_actions:
                last = actions[-1].action
                run = client.get_workflow_handle(last.workflow_id, run_id=last.first_execution_run_id)
                try:
                    return await run.result()
                except Exception as error:  # the failing run
                    return type(error).__name__
            await asyncio.sleep(0.1)
        raise CheckFailed(f"no run {expect_actions}")

    first = await run_once(1)
    second = await run_once(2)

    def fail_next(update):
        schedule = update.description.schedule
        schedule.action.args = [True]
        return ScheduleUpdate(schedule=schedule)

    await handle.update(fail_next)
    failed = await run_once(3)

    def succeed_next(update):
        schedule = update.description.schedule
        schedule.action.args = [False]
        return ScheduleUpdate(schedule=schedule)

    await handle.update(succeed_next)
    after_failure = await run_once(4)
    await handle.delete()
    results = [first, second, failed, after_failure]
    check(results == [1, 2, "WorkflowFailureError", 103], f"results {results}")
    return f"{results}"


async def start_delay(client, queue):
    """A start delayed by 2 s: its first workflow task comes after the delay, and describe
    shows when it will run (execution time)."""
    begun = datetime.now(timezone.utc)
    handle = await client.start_workflow(
        Echo.run, "late", id=unique("delayed"), task_queue=queue, start_delay=timedelta(seconds=2)
    )
    described = await handle.describe()
    check(described.execution_time is not None, "no execution time")
    waits = (described.execution_time - described.start_time).total_seconds()
    check(1.9 <= waits <= 2.5, f"execution time {waits:.2f} s after start")
    check(await handle.result() == "late", "result")
    took = (datetime.now(timezone.utc) - begun).total_seconds()
    check(took >= 1.9, f"ran after {took:.2f} s")
    history = await handle.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    check(started.first_workflow_task_backoff.ToTimedelta() == timedelta(seconds=2), f"backoff {started.first_workflow_task_backoff}")
    # Signal-with-start takes a delay too.
    handle = await client.start_workflow(
        Waiter.run, id=unique("delayed-signal"), task_queue=queue,
        start_signal="finish", start_delay=timedelta(seconds=1),
    )
    check(await handle.result() == "finished", "signal-with-start")
    return f"ran after {took:.2f} s"


async def small_calls(client, queue):
    """CountSchedules and GetSearchAttributes answer as on Temporal."""
    from temporalio.api.workflowservice.v1 import CountSchedulesRequest, GetSearchAttributesRequest
    from temporalio.client import Schedule, ScheduleActionStartWorkflow, ScheduleSpec

    schedule_id = unique("counted")
    handle = await client.create_schedule(
        schedule_id,
        Schedule(action=ScheduleActionStartWorkflow(Echo.run, "x", id=unique("c"), task_queue=queue), spec=ScheduleSpec()),
    )
    counted = 0
    for _ in range(50):
        counted = (await client.workflow_service.count_schedules(CountSchedulesRequest(namespace=NAMESPACE))).count
        if counted >= 1:
            break
        await asyncio.sleep(0.2)
    check(counted >= 1, f"count_schedules {counted}")
    await handle.delete()
    keys = (await client.workflow_service.get_search_attributes(GetSearchAttributesRequest())).keys
    check("WorkflowType" in keys and "ExecutionStatus" in keys, f"keys {sorted(keys)[:10]}")
    return f"{counted} schedules, {len(keys)} search attributes"


async def update_with_start(client, queue):
    """Update-with-start: starts the workflow and updates it in one call; attaches to the
    running one under USE_EXISTING; FAIL refuses a running one; a rejected update still
    leaves the workflow started; the same update id is answered from what happened."""
    from temporalio.client import (
        WithStartWorkflowOperation,
        WorkflowUpdateFailedError,
    )
    from temporalio.common import WorkflowIDConflictPolicy
    from temporalio.exceptions import WorkflowAlreadyStartedError

    workflow_id = unique("counter")

    def start_op(policy=WorkflowIDConflictPolicy.USE_EXISTING):
        return WithStartWorkflowOperation(
            Counter.run, id=workflow_id, id_conflict_policy=policy, task_queue=queue
        )

    first = start_op()
    total = await client.execute_update_with_start_workflow(
        Counter.add, 5, start_workflow_operation=first, id="add-1"
    )
    check(total == 5, f"first total {total}")
    handle = await first.workflow_handle()
    check(handle.id == workflow_id and handle.result_run_id, f"handle {handle.id} {handle.result_run_id}")

    second = start_op()
    total = await client.execute_update_with_start_workflow(
        Counter.add, 2, start_workflow_operation=second, id="add-2"
    )
    check(total == 7, f"second total {total}")
    check((await second.workflow_handle()).result_run_id == handle.result_run_id, "attached to the running run")

    again = await client.execute_update_with_start_workflow(
        Counter.add, 2, start_workflow_operation=start_op(), id="add-2"
    )
    check(again == 7, f"the same update id answered again: {again}")

    try:
        await client.execute_update_with_start_workflow(
            Counter.add, 1, start_workflow_operation=start_op(WorkflowIDConflictPolicy.FAIL), id="add-3"
        )
        raise CheckFailed("FAIL attached to a running workflow")
    except WorkflowAlreadyStartedError:
        pass

    refused_id = unique("counter-refused")
    refused_op = WithStartWorkflowOperation(
        Counter.run, id=refused_id, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING, task_queue=queue
    )
    try:
        await client.execute_update_with_start_workflow(
            Counter.add, -1, start_workflow_operation=refused_op, id="add-neg"
        )
        raise CheckFailed("a negative amount was added")
    except WorkflowUpdateFailedError as error:
        check("cannot add -1" in str(error.cause), f"cause {error.cause}")
    refused_handle = await refused_op.workflow_handle()
    described = await refused_handle.describe()
    check(described.status is not None and described.status.name == "RUNNING", f"status {described.status}")
    await refused_handle.signal(Counter.finish)

    await handle.signal(Counter.finish)
    check(await handle.result() == 7, "result")
    return "started, attached, refused under FAIL, rejected update keeps the start"


async def update_request_checks(client, queue):
    """UpdateWorkflowExecution refuses to wait only for admission (PermissionDenied), and an
    update naming another chain's first run finds no workflow (NotFound)."""
    from temporalio.api.common.v1 import WorkflowExecution
    from temporalio.api.enums.v1 import UpdateWorkflowExecutionLifecycleStage as Stage
    from temporalio.api.update.v1 import Input, Meta, Request as UpdateRequest, WaitPolicy
    from temporalio.api.workflowservice.v1 import UpdateWorkflowExecutionRequest
    from temporalio.service import RPCError, RPCStatusCode

    handle = await client.start_workflow(Counter.run, id=unique("checked"), task_queue=queue)

    def request(stage, first_run=""):
        return UpdateWorkflowExecutionRequest(
            namespace=NAMESPACE,
            workflow_execution=WorkflowExecution(workflow_id=handle.id),
            first_execution_run_id=first_run,
            request=UpdateRequest(meta=Meta(update_id=unique("u")), input=Input(name="add")),
            wait_policy=WaitPolicy(lifecycle_stage=stage),
        )

    codes = []
    for stage, first_run in [
        (Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED, ""),
        (Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ACCEPTED, "00000000-0000-0000-0000-000000000000"),
    ]:
        try:
            await client.workflow_service.update_workflow_execution(
                request(stage, first_run), timeout=timedelta(seconds=5)
            )
            codes.append("accepted")
        except RPCError as error:
            codes.append(error.status.name)
    check(codes == ["PERMISSION_DENIED", "NOT_FOUND"], f"codes {codes}")
    await handle.signal(Counter.finish)
    await handle.result()
    return f"{codes}"


async def schedule_describe_round_trip(client, queue):
    """DescribeSchedule gives back what CreateSchedule was given, as Temporal writes it: a
    cron string as a structured calendar, the action's task queue marked normal, and the
    action's options, policies, state and memo as given."""
    from temporalio.api.enums.v1 import TaskQueueKind
    from temporalio.api.workflowservice.v1 import DescribeScheduleRequest
    from temporalio.client import (
        Schedule, ScheduleActionStartWorkflow, ScheduleCalendarSpec, ScheduleIntervalSpec,
        ScheduleOverlapPolicy, SchedulePolicy, ScheduleRange, ScheduleSpec, ScheduleState,
    )
    from temporalio.common import RetryPolicy

    schedule_id = unique("round-trip")
    handle = await client.create_schedule(
        schedule_id,
        Schedule(
            action=ScheduleActionStartWorkflow(
                Echo.run, "arg", id=unique("rt"), task_queue=queue,
                execution_timeout=timedelta(hours=1), run_timeout=timedelta(minutes=30),
                task_timeout=timedelta(seconds=20), retry_policy=RetryPolicy(maximum_attempts=3),
                memo={"m": "v"},
            ),
            spec=ScheduleSpec(
                calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(9)], day_of_week=[ScheduleRange(1, 5)], comment="weekdays")],
                intervals=[ScheduleIntervalSpec(every=timedelta(hours=2), offset=timedelta(minutes=5))],
                cron_expressions=["0 12 * * *"],
                skip=[ScheduleCalendarSpec(month=[ScheduleRange(12)])],
                start_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
                end_at=datetime(2030, 1, 1, tzinfo=timezone.utc),
                jitter=timedelta(seconds=10), time_zone_name="Europe/Paris",
            ),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.BUFFER_ONE, catchup_window=timedelta(minutes=10), pause_on_failure=True),
            state=ScheduleState(note="hello", paused=True, limited_actions=True, remaining_actions=5),
        ),
        memo={"sm": "sv"},
    )
    raw = await client.workflow_service.describe_schedule(
        DescribeScheduleRequest(namespace=NAMESPACE, schedule_id=schedule_id)
    )
    spec = raw.schedule.spec
    check(list(spec.cron_string) == [], f"cron strings {list(spec.cron_string)}")
    calendars = [(list(c.hour), c.comment) for c in spec.structured_calendar]
    check(len(calendars) == 2, f"calendars {calendars}")
    noon = spec.structured_calendar[1]
    check([(r.start, r.end) for r in noon.hour] == [(12, 12)], f"cron hour {noon.hour}")
    check([(r.start, r.end) for r in noon.minute] == [(0, 0)], f"cron minute {noon.minute}")
    check([(r.start, r.end) for r in noon.day_of_month] == [(1, 31)], f"cron days {noon.day_of_month}")
    check(len(noon.year) == 0, f"cron year {noon.year}")
    start = raw.schedule.action.start_workflow
    check(start.task_queue.kind == TaskQueueKind.TASK_QUEUE_KIND_NORMAL, f"queue kind {start.task_queue.kind}")
    check(start.workflow_run_timeout.ToTimedelta() == timedelta(minutes=30), "run timeout")
    check(start.retry_policy.maximum_attempts == 3, "retry policy")
    described = await handle.describe()
    check(described.schedule.policy.overlap == ScheduleOverlapPolicy.BUFFER_ONE, "overlap")
    check(described.schedule.state.paused and described.schedule.state.remaining_actions == 5, "state")
    check(await described.memo_value("sm") == "sv", "memo")
    check(spec.timezone_name == "Europe/Paris" and spec.jitter.ToTimedelta() == timedelta(seconds=10), "zone, jitter")
    await handle.delete()
    return "spec, action, policies, state and memo as Temporal gives them"


async def schedule_search_attributes_update(client, queue):
    """Updating a schedule changes its own search attributes and those of the workflows it
    starts, as on Temporal."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.client import Schedule, ScheduleActionStartWorkflow, ScheduleSpec, ScheduleUpdate
    from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

    await register_attributes(client, {"FeatureKeyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD})
    key = SearchAttributeKey.for_keyword("FeatureKeyword")
    schedule_id = unique("sa-schedule")
    handle = await client.create_schedule(
        schedule_id,
        Schedule(
            action=ScheduleActionStartWorkflow(
                Echo.run, "x", id=unique("sa-run"), task_queue=queue,
                typed_search_attributes=TypedSearchAttributes([SearchAttributePair(key, "before")]),
            ),
            spec=ScheduleSpec(),
        ),
        search_attributes=TypedSearchAttributes([SearchAttributePair(key, "schedule-before")]),
    )

    def change(update):
        schedule = update.description.schedule
        schedule.action.typed_search_attributes = TypedSearchAttributes([SearchAttributePair(key, "after")])
        return ScheduleUpdate(
            schedule=schedule,
            search_attributes=TypedSearchAttributes([SearchAttributePair(key, "schedule-after")]),
        )

    await handle.update(change)
    # Temporal's describe shows the schedule's own attributes once visibility has them.
    for _ in range(50):
        described = await handle.describe()
        if described.typed_search_attributes.get(key) == "schedule-after":
            break
        await asyncio.sleep(0.2)
    check(described.typed_search_attributes.get(key) == "schedule-after", f"schedule's {described.typed_search_attributes}")
    action = described.schedule.action
    check(action.typed_search_attributes.get(key) == "after", f"action's {action.typed_search_attributes}")
    await handle.trigger()
    for _ in range(100):
        described = await handle.describe()
        if described.info.recent_actions:
            break
        await asyncio.sleep(0.1)
    run = described.info.recent_actions[0].action
    started = await client.get_workflow_handle(run.workflow_id, run_id=run.first_execution_run_id).describe()
    check(started.typed_search_attributes.get(key) == "after", f"run's {started.typed_search_attributes}")
    await handle.delete()
    return "schedule's and its workflows' search attributes updated"


async def eager_workflow_start(client, queue):
    """A start asking for eager execution gets its first workflow task in the answer (the
    starter's own worker takes it without polling); the SDK's `request_eager_start` runs the
    workflow with it."""
    from temporalio.api.command.v1 import Command, CompleteWorkflowExecutionCommandAttributes
    from temporalio.api.common.v1 import Payload, Payloads, WorkflowType
    from temporalio.api.enums.v1 import CommandType, EventType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import (
        RespondWorkflowTaskCompletedRequest, StartWorkflowExecutionRequest,
    )

    nobody = unique("eager-nobody")
    workflow_id = unique("eager")
    started = await client.workflow_service.start_workflow_execution(
        StartWorkflowExecutionRequest(
            namespace=NAMESPACE, workflow_id=workflow_id, workflow_type=WorkflowType(name="Eager"),
            task_queue=TaskQueue(name=nobody), request_id=str(uuid.uuid4()),
            identity="eager-worker", request_eager_execution=True,
        )
    )
    task = started.eager_workflow_task
    check(task.task_token, "no eager workflow task in the answer")
    types = [e.event_type for e in task.history.events]
    check(types[-1] == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED, f"history ends {types}")
    check(task.history.events[-1].workflow_task_started_event_attributes.identity == "eager-worker", "identity")
    result = Payload(metadata={"encoding": b"json/plain"}, data=b'"eager"')
    await client.workflow_service.respond_workflow_task_completed(
        RespondWorkflowTaskCompletedRequest(
            namespace=NAMESPACE, task_token=task.task_token, identity="eager-worker",
            commands=[Command(
                command_type=CommandType.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION,
                complete_workflow_execution_command_attributes=CompleteWorkflowExecutionCommandAttributes(
                    result=Payloads(payloads=[result])
                ),
            )],
        )
    )
    check(await client.get_workflow_handle(workflow_id).result() == "eager", "result")
    handle = await client.start_workflow(
        Echo.run, "sdk eager", id=unique("eager-sdk"), task_queue=queue, request_eager_start=True
    )
    check(await handle.result() == "sdk eager", "the SDK's eager start")
    return "first task in the start's answer"


async def update_during_continue_as_new(client, queue):
    """An update admitted while the run's workflow task continues it as new is handled by
    the next run, as on Temporal (the SDK sends it again when told the run moved on)."""
    handle = await client.start_workflow(Continuing.run, 0, id=unique("continuing"), task_queue=queue)
    first_run = handle.result_run_id
    await handle.signal(Continuing.next)
    await asyncio.sleep(0.5)
    answered_by = await handle.execute_update(Continuing.which_run)
    check(answered_by != first_run, f"answered by the first run {first_run}")
    await handle.signal(Continuing.finish)
    check(await handle.result() == 1, "the next run's result")
    return "handled by the next run"


SCENARIOS = {
    f.__name__: f
    for f in [
        legacy_search_attributes,
        unset_timeouts,
        count_group_by_status,
        schedule_without_spec,
        update_result_rpc_timeout,
        continue_as_new_suggested,
        memo_upserted_by_the_workflow,
        concurrent_updates_on_one_lock,
        schedule_passes_last_result_and_failure,
        start_delay,
        small_calls,
        update_with_start,
        update_request_checks,
        schedule_describe_round_trip,
        schedule_search_attributes_update,
        eager_workflow_start,
        update_during_continue_as_new,
    ]
}


async def main(address, names):
    from temporalio.client import Client
    from temporalio.worker import Worker

    client = await Client.connect(address, namespace=NAMESPACE)
    for name in names:
        scenario = SCENARIOS.get(name)
        if scenario is None:
            print(f"FAIL {name}: no such scenario; there are {', '.join(SCENARIOS)}", flush=True)
            return 1
        queue = unique(f"py-{name}")
        try:
            async with Worker(client, task_queue=queue, workflows=WORKFLOWS, activities=ACTIVITIES):
                detail = await asyncio.wait_for(scenario(client, queue), SCENARIO_TIMEOUT)
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
        print(f"ok {name}: {detail}", flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        print(f"usage: {sys.argv[0]} HOST:PORT SCENARIO [SCENARIO ...]", file=sys.stderr)
        sys.exit(2)
    try:
        code = asyncio.run(main(sys.argv[1], sys.argv[2:]))
    except BaseException:
        print("FAIL: sdk_features.py crashed outside the scenarios:", flush=True)
        traceback.print_exc(file=sys.stdout)
        code = 1
    # Skip interpreter finalization: the SDK's Rust bridge threads can abort it
    # (temporalio/sdk-python#300). Everything is flushed by now.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
