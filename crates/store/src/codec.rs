//! How both backends encode what they store: states and events as postcard bytes, list
//! page tokens as the offset of the next page.

use crate::{Error, Result};

pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    postcard::to_stdvec(value).map_err(|e| Error::Unavailable(format!("encoding failed: {e}")))
}

pub(crate) fn decode<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> Result<T> {
    postcard::from_bytes(bytes)
        .map_err(|e| Error::Unavailable(format!("stored data does not decode: {e}")))
}

pub(crate) fn next_page_token(offset: i64) -> Vec<u8> {
    offset.to_le_bytes().to_vec()
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
