//! Typed search attributes: registered through the OperatorService, set at start and by
//! workflows, filtered on in List and Count, returned by describe.

use std::collections::HashMap;
use std::time::Duration;

use temporalio_client::grpc::{OperatorService, WorkflowService};
use temporalio_client::tonic::{Code, Request, Status};
use temporalio_client::{
    Client, WorkflowGetResultOptions, WorkflowSignalOptions, WorkflowStartOptions,
};
use temporalio_common::protos::temporal::api::enums::v1::{
    EventType, IndexedValueType, WorkflowTaskFailedCause,
};
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_common::protos::temporal::api::operatorservice::v1::{
    AddSearchAttributesRequest, ListSearchAttributesRequest, RemoveSearchAttributesRequest,
};
use temporalio_common::protos::temporal::api::workflowservice::v1::ListWorkflowExecutionsRequest;
use temporalio_common::search_attributes::{SearchAttributeKey, SearchAttributes};

use crate::harness::{
    Backend, Server, count, describe, event_types, history, on_both_backends, unique,
    wait_for_event, with_worker,
};
use crate::workflows::{LABELS, Labeled, Mistyped, SCORE, STAGE};

const REGION: SearchAttributeKey<String> = SearchAttributeKey::keyword("Region");

async fn add(client: &Client, attributes: &[(&str, IndexedValueType)]) -> Result<(), Status> {
    let request = AddSearchAttributesRequest {
        search_attributes: attributes
            .iter()
            .map(|(name, kind)| (name.to_string(), *kind as i32))
            .collect(),
        namespace: "default".into(),
    };
    OperatorService::add_search_attributes(&mut client.clone(), Request::new(request))
        .await
        .map(|_| ())
}

async fn custom_attributes(client: &Client) -> HashMap<String, i32> {
    let request = ListSearchAttributesRequest {
        namespace: "default".into(),
    };
    OperatorService::list_search_attributes(&mut client.clone(), Request::new(request))
        .await
        .expect("list search attributes")
        .into_inner()
        .custom_attributes
}

/// The workflow ids a list filter matches, sorted.
async fn listed(client: &Client, query: &str) -> Result<Vec<String>, Status> {
    let request = ListWorkflowExecutionsRequest {
        namespace: "default".into(),
        query: query.into(),
        ..Default::default()
    };
    let response =
        WorkflowService::list_workflow_executions(&mut client.clone(), Request::new(request))
            .await?
            .into_inner();
    let mut ids: Vec<String> = response
        .executions
        .into_iter()
        .filter_map(|e| e.execution.map(|e| e.workflow_id))
        .collect();
    ids.sort();
    Ok(ids)
}

