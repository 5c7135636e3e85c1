//! Task tokens: what a worker hands back to name the task it finishes.
//!
//! The encoding is ours and versioned; a token that does not decode is refused as invalid,
//! one that decodes but names a task that no longer exists is refused as not found.

use crate::types::ExecutionKey;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskToken {
    Workflow {
        key: ExecutionKey,
        scheduled_event_id: i64,
        started_event_id: i64,
        attempt: i32,
    },
    Activity {
        key: ExecutionKey,
        scheduled_event_id: i64,
        attempt: i32,
    },
    /// A query handed to a worker outside a workflow task; answered by id.
    Query { key: ExecutionKey, query_id: String },
}

const MAGIC: u8 = 0x4b;
const VERSION: u8 = 1;
const WORKFLOW: u8 = 1;
const ACTIVITY: u8 = 2;
const QUERY: u8 = 3;

impl TaskToken {
    pub fn key(&self) -> &ExecutionKey {
        match self {
            TaskToken::Workflow { key, .. }
            | TaskToken::Activity { key, .. }
            | TaskToken::Query { key, .. } => key,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![MAGIC, VERSION];
        let put_str = |out: &mut Vec<u8>, s: &str| {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        };
        let put_key = |out: &mut Vec<u8>, key: &ExecutionKey| {
            put_str(out, &key.namespace);
            put_str(out, &key.workflow_id);
            put_str(out, &key.run_id);
        };
        match self {
            TaskToken::Workflow {
                key,
                scheduled_event_id,
                started_event_id,
                attempt,
            } => {
                out.push(WORKFLOW);
                put_key(&mut out, key);
                out.extend_from_slice(&scheduled_event_id.to_le_bytes());
                out.extend_from_slice(&started_event_id.to_le_bytes());
                out.extend_from_slice(&attempt.to_le_bytes());
            }
            TaskToken::Activity {
                key,
                scheduled_event_id,
                attempt,
            } => {
                out.push(ACTIVITY);
                put_key(&mut out, key);
                out.extend_from_slice(&scheduled_event_id.to_le_bytes());
                out.extend_from_slice(&attempt.to_le_bytes());
            }
            TaskToken::Query { key, query_id } => {
                out.push(QUERY);
                put_key(&mut out, key);
                put_str(&mut out, query_id);
            }
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<TaskToken, String> {
        let mut reader = Reader { bytes, pos: 0 };
        if reader.take(1)? != [MAGIC] || reader.take(1)? != [VERSION] {
            return Err("task token is not one this server issued".into());
        }
        let kind = reader.take(1)?[0];
        let key = ExecutionKey {
            namespace: reader.string()?,
            workflow_id: reader.string()?,
            run_id: reader.string()?,
        };
        let token = match kind {
            WORKFLOW => TaskToken::Workflow {
                key,
                scheduled_event_id: reader.i64()?,
                started_event_id: reader.i64()?,
                attempt: reader.i32()?,
            },
            ACTIVITY => TaskToken::Activity {
                key,
                scheduled_event_id: reader.i64()?,
                attempt: reader.i32()?,
            },
            QUERY => TaskToken::Query {
                key,
                query_id: reader.string()?,
            },
            _ => return Err("task token is of an unknown kind".into()),
        };
        if reader.pos != bytes.len() {
            return Err("task token has trailing bytes".into());
        }
        Ok(token)
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len());
        let end = end.ok_or_else(|| "task token is truncated".to_string())?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn string(&mut self) -> Result<String, String> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")) as usize;
        String::from_utf8(self.take(len)?.to_vec())
            .map_err(|_| "task token is not valid UTF-8".to_string())
    }

    fn i64(&mut self) -> Result<i64, String> {
        Ok(i64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn i32(&mut self) -> Result<i32, String> {
        Ok(i32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_garbage_is_refused() {
        let key = ExecutionKey {
            namespace: "default".into(),
            workflow_id: "wf".into(),
            run_id: "run".into(),
        };
        for token in [
            TaskToken::Workflow {
                key: key.clone(),
                scheduled_event_id: 2,
                started_event_id: 3,
                attempt: 1,
            },
            TaskToken::Activity {
                key: key.clone(),
                scheduled_event_id: 5,
                attempt: 7,
            },
            TaskToken::Query {
                key,
                query_id: "q-1".into(),
            },
        ] {
            let bytes = token.encode();
            assert_eq!(TaskToken::decode(&bytes), Ok(token));
            assert!(TaskToken::decode(&bytes[..bytes.len() - 1]).is_err());
        }
        assert!(TaskToken::decode(b"").is_err());
        assert!(TaskToken::decode(b"not a token at all").is_err());
    }
}
