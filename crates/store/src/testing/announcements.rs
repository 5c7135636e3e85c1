//! Announcements between two handles on one shared store.

use std::time::Duration;

use super::fixtures::{
    Stored, at, create_write, new_namespace, ok, refused, refused_any, run_key, started, stored,
    terminated, update_write,
};
use crate::{Announcement, Store};

/// For a store several processes share, given two handles on one database: a commit's
/// announcement reaches the other handle once the commit is done, in commit order, and never
/// when the commit is refused; [`Store::announce`] reaches it too; the sender never hears
/// its own; a message over [`Store::max_announcement_len`] is refused without committing.
pub async fn announcements(sender: &dyn Store, receiver: &dyn Store) {
    let mut heard = receiver
        .announcements()
        .expect("store conformance: a shared store must offer announcements");
    let mut echoed = sender
        .announcements()
        .expect("store conformance: a shared store must offer announcements");
    let ns = new_namespace(sender, "announce").await;
    let (first, first_events) = started(run_key(&ns, "wf", "run-1"), "flow", "q", at(1));
    let mut create = create_write(&first, &first_events, Some(None));
    create.announcement = Some(b"created".to_vec());
    ok(
        sender.commit(vec![create]).await,
        "a create with an announcement",
    );

    let (next, events) = terminated(&first, "done", at(2));
    let mut stale = update_write(&first, &next, &events);
    stale.expected_version = Some(first.version + 7);
    stale.announcement = Some(b"refused".to_vec());
    refused(
        sender.commit(vec![stale]).await,
        &["Conflict"],
        "a stale update with an announcement",
    );
    let mut update = update_write(&first, &next, &events);
    update.announcement = Some(b"updated".to_vec());
    ok(
        sender.commit(vec![update]).await,
        "an update with an announcement",
    );
    ok(sender.announce(b"direct".to_vec()).await, "announce()");
    let longest = vec![0xa5; sender.max_announcement_len()];
    ok(
        sender.announce(longest.clone()).await,
        "announce() of the longest message",
    );

    let (second, second_events) = started(run_key(&ns, "wf-2", "run-1"), "flow", "q", at(3));
    let mut too_long = create_write(&second, &second_events, Some(None));
    too_long.announcement = Some(vec![0; sender.max_announcement_len() + 1]);
    refused_any(
        sender.commit(vec![too_long]).await,
        "a commit whose announcement is over the limit",
    );
    assert_eq!(
        stored(sender, &second.key).await,
        Stored::default(),
        "store conformance: a commit refused for its announcement must write nothing"
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
            Ok(Ok(Announcement::Message(message))) => assert!(
                message == wanted,
                "store conformance: announcements must arrive in commit order: wanted {:?}, got {:?}",
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
        "store conformance: nothing else may be announced (a refused commit announces nothing)"
    );
    assert!(
        echoed.try_recv().is_err(),
        "store conformance: a handle must not hear its own announcements"
    );
}
