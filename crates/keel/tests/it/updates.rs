//! Workflow updates: validated, accepted, completed with a result the history keeps; a
//! rejection writes no update events; a retried update id gets the first answer.

use std::time::Duration;

use temporalio_client::errors::WorkflowUpdateError;
use temporalio_client::{
    WorkflowExecuteUpdateOptions, WorkflowGetResultOptions, WorkflowSignalOptions,
    WorkflowStartOptions,
};
use temporalio_common::protos::temporal::api::enums::v1::EventType;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

use crate::harness::{
    Backend, Server, assert_well_formed, event_types, history, on_both_backends, unique,
    with_worker,
};
use crate::workflows::Accumulator;

on_both_backends! {
    async fn updates_are_validated_accepted_and_answered(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("updates");
        let workflow_id = unique("accumulator");
        with_worker(&client, &queue, async {
            let handle = client
                .start_workflow(
                    Accumulator::run,
                    (),
                    WorkflowStartOptions::new(&queue, &workflow_id).build(),
                )
                .await
                .unwrap();
            let options = |id: &str| {
                WorkflowExecuteUpdateOptions::builder()
                    .update_id(id.to_owned())
                    .build()
            };
            let total = handle
                .execute_update(Accumulator::add_checked, 5, options("first"))
                .await
                .unwrap();
            assert_eq!(total, 5);
            let total = handle
                .execute_update(Accumulator::add_checked, 7, options("second"))
                .await
                .unwrap();
            assert_eq!(total, 12);
            // The validator refuses zero: the caller hears why, the workflow is unchanged.
            let refused = handle
                .execute_update(Accumulator::add_checked, 0, options("zero"))
                .await;
            match refused {
                Err(WorkflowUpdateError::Failed(failure)) => {
                    assert!(failure.to_string().contains("zero adds nothing") || format!("{failure:?}").contains("zero adds nothing"), "{failure:?}");
                }
                other => panic!("expected the validator's refusal, got {other:?}"),
            }
            // A retried update id is answered from history, not run again.
            let again = handle
                .execute_update(Accumulator::add_checked, 5, options("first"))
                .await
                .unwrap();
            assert_eq!(again, 5);
            handle
                .signal(Accumulator::finish, (), WorkflowSignalOptions::default())
                .await
                .unwrap();
            let result = tokio::time::timeout(
                Duration::from_secs(30),
                handle.get_result(WorkflowGetResultOptions::default()),
            )
            .await
            .unwrap()
            .unwrap();
            assert_eq!(result, (12, 2), "the rejected and the retried update changed nothing");
        })
        .await;
        let events = history(&client, &workflow_id).await;
        assert_well_formed(&events);
        let types = event_types(&events);
        let count = |wanted| types.iter().filter(|t| **t == wanted).count();
        assert_eq!(count(EventType::WorkflowExecutionUpdateAccepted), 2);
        assert_eq!(count(EventType::WorkflowExecutionUpdateCompleted), 2);
        let accepted: Vec<(i64, String)> = events
            .iter()
            .filter_map(|e| match &e.attributes {
                Some(Attributes::WorkflowExecutionUpdateAcceptedEventAttributes(a)) => {
                    Some((e.event_id, a.protocol_instance_id.clone()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            accepted.iter().map(|(_, id)| id.as_str()).collect::<Vec<_>>(),
            ["first", "second"]
        );
        for event in &events {
            if let Some(Attributes::WorkflowExecutionUpdateCompletedEventAttributes(a)) = &event.attributes {
                let id = &a.meta.as_ref().unwrap().update_id;
                let accepted_at = accepted.iter().find(|(_, a)| a == id).unwrap().0;
                assert_eq!(a.accepted_event_id, accepted_at);
                assert!(a.outcome.is_some());
            }
        }
    }
}
