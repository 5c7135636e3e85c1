//! Log lines workers and operators append to a run, and their live followers.

use keel_core::ExecutionKey;
use keel_store::LogLine;

use crate::{Engine, Error, Result};

/// The levels a line may have, least severe first.
pub const LEVELS: [&str; 5] = ["trace", "debug", "info", "warn", "error"];
/// At most this many lines per append, and this many bytes per message.
pub const MAX_LINES_PER_APPEND: usize = 1000;
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// A line to append; the store numbers it and the engine stamps its time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewLogLine {
    pub level: String,
    pub message: String,
    pub task_run: String,
    pub worker: String,
}

impl Engine {
    /// Appends lines to a run (running or closed) and wakes its followers. Refuses the
    /// whole batch if one line is invalid.
    pub async fn append_logs(&self, key: &ExecutionKey, lines: Vec<NewLogLine>) -> Result<usize> {
        self.namespace(&key.namespace)?;
        if lines.is_empty() {
            return Err(Error::InvalidArgument("no log lines given".into()));
        }
        if lines.len() > MAX_LINES_PER_APPEND {
            return Err(Error::InvalidArgument(format!(
                "{} log lines in one request; at most {MAX_LINES_PER_APPEND} are accepted",
                lines.len()
            )));
        }
        for (index, line) in lines.iter().enumerate() {
            if !LEVELS.contains(&line.level.as_str()) {
                return Err(Error::InvalidArgument(format!(
                    "line {index}: level '{}' is not one of {}",
                    line.level,
                    LEVELS.join(", ")
                )));
            }
            if line.message.len() > MAX_MESSAGE_BYTES {
                return Err(Error::InvalidArgument(format!(
                    "line {index}: message of {} bytes is longer than {MAX_MESSAGE_BYTES}",
                    line.message.len()
                )));
            }
        }
        let now = self.now();
        let count = lines.len();
        let lines = lines
            .into_iter()
            .map(|line| LogLine {
                seq: 0,
                time: now,
                level: line.level,
                message: line.message,
                task_run: line.task_run,
                worker: line.worker,
            })
            .collect();
        self.inner.store.append_logs(key, lines).await?;
        let _ = self.inner.logs_appended.send(key.clone());
        self.notify_logs(key).await;
        Ok(count)
    }

    /// A run's lines numbered above `after`, oldest first.
    pub async fn logs(
        &self,
        key: &ExecutionKey,
        after: i64,
        max_lines: usize,
    ) -> Result<Vec<LogLine>> {
        self.namespace(&key.namespace)?;
        // A run that does not exist is NotFound, not an empty log.
        self.snapshot(key).await?;
        Ok(self.inner.store.logs(key, after, max_lines).await?)
    }
}
