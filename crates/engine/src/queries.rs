//! Reads: describe, history pages (with long-poll waiting), lists and counts, task queues.

use std::time::Instant;

use keel_core::visibility::{
    CompareOp, Condition, EXECUTION_STATUSES, Field, Filter, Value, parse_count_filter,
    parse_filter,
};
use keel_core::{Event, Execution, ExecutionKey};
use keel_store::Page;

use crate::matching::{PollerInfo, QueueId, TaskKind};
use crate::{Engine, Error, Result};

#[derive(Clone, Debug)]
pub struct HistoryRequest {
    pub key: ExecutionKey,
    pub page_token: Vec<u8>,
    pub page_size: usize,
    /// Wait (until `deadline`) for events beyond what the token already covers.
    pub wait_new_event: bool,
    /// Only the close event; with `wait_new_event`, wait for the run to close.
    pub close_event_only: bool,
    pub deadline: Instant,
}

#[derive(Clone, Debug, Default)]
pub struct HistoryPage {
    pub events: Vec<Event>,
    /// Empty when there is nothing more to read (or wait for).
    pub next_page_token: Vec<u8>,
}

const DEFAULT_PAGE_SIZE: usize = 1000;

impl Engine {
    pub async fn describe(&self, key: &ExecutionKey) -> Result<Execution> {
        self.namespace(&key.namespace)?;
        self.snapshot(key).await
    }

    pub async fn history(&self, request: HistoryRequest) -> Result<HistoryPage> {
        self.namespace(&request.key.namespace)?;
        let key = &request.key;
        let first_event_id = decode_token(&request.page_token)?;
        let page_size = if request.page_size == 0 {
            DEFAULT_PAGE_SIZE
        } else {
            request.page_size
        };
        // Subscribe before reading, so a change between the read and the wait is not missed.
        let mut progress = self.inner.executions.subscribe(key, (0, false));
        let mut execution = self.snapshot(key).await?;
        let waiting_for = |execution: &Execution| {
            if request.close_event_only {
                execution.is_running()
            } else {
                execution.next_event_id <= first_event_id && execution.is_running()
            }
        };
        if request.wait_new_event {
            while waiting_for(&execution) {
                match tokio::time::timeout_at(request.deadline.into(), progress.changed()).await {
                    Ok(Ok(())) => execution = self.snapshot(key).await?,
                    // Timed out (or the watch went away): answer empty and let the client ask again.
                    _ => {
                        let token = if request.close_event_only {
                            1
                        } else {
                            first_event_id
                        };
                        return Ok(HistoryPage {
                            events: Vec::new(),
                            next_page_token: encode_token(token),
                        });
                    }
                }
            }
        }
        if request.close_event_only {
            if execution.is_running() {
                return Ok(HistoryPage::default());
            }
            let events = self
                .inner
                .store
                .history(key, execution.next_event_id - 1, 1)
                .await?;
            return Ok(HistoryPage {
                events,
                next_page_token: Vec::new(),
            });
        }
        let events = self
            .inner
            .store
            .history(key, first_event_id, page_size)
            .await?;
        let next_event_id = events.last().map_or(first_event_id, |event| event.id + 1);
        let more_stored = next_event_id < execution.next_event_id && events.len() == page_size;
        let more_to_wait_for = request.wait_new_event && execution.is_running();
        let next_page_token = if more_stored || more_to_wait_for {
            encode_token(next_event_id)
        } else {
            Vec::new()
        };
        Ok(HistoryPage {
            events,
            next_page_token,
        })
    }

    /// Up to `max_events` of a run's events, from `first_event_id` on.
    pub async fn events(
        &self,
        key: &ExecutionKey,
        first_event_id: i64,
        max_events: usize,
    ) -> Result<Vec<Event>> {
        self.namespace(&key.namespace)?;
        Ok(self
            .inner
            .store
            .history(key, first_event_id.max(1), max_events)
            .await?)
    }

    /// History newest first, a page at a time (GetWorkflowExecutionHistoryReverse). The
    /// token is the id of the newest event of the next page.
    pub async fn history_reverse(
        &self,
        key: &ExecutionKey,
        page_token: &[u8],
        page_size: usize,
    ) -> Result<HistoryPage> {
        self.namespace(&key.namespace)?;
        let execution = self.snapshot(key).await?;
        let last = if page_token.is_empty() {
            execution.next_event_id - 1
        } else {
            decode_token(page_token)?.min(execution.next_event_id - 1)
        };
        let page_size = if page_size == 0 {
            DEFAULT_PAGE_SIZE
        } else {
            page_size
        };
        let first = (last - page_size as i64 + 1).max(1);
        let count = usize::try_from(last - first + 1).unwrap_or(0);
        let mut events = self.inner.store.history(key, first, count).await?;
        events.reverse();
        Ok(HistoryPage {
            events,
            next_page_token: if first > 1 {
                encode_token(first - 1)
            } else {
                Vec::new()
            },
        })
    }

