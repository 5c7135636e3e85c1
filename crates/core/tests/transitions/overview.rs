//! What a run is on (`Execution::doing`) as it moves from deciding to activities and timers
//! and, once nothing it scheduled is open, to waiting for input.

use keel_core::Command;

use crate::harness::*;

#[test]
fn what_a_run_is_on_follows_its_activities_timers_and_finally_waits_for_input() {
    use keel_core::overview::Doing;
    let mut h = Harness::start();
    assert_eq!(h.ex.doing(), Some(Doing::Deciding));
    h.take_workflow_task();
    h.complete(vec![activity("a1"), activity("a2")]);
    let on_activity = |attempt, backing_off| Doing::Activity {
        activity_type: spec("a1").activity_type,
        attempt,
        backing_off,
        others: 1,
    };
    assert_eq!(h.ex.doing(), Some(on_activity(1, false)));
    let first = h.take_activity("a1");
    h.fail_activity(first, app_failure("boom", "Flaky", false));
    assert_eq!(h.ex.doing(), Some(on_activity(2, true)));
    h.advance(secs(1));
    let second = h.take_activity("a1");
    h.complete_activity(second, "ok");
    let other = h.take_activity("a2");
    h.complete_activity(other, "ok");
    assert_eq!(
        h.ex.doing(),
        Some(Doing::Deciding),
        "the results go to the workflow"
    );
    h.take_workflow_task();
    h.complete(vec![timer("t1", secs(60)), timer("t2", secs(5))]);
    assert_eq!(
        h.ex.doing(),
        Some(Doing::Timer {
            fires_at: h.now.plus(secs(5)),
            others: 1
        })
    );
    h.advance(secs(5));
    h.take_workflow_task();
    h.complete(vec![Command::CancelTimer {
        timer_id: "t1".into(),
    }]);
    assert_eq!(
        h.ex.doing(),
        Some(Doing::WaitingForInput),
        "nothing it scheduled is open: only a signal, update or cancellation moves it"
    );
}
