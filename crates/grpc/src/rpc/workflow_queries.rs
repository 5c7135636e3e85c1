//! Queries: QueryWorkflow from clients, answers from workers.

use super::prelude::*;
use keel_engine::{QueryAnswer, QueryOutcome, RejectCondition, WorkflowQuery};
use temporalio_protos::temporal::api::failure::v1 as failure;
use temporalio_protos::temporal::api::query::v1 as query;

pub(crate) async fn query_workflow(
    frontend: &Frontend,
    request: Request<ws::QueryWorkflowRequest>,
) -> Reply<ws::QueryWorkflowResponse> {
    let deadline = frontend.poll_deadline(&request);
    let r = request.into_inner();
    let asked = r
        .query
        .as_ref()
        .filter(|q| !q.query_type.is_empty())
        .ok_or_else(|| Status::invalid_argument("QueryType is not set on request."))?;
    let workflow_query = WorkflowQuery {
        query_type: asked.query_type.clone(),
        args: payloads(asked.query_args.as_ref()),
        header: header(asked.header.as_ref()),
    };
    let reject = match enums::QueryRejectCondition::try_from(r.query_reject_condition) {
        Ok(enums::QueryRejectCondition::NotOpen) => RejectCondition::NotOpen,
        Ok(enums::QueryRejectCondition::NotCompletedCleanly) => {
            RejectCondition::NotCompletedCleanly
        }
        _ => RejectCondition::None,
    };
    let key = frontend.resolve(&r.namespace, r.execution.as_ref()).await?;
    let outcome = engine_result(
        frontend
            .engine
            .query(&key, workflow_query, reject, deadline)
            .await,
    )?;
    Ok(Response::new(match outcome {
        QueryOutcome::Answered(result) => ws::QueryWorkflowResponse {
            query_result: to_payloads(&result),
            ..Default::default()
        },
        QueryOutcome::Rejected(status) => ws::QueryWorkflowResponse {
            query_rejected: Some(query::QueryRejected {
                status: status.code(),
            }),
            ..Default::default()
        },
    }))
}

pub(crate) async fn respond_query_task_completed(
    frontend: &Frontend,
    request: Request<ws::RespondQueryTaskCompletedRequest>,
) -> Reply<ws::RespondQueryTaskCompletedResponse> {
    let r = request.into_inner();
    let answer = query_answer(
        r.completed_type,
        r.query_result.as_ref(),
        &r.error_message,
        r.failure.as_ref(),
    );
    engine_result(frontend.engine.answer_query(&r.task_token, answer).await)?;
    Ok(Response::new(ws::RespondQueryTaskCompletedResponse {}))
}

/// A worker's answer, from a query task or a workflow task completion.
pub(crate) fn query_answer(
    result_type: i32,
    answer: Option<&common::Payloads>,
    error_message: &str,
    failure: Option<&failure::Failure>,
) -> QueryAnswer {
    match enums::QueryResultType::try_from(result_type) {
        Ok(enums::QueryResultType::Answered) => QueryAnswer::Answered(payloads(answer)),
        _ => QueryAnswer::Failed {
            message: if error_message.is_empty() {
                failure.map(|f| f.message.clone()).unwrap_or_default()
            } else {
                error_message.to_owned()
            },
            failure: failure.map(encode),
        },
    }
}

pub(crate) fn to_workflow_query(workflow_query: &WorkflowQuery) -> query::WorkflowQuery {
    query::WorkflowQuery {
        query_type: workflow_query.query_type.clone(),
        query_args: to_payloads(&workflow_query.args),
        header: Some(to_header(&workflow_query.header)),
    }
}