async fn eventually_count(client: &Client, query: &str, want: i64) {
    for _ in 0..200 {
        if count(client, query).await == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{query:?} never counted {want}");
}

on_both_backends! {
    async fn search_attributes_are_registered_set_upserted_and_filtered_on(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("search");

        // Nothing is known before registration: starting with an attribute is refused and
        // stores nothing, and so is filtering on it.
        let refused_id = unique("unregistered");
        let refused = client
            .start_workflow(
                Labeled::run,
                1,
                WorkflowStartOptions::new(&queue, &refused_id)
                    .search_attributes(SearchAttributes::new([REGION.value_set("eu".into())]))
                    .build(),
            )
            .await
            .err()
            .expect("an unregistered attribute is refused");
        assert!(
            refused.to_string().contains("no mapping defined for search attribute Region"),
            "{refused}"
        );
        assert_eq!(count(&client, &format!("WorkflowId = '{refused_id}'")).await, 0);
        let unknown = listed(&client, "Region = 'eu'").await.unwrap_err();
        assert_eq!(unknown.code(), Code::InvalidArgument);
        assert!(unknown.message().contains("unknown search attribute 'Region'"), "{unknown:?}");

        add(
            &client,
            &[
                ("Region", IndexedValueType::Keyword),
                ("Stage", IndexedValueType::Keyword),
                ("Score", IndexedValueType::Int),
                ("Labels", IndexedValueType::KeywordList),
            ],
        )
        .await
        .unwrap();
        // Registering again with the same type is fine; another type or a system name is not.
        add(&client, &[("Stage", IndexedValueType::Keyword)]).await.unwrap();
        let retyped = add(&client, &[("Stage", IndexedValueType::Int)]).await.unwrap_err();
        assert_eq!(retyped.code(), Code::AlreadyExists, "{retyped:?}");
        let reserved = add(&client, &[("WorkflowId", IndexedValueType::Keyword)])
            .await
            .unwrap_err();
        assert_eq!(reserved.code(), Code::InvalidArgument, "{reserved:?}");
        let custom = custom_attributes(&client).await;
        assert_eq!(custom.get("Stage"), Some(&(IndexedValueType::Keyword as i32)));
        assert_eq!(custom.get("Labels"), Some(&(IndexedValueType::KeywordList as i32)));
        assert_eq!(custom.len(), 4, "{custom:?}");

        // A value of the wrong type is refused.
        let mistyped = client
            .start_workflow(
                Labeled::run,
                1,
                WorkflowStartOptions::new(&queue, unique("mistyped"))
                    .search_attributes(SearchAttributes::new([
                        SearchAttributeKey::<i64>::int("Region").value_set(5),
                    ]))
                    .build(),
            )
            .await
            .err()
            .expect("an Int for a Keyword is refused");
        assert!(
            mistyped.to_string().contains("invalid value for search attribute Region of type Keyword"),
            "{mistyped}"
        );

        let ids: Vec<String> = (1..=3).map(|i| unique(&format!("labeled-{i}"))).collect();
        with_worker(&client, &queue, async {
            let mut handles = Vec::new();
            for (i, id) in ids.iter().enumerate() {
                let region = if i == 1 { "us" } else { "eu" };
                let handle = client
                    .start_workflow(
                        Labeled::run,
                        i as i64 + 1,
                        WorkflowStartOptions::new(&queue, id)
                            .search_attributes(SearchAttributes::new([
                                REGION.value_set(region.into()),
                            ]))
                            .build(),
                    )
                    .await
                    .unwrap();
                handles.push(handle);
            }
            // Each workflow upserts its stage, score and labels.
            eventually_count(&client, "Stage = 'working'", 3).await;
            assert_eq!(
                listed(&client, "Region = 'eu' AND Score >= 2").await.unwrap(),
                [ids[2].clone()]
            );
            assert_eq!(
                listed(&client, "Labels = 'score-2' OR Score > 2").await.unwrap(),
                {
                    let mut want = vec![ids[1].clone(), ids[2].clone()];
                    want.sort();
                    want
                }
            );
            assert_eq!(count(&client, "Labels = 'new' AND Region != 'us'").await, 2);

            handles[0]
                .signal(Labeled::finish, (), WorkflowSignalOptions::default())
                .await
                .unwrap();
            handles[0]
                .get_result(WorkflowGetResultOptions::default())
                .await
                .unwrap();
        })
        .await;

        // The finished run says it is done and has no score any more.
        assert_eq!(listed(&client, "Stage = 'done'").await.unwrap(), [ids[0].clone()]);
        assert_eq!(
            listed(&client, "Score IS NULL AND Stage IS NOT NULL").await.unwrap(),
            [ids[0].clone()]
        );
        let described = describe(&client, &ids[0]).await;
        let attributes = SearchAttributes::from_proto(
            described
                .workflow_execution_info
                .as_ref()
                .and_then(|info| info.search_attributes.as_ref())
                .expect("describe shows search attributes"),
        );
        assert_eq!(attributes.get(&STAGE), Some("done".to_owned()));
        assert_eq!(attributes.get(&REGION), Some("eu".to_owned()));
        assert_eq!(attributes.get(&SCORE), None);
        assert_eq!(
            attributes.get(&LABELS),
            Some(vec!["new".to_owned(), "score-1".to_owned()])
        );
        let upserts = event_types(&history(&client, &ids[0]).await)
            .into_iter()
            .filter(|t| *t == EventType::UpsertWorkflowSearchAttributes)
            .count();
        assert_eq!(upserts, 2);

        // A workflow upserting a value of the wrong type has its workflow task failed.
        let mistyped_id = unique("mistyped");
        with_worker(&client, &queue, async {
            client
                .start_workflow(
                    Mistyped::run,
                    (),
                    WorkflowStartOptions::new(&queue, &mistyped_id).build(),
                )
                .await
                .unwrap();
            wait_for_event(&client, &mistyped_id, EventType::WorkflowTaskFailed).await;
        })
        .await;
        let failed = history(&client, &mistyped_id)
            .await
            .into_iter()
            .find_map(|event| match event.attributes {
                Some(Attributes::WorkflowTaskFailedEventAttributes(failed)) => Some(failed),
                _ => None,
            })
            .expect("a failed workflow task");
        assert_eq!(failed.cause, WorkflowTaskFailedCause::BadSearchAttributes as i32);
        let message = failed.failure.map(|f| f.message).unwrap_or_default();
        assert!(
            message.contains("invalid value for search attribute Stage of type Keyword"),
            "{message}"
        );

        // A removed attribute can no longer be filtered on.
        let request = RemoveSearchAttributesRequest {
            search_attributes: vec!["Score".into()],
            namespace: "default".into(),
        };
        OperatorService::remove_search_attributes(&mut client.clone(), Request::new(request))
            .await
            .unwrap();
        assert!(!custom_attributes(&client).await.contains_key("Score"));
        assert_eq!(
            listed(&client, "Score > 0").await.unwrap_err().code(),
            Code::InvalidArgument
        );
    }
}
