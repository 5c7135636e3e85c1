//! Search attributes on the wire: payloads checked against the types a namespace knows and
//! decoded for the index, then stored with their type in the payload's `type` metadata (as
//! Temporal returns them, so the SDKs' typed search attributes decode them).

use crate::Invalid;
use keel_core::Namespace;
use keel_core::search::{SearchAttribute, SearchAttributeType, SearchAttributes, SearchValue};
use keel_core::visibility::parse_rfc3339_nanos;
use temporalio_protos::temporal::api::common::v1 as common;

use crate::convert::{encode, to_payload_map};

/// The search attributes of a request. Each must be one the namespace knows, with a value
/// of its type; otherwise InvalidArgument names the attribute and nothing is stored.
pub fn search_attributes(
    value: Option<&common::SearchAttributes>,
    namespace: &Namespace,
) -> Result<SearchAttributes, Invalid> {
    let Some(value) = value else {
        return Ok(SearchAttributes::new());
    };
    let mut attributes = SearchAttributes::new();
    for (name, payload) in &value.indexed_fields {
        let kind = namespace.search_attribute_type(name).ok_or_else(|| {
            Invalid(format!(
                "Namespace {} has no mapping defined for search attribute {name}",
                namespace.name
            ))
        })?;
        let value = decode(payload, kind).map_err(|why| {
            Invalid(format!(
                "invalid value for search attribute {name} of type {}: {why}",
                kind.name()
            ))
        })?;
        let mut payload = payload.clone();
        payload
            .metadata
            .insert("type".into(), kind.name().as_bytes().to_vec());
        attributes.insert(
            name.clone(),
            SearchAttribute {
                payload: encode(&payload),
                value,
            },
        );
    }
    Ok(attributes)
}

/// A value as the payload Keel stores for it (JSON, with its type), for search attributes
/// the server sets itself.
pub fn encode_search_value(value: &SearchValue, kind: SearchAttributeType) -> keel_core::Blob {
    let json = match value {
        SearchValue::Text(s) | SearchValue::Keyword(s) => serde_json::json!(s),
        SearchValue::Int(n) => serde_json::json!(n),
        SearchValue::Double(x) => serde_json::json!(x),
        SearchValue::Bool(b) => serde_json::json!(b),
        SearchValue::Datetime(ns) => serde_json::json!(
            chrono::DateTime::<chrono::Utc>::from_timestamp(
                ns.div_euclid(1_000_000_000),
                ns.rem_euclid(1_000_000_000) as u32
            )
            .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
            .unwrap_or_default()
        ),
        SearchValue::KeywordList(list) => serde_json::json!(list),
    };
    encode(&common::Payload {
        metadata: [
            ("encoding".to_owned(), b"json/plain".to_vec()),
            ("type".to_owned(), kind.name().as_bytes().to_vec()),
        ]
        .into(),
        data: json.to_string().into_bytes(),
        ..Default::default()
    })
}

pub fn to_search_attributes(attributes: &SearchAttributes) -> common::SearchAttributes {
    let payloads = attributes
        .iter()
        .map(|(name, attribute)| (name.clone(), attribute.payload.clone()))
        .collect();
    common::SearchAttributes {
        indexed_fields: to_payload_map(&payloads),
    }
}

