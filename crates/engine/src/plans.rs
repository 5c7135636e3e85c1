//! Planned runs: saved starts that an operator starts by hand or that start by themselves at
//! their start time (see `keel_core::plan`). Starting one starts its workflow with the plan's
//! fixed request id and then removes the plan, so a start repeated after a crash, or made by
//! two nodes at once, finds the run the first one started.

use std::collections::BTreeMap;
use std::time::Duration;

use keel_core::plan::{PlanEdit, PlannedRun, PlannedStart};
use keel_core::{ExecutionKey, StartParams, Time};

use crate::start::StartRequest;
use crate::wakes::{self, Wakes};
use crate::{Engine, Error, Result};

/// Who a plan's start says it came from.
const IDENTITY: &str = "keel-planner";
/// How long a plan whose start failed waits before the next try.
const RETRY: Duration = Duration::from_secs(30);

#[derive(Default)]
pub(crate) struct Plans {
    /// When each plan with a start time is due.
    pub(crate) wakes: Wakes,
}

/// How the wake loop starts due plans.
pub(crate) fn wake_kind() -> wakes::Kind {
    wakes::Kind {
        name: "planned run",
        wakes: |inner| &inner.plans.wakes,
        recover: |engine| Box::pin(engine.recover_plans()),
        act: |engine, namespace, id| Box::pin(engine.start_due_plan(namespace, id)),
        retry: RETRY,
    }
}

impl Engine {
    /// Saves a new planned run; an empty `plan_id` gets a generated one.
    pub async fn create_plan(
        &self,
        namespace: &str,
        plan_id: &str,
        what: PlannedStart,
        start_at: Option<Time>,
        note: String,
    ) -> Result<PlannedRun> {
        self.namespace(namespace)?;
        let id = if plan_id.is_empty() {
            let uuid = uuid::Uuid::new_v4().simple().to_string();
            format!("plan-{}", &uuid[..12])
        } else {
            plan_id.to_owned()
        };
        let plan = PlannedRun::new(
            namespace.to_owned(),
            id,
            what,
            start_at,
            note,
            uuid::Uuid::new_v4().to_string(),
            self.now(),
        )?;
        self.inner.store.create_plan(&plan).await?;
        self.arm_plan(&plan);
        Ok(plan)
    }

    pub async fn plan(&self, namespace: &str, plan_id: &str) -> Result<PlannedRun> {
        self.namespace(namespace)?;
        self.inner
            .store
            .plan(namespace, plan_id)
            .await?
            .ok_or_else(|| keel_store::plan_not_found(plan_id).into())
    }

    /// A namespace's planned runs, the soonest first (those without a start time last, the
    /// oldest of them first).
    pub async fn plans(&self, namespace: &str) -> Result<Vec<PlannedRun>> {
        self.namespace(namespace)?;
        let mut plans = self.inner.store.plans(Some(namespace)).await?;
        plans.sort_by_key(|plan| (plan.start_at.is_none(), plan.start_at, plan.create_time));
        Ok(plans)
    }

    /// Changes a planned run; with `expected_version`, only if nobody changed it since.
    pub async fn edit_plan(
        &self,
        namespace: &str,
        plan_id: &str,
        edit: PlanEdit,
        expected_version: Option<i64>,
    ) -> Result<PlannedRun> {
        let mut plan = self.plan(namespace, plan_id).await?;
        let read = plan.version;
        if let Some(expected) = expected_version
            && expected != read
        {
            return Err(stale(plan_id, expected, read));
        }
        plan.edit(edit, self.now())?;
        plan.version = read + 1;
        self.inner.store.update_plan(&plan, read).await?;
        self.arm_plan(&plan);
        Ok(plan)
    }

    pub async fn delete_plan(
        &self,
        namespace: &str,
        plan_id: &str,
        expected_version: Option<i64>,
    ) -> Result<()> {
        self.namespace(namespace)?;
        self.inner
            .store
            .delete_plan(namespace, plan_id, expected_version)
            .await
            .map_err(|error| match error {
                keel_store::Error::Conflict(_) => Error::FailedPrecondition(format!(
                    "planned run '{plan_id}' changed since it was read; read it again"
                )),
                other => other.into(),
            })?;
        self.inner
            .plans
            .wakes
            .set((namespace.to_owned(), plan_id.to_owned()), None);
        Ok(())
    }

