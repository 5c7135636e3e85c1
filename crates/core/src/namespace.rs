//! Namespaces: the unit of isolation. `default` exists from the first start.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::search::{SearchAttributeType, system_attribute};
use crate::types::Time;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Namespace {
    pub name: String,
    pub id: String,
    pub description: String,
    pub owner_email: String,
    /// How long closed executions are kept.
    pub retention: Duration,
    pub data: BTreeMap<String, String>,
    pub created: Time,
    /// Custom search attributes registered for the namespace's executions.
    #[serde(default)]
    pub search_attributes: BTreeMap<String, SearchAttributeType>,
}

pub const DEFAULT_NAMESPACE: &str = "default";
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(72 * 3600);

impl Namespace {
    /// The type of an attribute executions of this namespace may carry: a registered custom
    /// one or a system one that workers and schedules set.
    pub fn search_attribute_type(&self, name: &str) -> Option<SearchAttributeType> {
        self.search_attributes
            .get(name)
            .copied()
            .or_else(|| system_attribute(name))
    }

    pub fn validate_name(name: &str) -> Result<(), String> {
        if name.is_empty() {
            return Err("Namespace is not set on request.".into());
        }
        if name.len() > 255 {
            return Err("Namespace name exceeds length limit.".into());
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(format!(
                "namespace name '{name}' may contain only letters, digits, '-', '_' and '.'"
            ));
        }
        Ok(())
    }
}
