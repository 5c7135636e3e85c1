//! Engine errors as gRPC statuses, with the typed details Temporal's SDKs look for.

use keel_engine::Error;
use prost::Message;
use temporalio_protos::google::rpc::Status as RpcStatus;
use temporalio_protos::temporal::api::errordetails::v1 as details;
use tonic::{Code, Status};

fn with_detail<M: Message>(code: Code, message: String, type_name: &str, detail: M) -> Status {
    let any = prost_wkt_types::Any {
        type_url: format!("type.googleapis.com/{type_name}"),
        value: detail.encode_to_vec(),
    };
    let rpc = RpcStatus {
        code: code as i32,
        message: message.clone(),
        details: vec![any],
    };
    Status::with_details(code, message, rpc.encode_to_vec().into())
}

pub fn to_status(error: Error) -> Status {
    let message = error.to_string();
    match error {
        Error::NotFound(_) => with_detail(
            Code::NotFound,
            message,
            "temporal.api.errordetails.v1.NotFoundFailure",
            details::NotFoundFailure {
                current_cluster: "active".into(),
                active_cluster: "active".into(),
            },
        ),
        Error::NamespaceNotFound(namespace) => with_detail(
            Code::NotFound,
            message,
            "temporal.api.errordetails.v1.NamespaceNotFoundFailure",
            details::NamespaceNotFoundFailure { namespace },
        ),
        Error::AlreadyStarted {
            start_request_id,
            run_id,
            ..
        } => with_detail(
            Code::AlreadyExists,
            message,
            "temporal.api.errordetails.v1.WorkflowExecutionAlreadyStartedFailure",
            details::WorkflowExecutionAlreadyStartedFailure {
                start_request_id,
                first_execution_run_id: run_id.clone(),
                run_id,
            },
        ),
        Error::AlreadyExists(_) => Status::already_exists(message),
        Error::FailedPrecondition(_) => Status::failed_precondition(message),
        Error::NamespaceAlreadyExists(_) => with_detail(
            Code::AlreadyExists,
            message,
            "temporal.api.errordetails.v1.NamespaceAlreadyExistsFailure",
            details::NamespaceAlreadyExistsFailure {},
        ),
        Error::InvalidArgument(_) => Status::invalid_argument(message),
        Error::QueryFailed { failure, .. } => with_detail(
            Code::InvalidArgument,
            message,
            "temporal.api.errordetails.v1.QueryFailedFailure",
            details::QueryFailedFailure {
                failure: failure.and_then(|blob| {
                    temporalio_protos::temporal::api::failure::v1::Failure::decode(&blob.0[..]).ok()
                }),
            },
        ),
        Error::DeadlineExceeded(_) => Status::deadline_exceeded(message),
        Error::Unimplemented(_) => Status::unimplemented(message),
        Error::Unavailable(_) | Error::Conflict(_) => Status::unavailable(message),
        Error::DataLoss(_) => Status::data_loss(message),
    }
}