    /// Starts a planned run now and removes it; answers the run it became.
    pub async fn start_plan(&self, namespace: &str, plan_id: &str) -> Result<ExecutionKey> {
        let plan = self.plan(namespace, plan_id).await?;
        let key = self.start_planned(&plan).await?;
        self.forget_plan(&plan).await?;
        Ok(key)
    }

    async fn start_planned(&self, plan: &PlannedRun) -> Result<ExecutionKey> {
        let request = StartRequest {
            namespace: plan.namespace.clone(),
            workflow_id: plan.what.workflow_id.clone(),
            params: StartParams {
                workflow_type: plan.what.workflow_type.clone(),
                task_queue: plan.what.task_queue.clone(),
                input: plan.what.input.clone(),
                identity: IDENTITY.into(),
                request_id: plan.request_id.clone(),
                ..StartParams::default()
            },
            ..StartRequest::default()
        };
        let started = self.start_workflow(request).await?;
        Ok(ExecutionKey {
            namespace: plan.namespace.clone(),
            workflow_id: plan.what.workflow_id.clone(),
            run_id: started.run_id,
        })
    }

    /// Removes a plan that has started (whatever was edited meanwhile: the run exists).
    async fn forget_plan(&self, plan: &PlannedRun) -> Result<()> {
        match self
            .inner
            .store
            .delete_plan(&plan.namespace, &plan.id, None)
            .await
        {
            // Another node or call started it too, and removed it first.
            Ok(()) | Err(keel_store::Error::NotFound(_)) => {}
            Err(error) => return Err(error.into()),
        }
        self.inner
            .plans
            .wakes
            .set((plan.namespace.clone(), plan.id.clone()), None);
        Ok(())
    }

    /// The wake loop's act: starts a plan whose time has come. A start refused for good (its
    /// workflow id is running, its namespace is gone) is recorded on the plan, which stays
    /// in Planning for a person to see, and is tried again later.
    async fn start_due_plan(&self, namespace: &str, plan_id: &str) -> Result<()> {
        let key = (namespace.to_owned(), plan_id.to_owned());
        let Some(plan) = self.inner.store.plan(namespace, plan_id).await? else {
            self.inner.plans.wakes.set(key, None);
            return Ok(());
        };
        if !plan.is_due(self.now()) {
            self.arm_plan(&plan);
            return Ok(());
        }
        match self.start_planned(&plan).await {
            Ok(run) => {
                tracing::info!(%namespace, plan = %plan_id, run_id = %run.run_id, "planned run started");
                self.forget_plan(&plan).await
            }
            Err(error @ (Error::Unavailable(_) | Error::Conflict(_))) => Err(error),
            Err(error) => {
                let mut failed = plan.clone();
                failed.start_error = Some(error.to_string());
                failed.version += 1;
                match self.inner.store.update_plan(&failed, plan.version).await {
                    Ok(())
                    | Err(keel_store::Error::Conflict(_) | keel_store::Error::NotFound(_)) => {}
                    Err(error) => return Err(error.into()),
                }
                Err(error)
            }
        }
    }

    fn arm_plan(&self, plan: &PlannedRun) {
        self.inner
            .plans
            .wakes
            .set((plan.namespace.clone(), plan.id.clone()), plan.start_at);
    }

    /// Loads every plan's start time; with a shared store, again every few seconds.
    pub(crate) async fn recover_plans(&self) -> Result<()> {
        let plans = self.inner.store.plans(None).await?;
        let wakes: BTreeMap<_, _> = plans
            .into_iter()
            .filter_map(|plan| Some(((plan.namespace, plan.id), plan.start_at?)))
            .collect();
        self.inner.plans.wakes.replace(wakes);
        Ok(())
    }
}

fn stale(plan_id: &str, expected: i64, stored: i64) -> Error {
    Error::FailedPrecondition(format!(
        "planned run '{plan_id}' is at version {stored}, not {expected}: it changed since it was read"
    ))
}
