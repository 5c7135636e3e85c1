//! Schedules: workflows started on an interval, paused, triggered, surviving a crash.

use std::time::Duration;

use temporalio_client::grpc::WorkflowService;
use temporalio_client::schedules::{
    CreateScheduleOptions, DeleteScheduleOptions, PauseScheduleOptions, ScheduleAction,
    ScheduleCalendarSpec, ScheduleDescription, ScheduleHandle, ScheduleOverlapPolicy, ScheduleSpec,
    TriggerScheduleOptions, UnpauseScheduleOptions,
};
use temporalio_client::tonic::{Code, Request};
use temporalio_client::{Client, RpcOptions, WorkflowGetResultOptions};
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    CreateScheduleRequest, ListScheduleMatchingTimesRequest, ListSchedulesRequest,
};

use crate::harness::{Backend, Server, count, on_both_backends, unique, with_worker};
use crate::workflows::Greeting;

async fn described(handle: &ScheduleHandle<Client>) -> ScheduleDescription {
    handle
        .describe(RpcOptions::default())
        .await
        .expect("describe schedule")
}

/// Waits until the schedule has taken at least `actions` actions.
async fn actions_reach(handle: &ScheduleHandle<Client>, actions: i64) -> ScheduleDescription {
    for _ in 0..300 {
        let description = described(handle).await;
        if description.action_count() >= actions {
            return description;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the schedule never took {actions} actions: {:?}",
        described(handle).await.raw()
    );
}

on_both_backends! {
    async fn a_schedule_fires_pauses_is_triggered_and_survives_a_crash(backend: Backend) {
        let mut server = Server::start_on(backend).await;
        let client = server.client().await;
        let queue = unique("schedules");
        let schedule_id = unique("every-two-seconds");
        let handle = client
            .create_schedule(
                &schedule_id,
                CreateScheduleOptions::builder()
                    .action(ScheduleAction::start_workflow(
                        Greeting::run,
                        "schedule".to_owned(),
                        &queue,
                        "greeting",
                    ))
                    .spec(ScheduleSpec::from_interval(Duration::from_secs(2)))
                    .build(),
            )
            .await
            .unwrap();
        // The id is taken now.
        let again = WorkflowService::create_schedule(
            &mut client.clone(),
            Request::new(CreateScheduleRequest {
                namespace: "default".into(),
                schedule_id: schedule_id.clone(),
                schedule: described(&handle).await.raw().schedule.clone(),
                request_id: "another".into(),
                ..Default::default()
            }),
        )
        .await
        .unwrap_err();
        assert_eq!(again.code(), Code::AlreadyExists, "{again:?}");

        // Everything below runs with a worker polling, so the started workflows finish and
        // the Skip overlap policy lets the next ones start.
        let (fired, after_pause, before_crash) = with_worker(&client, &queue, async {
            let fired = actions_reach(&handle, 2).await;
            // The started workflows ran to completion.
            for action in fired.recent_actions() {
                assert!(action.workflow_id.starts_with("greeting-20"), "{}", action.workflow_id);
                let result: String = client
                    .get_workflow_handle::<Greeting>(&action.workflow_id)
                    .get_result(WorkflowGetResultOptions::default())
                    .await
                    .unwrap();
                assert_eq!(result, "hello, schedule");
            }
            // Describe does not show them running any more.
            let running = described(&handle).await.running_actions();
            for action in fired.recent_actions() {
                assert!(
                    !running.iter().any(|r| r.run_id == action.run_id),
                    "{} completed but is shown running",
                    action.workflow_id
                );
            }

            // Paused, a trigger still starts a run. (That time passing starts nothing while
            // paused is shown under a manual clock: keel-engine's tests/clock.rs.)
            handle
                .pause(Some("maintenance"), PauseScheduleOptions::default())
                .await
                .unwrap();
            let paused = described(&handle).await;
            assert!(paused.paused());
            assert_eq!(paused.note(), Some("maintenance"));
            assert!(paused.future_action_times().is_empty());
            let after_pause = paused.action_count();
            handle
                .trigger(ScheduleOverlapPolicy::AllowAll, TriggerScheduleOptions::default())
                .await
                .unwrap();
            actions_reach(&handle, after_pause + 1).await;
            handle
                .unpause(None::<String>, UnpauseScheduleOptions::default())
                .await
                .unwrap();
            let before_crash = described(&handle).await.action_count();

            // SIGKILL: the schedule and what it did are kept, and it goes on firing.
            server.kill().await;
            server.restart().await;
            let survived = actions_reach(&handle, before_crash + 2).await;
            assert!(!survived.paused());
            (fired, after_pause, before_crash)
        })
        .await;
        assert!(after_pause >= 2 && before_crash > after_pause);
        let times: Vec<_> = fired
            .recent_actions()
            .iter()
            .filter_map(|action| action.schedule_time)
            .collect();
        assert_eq!(
            times[1].duration_since(times[0]).unwrap(),
            Duration::from_secs(2),
            "two seconds apart"
        );
        assert!(
            count(&client, &format!("TemporalScheduledById = '{schedule_id}'")).await >= 2,
            "started workflows name their schedule"
        );

        let listed = WorkflowService::list_schedules(
            &mut client.clone(),
            Request::new(ListSchedulesRequest {
                namespace: "default".into(),
                ..Default::default()
            }),
        )
        .await
        .unwrap()
        .into_inner();
        assert!(listed.schedules.iter().any(|entry| entry.schedule_id == schedule_id));
        let now = std::time::SystemTime::now();
        let matching = WorkflowService::list_schedule_matching_times(
            &mut client.clone(),
            Request::new(ListScheduleMatchingTimesRequest {
                namespace: "default".into(),
                schedule_id: schedule_id.clone(),
                start_time: Some(now.into()),
                end_time: Some((now + Duration::from_secs(9)).into()),
            }),
        )
        .await
        .unwrap()
        .into_inner();
        assert!(
            (4..=5).contains(&matching.start_time.len()),
            "every two seconds over nine: {:?}",
            matching.start_time
        );

        handle.delete(DeleteScheduleOptions::default()).await.unwrap();
        let gone = handle.describe(RpcOptions::default()).await;
        assert!(gone.is_err(), "a deleted schedule is gone");
    }

    async fn schedule_calendars_follow_their_time_zone(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let schedule_id = unique("tokyo-mornings");
        let spec = |zone: &str| {
            ScheduleSpec::builder()
                .calendars(vec![ScheduleCalendarSpec::builder().hour("9").build()])
                .timezone_name(zone.to_owned())
                .build()
        };
        let create = |zone: &str| {
            CreateScheduleOptions::builder()
                .action(ScheduleAction::start_workflow(
                    Greeting::run,
                    "tokyo".to_owned(),
                    "q",
                    "morning",
                ))
                .spec(spec(zone))
                .paused(true)
                .build()
        };
        let unknown = client.create_schedule(unique("nowhere"), create("Nowhere/Special")).await;
        let message = match unknown {
            Err(error) => format!("{error:?}"),
            Ok(_) => panic!("an unknown time zone must be refused"),
        };
        assert!(message.contains("unknown time zone 'Nowhere/Special'"), "{message}");

        client.create_schedule(&schedule_id, create("Asia/Tokyo")).await.unwrap();
        // Midnight UTC of 2030-01-01 plus `days`.
        let at = |days: u64| -> prost_wkt_types::Timestamp {
            (std::time::UNIX_EPOCH + Duration::from_secs(1_893_456_000 + days * 86_400)).into()
        };
        let matching = WorkflowService::list_schedule_matching_times(
            &mut client.clone(),
            Request::new(ListScheduleMatchingTimesRequest {
                namespace: "default".into(),
                schedule_id: schedule_id.clone(),
                start_time: Some(at(0)),
                end_time: Some(at(2)),
            }),
        )
        .await
        .unwrap()
        .into_inner();
        // 09:00 in Tokyo is midnight UTC.
        assert_eq!(
            matching.start_time,
            [at(0), at(1), at(2)]
        );
    }

    async fn a_schedule_with_a_bad_spec_is_refused(backend: Backend) {
        let server = Server::start_on(backend).await;
        let client = server.client().await;
        let refused = client
            .create_schedule(
                unique("bad"),
                CreateScheduleOptions::builder()
                    .action(ScheduleAction::start_workflow(
                        Greeting::run,
                        "x".to_owned(),
                        "q",
                        "w",
                    ))
                    .spec(
                        ScheduleSpec::builder()
                            .cron_strings(vec!["every tuesday".into()])
                            .build(),
                    )
                    .build(),
            )
            .await;
        let message = match refused {
            Err(error) => format!("{error:?}"),
            Ok(_) => panic!("a bad cron string must be refused"),
        };
        assert!(message.contains("invalid cron string 'every tuesday'"), "{message}");
        let listed = WorkflowService::list_schedules(
            &mut client.clone(),
            Request::new(ListSchedulesRequest {
                namespace: "default".into(),
                ..Default::default()
            }),
        )
        .await
        .unwrap()
        .into_inner();
        assert!(listed.schedules.is_empty(), "nothing was stored");
    }
}
