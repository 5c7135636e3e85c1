//! Search attributes: the typed, indexed values an execution carries for list filters.
//!
//! A namespace registers custom attributes by name and [`SearchAttributeType`]; Temporal's
//! system attributes that workers and schedules set themselves are always known
//! ([`system_attribute`]). Each value an execution carries keeps the client's encoded payload
//! (returned byte for byte) next to its decoded [`SearchValue`], which the store indexes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::types::Blob;

/// The value types Temporal's search attributes have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SearchAttributeType {
    Text,
    Keyword,
    Int,
    Double,
    Bool,
    Datetime,
    KeywordList,
}

impl SearchAttributeType {
    pub const ALL: [SearchAttributeType; 7] = [
        SearchAttributeType::Text,
        SearchAttributeType::Keyword,
        SearchAttributeType::Int,
        SearchAttributeType::Double,
        SearchAttributeType::Bool,
        SearchAttributeType::Datetime,
        SearchAttributeType::KeywordList,
    ];

    /// The name Temporal uses, also written into each payload's `type` metadata.
    pub fn name(self) -> &'static str {
        match self {
            SearchAttributeType::Text => "Text",
            SearchAttributeType::Keyword => "Keyword",
            SearchAttributeType::Int => "Int",
            SearchAttributeType::Double => "Double",
            SearchAttributeType::Bool => "Bool",
            SearchAttributeType::Datetime => "Datetime",
            SearchAttributeType::KeywordList => "KeywordList",
        }
    }

    pub fn from_name(name: &str) -> Option<SearchAttributeType> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// A decoded value, of its attribute's type. Datetimes are unix nanoseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SearchValue {
    Text(String),
    Keyword(String),
    Int(i64),
    Double(f64),
    Bool(bool),
    Datetime(i64),
    KeywordList(Vec<String>),
}

/// One attribute as a client set it: the payload it sent (with its type recorded) and the
/// decoded value; `None` unsets the attribute (an upsert of null or of an empty list).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchAttribute {
    pub payload: Blob,
    pub value: Option<SearchValue>,
}

/// An execution's search attributes, or the ones a start or an upsert sets.
pub type SearchAttributes = BTreeMap<String, SearchAttribute>;

/// Applies an upsert: set values replace, unset ones remove.
pub fn merge(into: &mut SearchAttributes, upsert: &SearchAttributes) {
    for (name, attribute) in upsert {
        if attribute.value.is_some() {
            into.insert(name.clone(), attribute.clone());
        } else {
            into.remove(name);
        }
    }
}

/// The attributes a start sets: unset ones are dropped.
pub fn only_set(attributes: SearchAttributes) -> SearchAttributes {
    attributes
        .into_iter()
        .filter(|(_, attribute)| attribute.value.is_some())
        .collect()
}

/// Attributes every namespace has that list filters read from columns of their own.
pub const BUILT_IN: [(&str, SearchAttributeType); 10] = [
    ("WorkflowId", SearchAttributeType::Keyword),
    ("WorkflowType", SearchAttributeType::Keyword),
    ("RunId", SearchAttributeType::Keyword),
    ("ExecutionStatus", SearchAttributeType::Keyword),
    ("TaskQueue", SearchAttributeType::Keyword),
    ("StartTime", SearchAttributeType::Datetime),
    ("CloseTime", SearchAttributeType::Datetime),
    ("ExecutionTime", SearchAttributeType::Datetime),
    ("HistoryLength", SearchAttributeType::Int),
    ("ExecutionDuration", SearchAttributeType::Int),
];

/// System attributes that workers, SDKs and schedules set on executions themselves; they
/// are indexed like custom ones but need no registration.
pub const SETTABLE_SYSTEM: [(&str, SearchAttributeType); 7] = [
    ("TemporalChangeVersion", SearchAttributeType::KeywordList),
    ("BinaryChecksums", SearchAttributeType::KeywordList),
    ("BuildIds", SearchAttributeType::KeywordList),
    ("BatcherUser", SearchAttributeType::Keyword),
    ("TemporalScheduledStartTime", SearchAttributeType::Datetime),
    ("TemporalScheduledById", SearchAttributeType::Keyword),
    ("TemporalSchedulePaused", SearchAttributeType::Bool),
];

/// The type of a system attribute an execution may carry, if `name` is one.
pub fn system_attribute(name: &str) -> Option<SearchAttributeType> {
    SETTABLE_SYSTEM
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, kind)| *kind)
}

/// Whether `name` is reserved by the system (built in or settable system attribute), so a
/// namespace may not register it.
pub fn is_reserved(name: &str) -> bool {
    BUILT_IN.iter().any(|(known, _)| *known == name)
        || system_attribute(name).is_some()
        || name.starts_with("Temporal")
}

/// The words of a Text value as the index keeps them: lowercase runs of letters and digits.
/// A Text filter `Notes = 'quick fox'` matches a value holding any of its words.
pub fn text_words(text: &str) -> Vec<String> {
    let mut words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect();
    words.sort();
    words.dedup();
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attribute(value: Option<SearchValue>) -> SearchAttribute {
        SearchAttribute {
            payload: Blob(vec![1]),
            value,
        }
    }

    #[test]
    fn an_upsert_sets_replaces_and_unsets() {
        let mut attributes = SearchAttributes::from([
            (
                "Color".into(),
                attribute(Some(SearchValue::Keyword("red".into()))),
            ),
            ("Size".into(), attribute(Some(SearchValue::Int(3)))),
        ]);
        merge(
            &mut attributes,
            &SearchAttributes::from([
                (
                    "Color".into(),
                    attribute(Some(SearchValue::Keyword("blue".into()))),
                ),
                ("Size".into(), attribute(None)),
                ("Done".into(), attribute(Some(SearchValue::Bool(true)))),
            ]),
        );
        assert_eq!(
            attributes.keys().collect::<Vec<_>>(),
            ["Color", "Done"],
            "Size was unset"
        );
        assert_eq!(
            attributes["Color"].value,
            Some(SearchValue::Keyword("blue".into()))
        );
    }

    #[test]
    fn text_is_indexed_by_lowercase_words() {
        assert_eq!(
            text_words("The quick, QUICK brown-fox 42"),
            ["42", "brown", "fox", "quick", "the"]
        );
        assert!(text_words(" ,. ").is_empty());
    }

    #[test]
    fn system_names_are_reserved() {
        assert!(is_reserved("WorkflowId"));
        assert!(is_reserved("TemporalChangeVersion"));
        assert!(is_reserved("TemporalAnythingNew"));
        assert!(!is_reserved("Color"));
        assert_eq!(
            system_attribute("TemporalScheduledById"),
            Some(SearchAttributeType::Keyword)
        );
    }
}
