//! The notice feed: one connection LISTENing, reconnecting when lost.

use std::time::Duration;

use base64::Engine as _;
use futures::StreamExt;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_postgres::{AsyncMessage, NoTls, Notification};

use super::{CHANNEL, error_text, pg_error};
use crate::{Received, Result};

/// A connection that LISTENs, with its notifications forwarded to a channel; the channel
/// closes when the connection is lost.
pub(super) struct Listener {
    /// Kept: dropping the client would close the connection.
    _client: tokio_postgres::Client,
    notifications: mpsc::UnboundedReceiver<Notification>,
}

impl Listener {
    pub(super) async fn open(config: &tokio_postgres::Config) -> Result<Listener> {
        let (client, mut connection) = config.connect(NoTls).await.map_err(pg_error)?;
        let (forward, notifications) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(notification)) => {
                        if forward.send(notification).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(error = %error_text(&error), "lost the PostgreSQL listener connection");
                        return;
                    }
                }
            }
        });
        client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .await
            .map_err(pg_error)?;
        Ok(Listener {
            _client: client,
            notifications,
        })
    }
}

/// Forwards other processes' notices to the feed until the store is dropped,
/// reconnecting whenever the connection is lost.
pub(super) async fn listen(
    config: tokio_postgres::Config,
    mut listener: Listener,
    origin: String,
    feed: broadcast::Sender<Received>,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        loop {
            let notification = tokio::select! {
                _ = &mut stop => return,
                notification = listener.notifications.recv() => notification,
            };
            let Some(notification) = notification else {
                break;
            };
            let Some((from, payload)) = notification.payload().split_once(':') else {
                // Not a notice this store sends: what it said is lost, so readers must
                // read afresh rather than trust what they derived.
                tracing::warn!("an unreadable notice on the channel; readers resynchronise");
                let _ = feed.send(Received::Missed);
                continue;
            };
            if from == origin {
                continue;
            }
            match base64::engine::general_purpose::STANDARD_NO_PAD.decode(payload) {
                Ok(message) => {
                    let _ = feed.send(Received::Notice(message));
                }
                Err(error) => {
                    tracing::warn!(%error, "an undecodable notice; readers resynchronise");
                    let _ = feed.send(Received::Missed);
                }
            }
        }
        let mut backoff = Duration::from_millis(50);
        listener = loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            match Listener::open(&config).await {
                Ok(listener) => break listener,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for notices yet; retrying");
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        };
        // Listening again: whatever was committed meanwhile is in the database, and
        // every notice from now on will arrive.
        let _ = feed.send(Received::Missed);
    }
}
