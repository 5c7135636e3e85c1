//! Notices between two handles on one shared store.

use std::time::Duration;

use crate::CurrentRunChange;

use super::fixtures::{
    Stored, at, create_write, new_namespace, ok, refused, refused_any, run_key, started, stored,
    terminated, update_write,
};
use crate::{Received, Store};

/// For a store several processes share, given two handles on one database: a commit's
/// notice reaches the other handle once the commit is done, in commit order, and never
/// when the commit is refused; [`Store::send_notice`] reaches it too; the sender never hears
/// its own; a message over [`Store::max_notice_len`] is refused without committing.
pub async fn notices(sender: &dyn Store, receiver: &dyn Store) {
    let mut heard = receiver
        .notices()
        .expect("store conformance: a shared store must offer notices");
    let mut echoed = sender
        .notices()
        .expect("store conformance: a shared store must offer notices");
    let ns = new_namespace(sender, "notices").await;
    let (first, first_events) = started(run_key(&ns, "wf", "run-1"), "flow", "q", at(1));
    let mut create = create_write(&first, &first_events, CurrentRunChange::First);
    create.notice = Some(b"created".to_vec());
    ok(sender.commit(vec![create]).await, "a create with a notice");

    let (next, events) = terminated(&first, "done", at(2));
    let mut stale = update_write(&first, &next, &events);
    stale.expected_version = Some(first.version + 7);
    stale.notice = Some(b"refused".to_vec());
    refused(
        sender.commit(vec![stale]).await,
        &["Conflict"],
        "a stale update with a notice",
    );
    let mut update = update_write(&first, &next, &events);
    update.notice = Some(b"updated".to_vec());
    ok(sender.commit(vec![update]).await, "an update with a notice");
    ok(
        sender.send_notice(b"direct".to_vec()).await,
        "send_notice()",
    );
    let longest = vec![0xa5; sender.max_notice_len()];
    ok(
        sender.send_notice(longest.clone()).await,
        "send_notice() of the longest message",
    );

    let (second, second_events) = started(run_key(&ns, "wf-2", "run-1"), "flow", "q", at(3));
    let mut too_long = create_write(&second, &second_events, CurrentRunChange::First);
    too_long.notice = Some(vec![0; sender.max_notice_len() + 1]);
    refused_any(
        sender.commit(vec![too_long]).await,
        "a commit whose notice is over the limit",
    );
    assert_eq!(
        stored(sender, &second.key).await,
        Stored::default(),
        "store conformance: a commit refused for its notice must write nothing"
    );

    let want = [
        b"created".to_vec(),
        b"updated".to_vec(),
        b"direct".to_vec(),
        longest,
    ];
    for wanted in want {
        let message = tokio::time::timeout(Duration::from_secs(10), heard.recv()).await;
        match message {
            Ok(Ok(Received::Notice(message))) => assert!(
                message == wanted,
                "store conformance: notices must arrive in commit order: wanted {:?}, got {:?}",
                String::from_utf8_lossy(&wanted[..wanted.len().min(16)]),
                String::from_utf8_lossy(&message[..message.len().min(16)])
            ),
            other => panic!(
                "store conformance: the other handle must hear {:?}, got {other:?}",
                String::from_utf8_lossy(&wanted[..wanted.len().min(16)])
            ),
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        heard.try_recv().is_err(),
        "store conformance: nothing else may arrive (a refused commit sends no notice)"
    );
    assert!(
        echoed.try_recv().is_err(),
        "store conformance: a handle must not hear its own notices"
    );
}
