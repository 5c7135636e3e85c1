//! How both backends encode what they store: states and events as MessagePack maps, list
//! page tokens as the offset of the next page.
//!
//! States and events are written with field and variant names (MessagePack's struct-map
//! form), so what an older Keel stored still reads after types grow: a new field carries
//! `#[serde(default)]`, a new variant is simply added. Positional formats would misread every
//! stored row after the first added field.

use crate::{Error, ExecutionSummary, Page, Result};

pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    rmp_serde::to_vec_named(value).map_err(|e| Error::Unavailable(format!("encoding failed: {e}")))
}

pub(crate) fn decode<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> Result<T> {
    rmp_serde::from_slice(bytes)
        .map_err(|e| Error::Unavailable(format!("stored data does not decode: {e}")))
}

/// The page of a listing at `offset`, from up to `page_size + 1` rows read there: the extra
/// row only says that another page follows.
pub(crate) fn page(mut executions: Vec<ExecutionSummary>, offset: i64, page_size: usize) -> Page {
    let mut next_page_token = Vec::new();
    if executions.len() > page_size {
        executions.truncate(page_size);
        next_page_token = (offset + page_size as i64).to_le_bytes().to_vec();
    }
    Page {
        executions,
        next_page_token,
    }
}

pub(crate) fn decode_offset(token: &[u8]) -> Result<i64> {
    if token.is_empty() {
        return Ok(0);
    }
    let bytes: [u8; 8] = token
        .try_into()
        .map_err(|_| Error::InvalidArgument("invalid next page token".into()))?;
    let offset = i64::from_le_bytes(bytes);
    if offset < 0 {
        return Err(Error::InvalidArgument("invalid next page token".into()));
    }
    Ok(offset)
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Before {
        id: i64,
        kind: KindBefore,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    enum KindBefore {
        Started,
        Closed { reason: String },
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct After {
        id: i64,
        #[serde(default)]
        signals: Vec<String>,
        kind: KindAfter,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    enum KindAfter {
        Signaled,
        Started,
        Closed { reason: String },
    }

    #[test]
    fn what_an_older_keel_stored_reads_after_fields_and_variants_are_added() {
        let stored = encode(&Before {
            id: 7,
            kind: KindBefore::Closed {
                reason: "done".into(),
            },
        })
        .unwrap();
        let read: After = decode(&stored).unwrap();
        assert_eq!(
            read,
            After {
                id: 7,
                signals: Vec::new(),
                kind: KindAfter::Closed {
                    reason: "done".into()
                },
            }
        );
    }

    #[test]
    fn opaque_client_bytes_are_stored_as_bytes_not_as_a_list_of_numbers() {
        let payload = keel_core::Blob(vec![0xff; 1000]);
        let stored = encode(&payload).unwrap();
        assert!(stored.len() < 1010, "{} bytes", stored.len());
        assert_eq!(decode::<keel_core::Blob>(&stored).unwrap(), payload);
    }
}
