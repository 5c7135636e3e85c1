//! One module per group of Temporal RPCs. Each handler validates and translates its request,
//! calls the engine, and translates the answer; `service.rs` only routes to them.

pub(crate) mod activity_tasks;
pub(crate) mod multi;
pub(crate) mod namespaces;
pub(crate) mod reads;
pub(crate) mod requests;
pub(crate) mod reset;
pub(crate) mod schedules;
pub(crate) mod search_attributes;
pub(crate) mod start;
pub(crate) mod system;
pub(crate) mod updates;
pub(crate) mod workflow_queries;
pub(crate) mod workflow_tasks;

/// What every handler uses.
mod prelude {
    pub(crate) use keel_engine::{
        ActivityOutcome, ActivityTarget, HistoryRequest, StartRequest, TaskKind,
    };
    pub(crate) use temporalio_protos::temporal::api::common::v1 as common;
    pub(crate) use temporalio_protos::temporal::api::enums::v1 as enums;
    pub(crate) use temporalio_protos::temporal::api::taskqueue::v1 as taskqueue;
    pub(crate) use temporalio_protos::temporal::api::workflowservice::v1 as ws;
    pub(crate) use tonic::{Request, Response, Status};

    pub(crate) use crate::convert::*;
    pub(crate) use crate::error::to_status;
    pub(crate) use crate::search::search_attributes;
    pub(crate) use crate::service::{Frontend, Reply, engine_result};
}
