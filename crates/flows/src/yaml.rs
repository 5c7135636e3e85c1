//! Reading a YAML document with the place of every node, so each problem names its line
//! and column. A mapping is read through [`Fields`], which refuses the keys nobody asked
//! for: a misspelt property is an error, not a silently ignored line.

use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode};
use marked_yaml::{LoadError, Node, Span};
use serde_json::Value;

use crate::error::{Location, Problem};

/// The document's top node, or the syntax problem that stops it being read.
pub fn load(text: &str) -> Result<Node, Problem> {
    let options = marked_yaml::LoaderOptions::default().error_on_duplicate_keys(true);
    marked_yaml::parse_yaml_with_options(0, text, options).map_err(|error| {
        let (marker, message) = match &error {
            LoadError::TopLevelMustBeMapping(marker) => (
                Some(*marker),
                "a flow document is a mapping (id:, namespace:, tasks:, ...)".to_owned(),
            ),
            LoadError::TopLevelMustBeSequence(marker) => {
                (Some(*marker), "expected a list".to_owned())
            }
            LoadError::UnexpectedAnchor(marker) => (
                Some(*marker),
                "YAML anchors and aliases are not supported in flows".to_owned(),
            ),
            LoadError::MappingKeyMustBeScalar(marker) => {
                (Some(*marker), "a key must be a plain value".to_owned())
            }
            LoadError::UnexpectedTag(marker) => (
                Some(*marker),
                "YAML tags are not supported in flows".to_owned(),
            ),
            LoadError::ScanError(marker, scan) => {
                (Some(*marker), format!("invalid YAML: {}", scan.info()))
            }
            LoadError::DuplicateKey(inner) => (
                inner.key.span().start().copied(),
                format!("'{}' is given twice", inner.key.as_str()),
            ),
        };
        Problem {
            at: marker.map(|marker| Location {
                line: marker.line(),
                column: marker.column(),
            }),
            message,
        }
    })
}

/// Where a node starts.
pub fn location(span: &Span) -> Option<Location> {
    span.start().map(|marker| Location {
        line: marker.line(),
        column: marker.column(),
    })
}

/// Where a node starts; for a mapping, where its first key is (a mapping's own span
/// starts after its first key).
pub fn at(node: &Node) -> Option<Location> {
    match node {
        Node::Mapping(mapping) => mapping
            .keys()
            .next()
            .and_then(|key| location(key.span()))
            .or_else(|| location(node.span())),
        other => location(other.span()),
    }
}

/// A problem at `node`.
pub fn problem(node: &Node, message: impl Into<String>) -> Problem {
    Problem {
        at: at(node),
        message: message.into(),
    }
}

/// What kind of node it is, for messages.
pub fn kind(node: &Node) -> &'static str {
    match node {
        Node::Scalar(_) => "a value",
        Node::Mapping(_) => "a mapping",
        Node::Sequence(_) => "a list",
    }
}

/// A scalar as the JSON value YAML's core schema makes of it; quoted scalars stay text.
pub fn scalar_value(scalar: &MarkedScalarNode) -> Value {
    let text = scalar.as_str();
    if !scalar.may_coerce() {
        return Value::String(text.to_owned());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(integer) = text.parse::<i64>() {
        return Value::from(integer);
    }
    if text.contains(['.', 'e', 'E'])
        && let Ok(float) = text.parse::<f64>()
        && float.is_finite()
    {
        return Value::from(float);
    }
    Value::String(text.to_owned())
}

/// Any node as a JSON value (free-form parts: variables, inputs to pass, bodies).
pub fn value(node: &Node) -> Value {
    match node {
        Node::Scalar(scalar) => scalar_value(scalar),
        Node::Sequence(items) => Value::Array(items.iter().map(value).collect()),
        Node::Mapping(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, node)| (key.as_str().to_owned(), value(node)))
                .collect(),
        ),
    }
}

/// The fields of a mapping, read one by one; the ones never read are reported unknown.
pub struct Fields<'n> {
    node: &'n Node,
    mapping: &'n MarkedMappingNode,
    read: Vec<&'static str>,
}

impl<'n> Fields<'n> {
    /// `node` as a mapping; `what` names it in the problem when it is not one.
    pub fn of(node: &'n Node, what: &str) -> Result<Fields<'n>, Problem> {
        match node {
            Node::Mapping(mapping) => Ok(Fields {
                node,
                mapping,
                read: Vec::new(),
            }),
            other => Err(problem(
                other,
                format!("{what} must be a mapping, not {}", kind(other)),
            )),
        }
    }

    pub fn node(&self) -> &'n Node {
        self.node
    }

