//! How both backends encode what they store: states and events as postcard bytes, list
//! page tokens as the offset of the next page.

use crate::{Error, ExecutionSummary, Page, Result};

pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    postcard::to_stdvec(value).map_err(|e| Error::Unavailable(format!("encoding failed: {e}")))
}

pub(crate) fn decode<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> Result<T> {
    postcard::from_bytes(bytes)
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