/// A payload's value as `kind`; `None` for null, empty or an empty list (which unset the
/// attribute).
fn decode(
    payload: &common::Payload,
    kind: SearchAttributeType,
) -> Result<Option<SearchValue>, String> {
    let metadata = |key: &str| {
        payload
            .metadata
            .get(key)
            .map(|v| String::from_utf8_lossy(v))
    };
    if let Some(sent) = metadata("type")
        && !sent.is_empty()
        && sent != kind.name()
    {
        return Err(format!("the payload says it is a {sent}"));
    }
    match metadata("encoding").as_deref() {
        // An upsert unsets an attribute with a null or an empty payload.
        Some("binary/null") => return Ok(None),
        None if payload.data.is_empty() => return Ok(None),
        Some("json/plain") => {}
        other => {
            return Err(format!(
                "expected a json/plain payload, got encoding {}",
                other.unwrap_or("(none)")
            ));
        }
    }
    let json: serde_json::Value =
        serde_json::from_slice(&payload.data).map_err(|e| format!("not JSON: {e}"))?;
    let shown = || String::from_utf8_lossy(&payload.data).into_owned();
    use SearchAttributeType as T;
    use serde_json::Value as J;
    // SDKs of the untyped era send every value as a list; as Temporal does, a list of one
    // is that value and an empty list unsets the attribute. A KeywordList is a list only.
    let json = match (kind, json) {
        (T::KeywordList, json) => json,
        (_, J::Array(mut items)) => match items.len() {
            0 => return Ok(None),
            1 => items.remove(0),
            _ => return Err(shown()),
        },
        (_, json) => json,
    };
    Ok(Some(match (kind, json) {
        (_, J::Null) => return Ok(None),
        (T::Keyword, J::String(s)) => SearchValue::Keyword(s),
        (T::Text, J::String(s)) => SearchValue::Text(s),
        (T::KeywordList, J::Array(items)) => {
            let keywords = items
                .into_iter()
                .map(|item| match item {
                    J::String(s) => Ok(s),
                    _ => Err(shown()),
                })
                .collect::<Result<Vec<_>, _>>()?;
            if keywords.is_empty() {
                return Ok(None);
            }
            SearchValue::KeywordList(keywords)
        }
        (T::Int, J::Number(n)) if n.is_i64() => SearchValue::Int(n.as_i64().unwrap_or_default()),
        (T::Double, J::Number(n)) => SearchValue::Double(n.as_f64().unwrap_or_default()),
        (T::Bool, J::Bool(b)) => SearchValue::Bool(b),
        (T::Datetime, J::String(s)) => SearchValue::Datetime(parse_rfc3339_nanos(&s)?),
        _ => return Err(shown()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_payload(json: &str) -> common::Payload {
        common::Payload {
            metadata: [("encoding".to_owned(), b"json/plain".to_vec())].into(),
            data: json.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    /// What Temporal's dev server accepts and refuses, value by value (the same payloads
    /// sent to both, untyped and typed alike).
    #[test]
    fn legacy_lists_of_one_read_as_temporal_reads_them() {
        use SearchAttributeType as T;
        let read = |json: &str, kind| decode(&json_payload(json), kind);
        assert_eq!(
            read(r#"["x"]"#, T::Keyword),
            Ok(Some(SearchValue::Keyword("x".into())))
        );
        assert_eq!(
            read(r#"["x"]"#, T::Text),
            Ok(Some(SearchValue::Text("x".into())))
        );
        assert_eq!(read("[5]", T::Int), Ok(Some(SearchValue::Int(5))));
        assert_eq!(read("[1.5]", T::Double), Ok(Some(SearchValue::Double(1.5))));
        assert_eq!(read("[true]", T::Bool), Ok(Some(SearchValue::Bool(true))));
        assert!(matches!(
            read(r#"["2026-01-01T00:00:00Z"]"#, T::Datetime),
            Ok(Some(SearchValue::Datetime(_)))
        ));
        assert_eq!(read("[]", T::Keyword), Ok(None), "an empty list unsets");
        assert!(read(r#"["x", "y"]"#, T::Keyword).is_err());
        assert!(read("[5, 6]", T::Int).is_err());
        assert!(read(r#""5""#, T::Int).is_err());
        assert!(read("5", T::Keyword).is_err());
        assert_eq!(read("2", T::Double), Ok(Some(SearchValue::Double(2.0))));
        assert!(
            read(r#""solo""#, T::KeywordList).is_err(),
            "a KeywordList is a list"
        );
        assert_eq!(
            read(r#"["a", "b"]"#, T::KeywordList),
            Ok(Some(SearchValue::KeywordList(vec!["a".into(), "b".into()])))
        );
    }
}