    /// A field's node, if given (an empty value counts as given: `key:` is null).
    pub fn get(&mut self, key: &'static str) -> Option<&'n Node> {
        self.read.push(key);
        self.mapping.get_node(key)
    }

    /// A field that must be given.
    pub fn required(&mut self, key: &'static str, what: &str) -> Result<&'n Node, Problem> {
        self.get(key).ok_or_else(|| self.missing(key, what))
    }

    /// The problem of a missing field, pointing at a key that looks like a misspelling
    /// of it if there is one.
    pub fn missing(&self, key: &str, what: &str) -> Problem {
        let near = self
            .mapping
            .keys()
            .find(|given| given.as_str() != key && edit_distance(given.as_str(), key) <= 2);
        match near {
            Some(given) => Problem {
                at: location(given.span()),
                message: format!(
                    "{what} needs '{key}'; did you mean it instead of '{}'?",
                    given.as_str()
                ),
            },
            None => problem(self.node, format!("{what} needs '{key}'")),
        }
    }

    /// A text field: a scalar, taken as written.
    pub fn text(&mut self, key: &'static str) -> Result<Option<String>, Problem> {
        match self.get(key) {
            None => Ok(None),
            Some(Node::Scalar(scalar)) => Ok(Some(scalar.as_str().to_owned())),
            Some(other) => Err(problem(
                other,
                format!("'{key}' must be text, not {}", kind(other)),
            )),
        }
    }

    pub fn required_text(&mut self, key: &'static str, what: &str) -> Result<String, Problem> {
        let node = self.required(key, what)?;
        match node {
            Node::Scalar(scalar) if !scalar.as_str().is_empty() => Ok(scalar.as_str().to_owned()),
            Node::Scalar(_) => Err(problem(node, format!("'{key}' may not be empty"))),
            other => Err(problem(
                other,
                format!("'{key}' must be text, not {}", kind(other)),
            )),
        }
    }

    pub fn bool(&mut self, key: &'static str) -> Result<Option<bool>, Problem> {
        match self.get(key) {
            None => Ok(None),
            Some(node) => match value(node) {
                Value::Bool(flag) => Ok(Some(flag)),
                _ => Err(problem(node, format!("'{key}' must be true or false"))),
            },
        }
    }

    pub fn unsigned(&mut self, key: &'static str) -> Result<Option<u64>, Problem> {
        match self.get(key) {
            None => Ok(None),
            Some(node) => match value(node) {
                Value::Number(number) if number.as_u64().is_some() => Ok(number.as_u64()),
                _ => Err(problem(
                    node,
                    format!("'{key}' must be a whole number, 0 or more"),
                )),
            },
        }
    }

    pub fn number(&mut self, key: &'static str) -> Result<Option<f64>, Problem> {
        match self.get(key) {
            None => Ok(None),
            Some(node) => match value(node) {
                Value::Number(number) => Ok(number.as_f64()),
                _ => Err(problem(node, format!("'{key}' must be a number"))),
            },
        }
    }

    pub fn duration(&mut self, key: &'static str) -> Result<Option<std::time::Duration>, Problem> {
        match self.get(key) {
            None => Ok(None),
            Some(node @ Node::Scalar(scalar)) => crate::duration::parse(scalar.as_str())
                .map(Some)
                .map_err(|message| problem(node, format!("'{key}': {message}"))),
            Some(other) => Err(problem(
                other,
                format!("'{key}' must be a duration, not {}", kind(other)),
            )),
        }
    }

    /// A mapping of text to text (labels, headers, env).
    pub fn text_map(
        &mut self,
        key: &'static str,
    ) -> Result<std::collections::BTreeMap<String, String>, Problem> {
        let Some(node) = self.get(key) else {
            return Ok(Default::default());
        };
        let Node::Mapping(mapping) = node else {
            return Err(problem(
                node,
                format!("'{key}' must be a mapping of names to text"),
            ));
        };
        mapping
            .iter()
            .map(|(name, value)| match value {
                Node::Scalar(scalar) => Ok((name.as_str().to_owned(), scalar.as_str().to_owned())),
                other => Err(problem(
                    other,
                    format!("'{key}.{}' must be text", name.as_str()),
                )),
            })
            .collect()
    }

    /// A list field's items; a missing field is an empty list.
    pub fn list(&mut self, key: &'static str) -> Result<&'n [Node], Problem> {
        match self.get(key) {
            None => Ok(&[]),
            Some(Node::Sequence(items)) => Ok(items.as_slice()),
            Some(Node::Scalar(scalar)) if scalar.may_coerce() && scalar.as_str().is_empty() => {
                Ok(&[])
            }
            Some(other) => Err(problem(
                other,
                format!("'{key}' must be a list, not {}", kind(other)),
            )),
        }
    }

    /// The keys given that were never read, as problems naming what is known.
    pub fn unknown(&self, what: &str) -> Vec<Problem> {
        let mut known: Vec<&str> = self.read.clone();
        known.sort_unstable();
        known.dedup();
        self.mapping
            .keys()
            .filter(|key| !self.read.contains(&key.as_str()))
            .map(|key| Problem {
                at: location(key.span()),
                message: format!(
                    "unknown property '{}' of {what}; it takes: {}",
                    key.as_str(),
                    known.join(", ")
                ),
            })
            .collect()
    }
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}