    /// Removes a run and its history for good; a running run is terminated first.
    pub async fn delete_execution(&self, key: &ExecutionKey, identity: &str) -> Result<()> {
        self.namespace(&key.namespace)?;
        match self
            .terminate(key, "Delete workflow execution", None, identity)
            .await
        {
            Ok(()) | Err(Error::NotFound(_)) => {}
            Err(error) => return Err(error),
        }
        // Closed now, so no transition of it can commit any more.
        self.inner.store.delete_execution(key).await?;
        self.inner.executions.forget_older(key, i64::MAX);
        Ok(())
    }

    /// A page of the namespace's executions that `filter` matches (see
    /// [`Engine::parse_query`] for a filter written in Temporal's list-filter language).
    pub async fn list_executions(
        &self,
        namespace: &str,
        filter: &Filter,
        page_size: usize,
        page_token: &[u8],
    ) -> Result<Page> {
        self.namespace(namespace)?;
        let page_size = if page_size == 0 {
            DEFAULT_PAGE_SIZE
        } else {
            page_size
        };
        Ok(self
            .inner
            .store
            .list_executions(namespace, filter, page_size, page_token)
            .await?)
    }

    pub async fn count_executions(&self, namespace: &str, filter: &Filter) -> Result<i64> {
        self.namespace(namespace)?;
        Ok(self.inner.store.count_executions(namespace, filter).await?)
    }

    /// How many executions match `filter` in each status, the statuses with none left out
    /// (a count's `GROUP BY ExecutionStatus`).
    pub async fn count_executions_by_status(
        &self,
        namespace: &str,
        filter: &Filter,
    ) -> Result<Vec<(&'static str, i64)>> {
        self.namespace(namespace)?;
        let mut groups = Vec::new();
        for (code, status) in (1..).zip(EXECUTION_STATUSES) {
            let in_status = filter.clone().and(Condition::compare(
                Field::ExecutionStatus,
                CompareOp::Eq,
                Value::Int(code),
            ));
            let count = self
                .inner
                .store
                .count_executions(namespace, &in_status)
                .await?;
            if count > 0 {
                groups.push((status, count));
            }
        }
        Ok(groups)
    }

    /// A count's query: a list filter that may end in `GROUP BY ExecutionStatus`.
    pub fn parse_count_query(&self, namespace: &str, query: &str) -> Result<(Filter, bool)> {
        let namespace = self.namespace(namespace)?;
        let (filter, group_by) =
            parse_count_filter(query, &|name| namespace.search_attribute_type(name))
                .map_err(|e| Error::InvalidArgument(format!("invalid query: {e}")))?;
        Ok((filter, group_by.is_some()))
    }

    /// A list filter written in Temporal's language, parsed with the search attributes the
    /// namespace knows.
    pub fn parse_query(&self, namespace: &str, query: &str) -> Result<Filter> {
        let namespace = self.namespace(namespace)?;
        parse_filter(query, &|name| namespace.search_attribute_type(name))
            .map_err(|e| Error::InvalidArgument(format!("invalid query: {e}")))
    }

    /// Workers seen polling a queue (on any node, within five minutes), most recent first,
    /// and how many tasks wait there on this node.
    pub fn describe_task_queue(
        &self,
        namespace: &str,
        name: &str,
        kind: TaskKind,
    ) -> Result<(Vec<PollerInfo>, usize)> {
        self.namespace(namespace)?;
        let queue = QueueId {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            kind,
        };
        let pollers = self.all_pollers(&queue);
        Ok((pollers, self.inner.matching.backlog(&queue)))
    }
}

fn encode_token(next_event_id: i64) -> Vec<u8> {
    next_event_id.to_le_bytes().to_vec()
}

fn decode_token(token: &[u8]) -> Result<i64> {
    if token.is_empty() {
        return Ok(1);
    }
    let bytes: [u8; 8] = token
        .try_into()
        .map_err(|_| Error::InvalidArgument("invalid next page token".into()))?;
    let next_event_id = i64::from_le_bytes(bytes);
    if next_event_id < 1 {
        return Err(Error::InvalidArgument("invalid next page token".into()));
    }
    Ok(next_event_id)
}
