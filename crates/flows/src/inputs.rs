//! Typed inputs: what a flow (or a pause's resume) takes, checked before anything starts.
//! Values come as JSON (REST) or as text (`--input k=v` on the CLI); both are read into
//! the input's type, and a bad one is refused naming the input.

use serde_json::{Map, Value};

use crate::error::Location;

#[derive(Clone, Debug, PartialEq)]
pub struct Input {
    pub id: String,
    pub input_type: InputType,
    pub description: String,
    /// Must be given, unless it has a default.
    pub required: bool,
    pub default: Option<Value>,
    /// STRING: a regular expression the whole value must match.
    pub pattern: Option<String>,
    /// INT and FLOAT: bounds, inclusive.
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// SELECT: the values to choose from.
    pub values: Vec<String>,
    pub at: Option<Location>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputType {
    String,
    Int,
    Float,
    Boolean,
    Select,
    Datetime,
    Duration,
    Json,
    Array,
}

impl InputType {
    pub const NAMES: [&str; 9] = [
        "STRING", "INT", "FLOAT", "BOOLEAN", "SELECT", "DATETIME", "DURATION", "JSON", "ARRAY",
    ];

    pub fn named(name: &str) -> Option<InputType> {
        Some(match name.to_ascii_uppercase().as_str() {
            "STRING" => InputType::String,
            "INT" => InputType::Int,
            "FLOAT" => InputType::Float,
            "BOOLEAN" => InputType::Boolean,
            "SELECT" => InputType::Select,
            "DATETIME" => InputType::Datetime,
            "DURATION" => InputType::Duration,
            "JSON" => InputType::Json,
            "ARRAY" => InputType::Array,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// An input that was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    pub input: String,
    pub message: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "input '{}': {}", self.input, self.message)
    }
}

impl std::error::Error for InputError {}

impl Input {
    /// Problems of the definition itself (a pattern that does not compile, a default that
    /// is not of the type, bounds out of order).
    pub fn check_definition(&self) -> Result<(), String> {
        if let Some(pattern) = &self.pattern {
            if self.input_type != InputType::String {
                return Err(format!(
                    "input '{}': 'pattern' applies to STRING inputs only",
                    self.id
                ));
            }
            regex::Regex::new(pattern).map_err(|error| {
                format!("input '{}': pattern does not compile: {error}", self.id)
            })?;
        }
        if (self.min.is_some() || self.max.is_some())
            && !matches!(self.input_type, InputType::Int | InputType::Float)
        {
            return Err(format!(
                "input '{}': 'min' and 'max' apply to INT and FLOAT inputs only",
                self.id
            ));
        }
        if let (Some(min), Some(max)) = (self.min, self.max)
            && min > max
        {
            return Err(format!("input '{}': 'min' is above 'max'", self.id));
        }
        if self.input_type == InputType::Select && self.values.is_empty() {
            return Err(format!(
                "input '{}': a SELECT input needs 'values'",
                self.id
            ));
        }
        if let Some(default) = &self.default {
            self.read(default).map_err(|message| {
                format!("input '{}': the default is refused: {message}", self.id)
            })?;
        }
        Ok(())
    }

    /// `given` read as this input's type, or why it cannot be.
    pub fn read(&self, given: &Value) -> Result<Value, String> {
        let text = given.as_str();
        let value = match self.input_type {
            InputType::String => match given {
                Value::String(text) => Value::String(text.clone()),
                Value::Number(_) | Value::Bool(_) => Value::String(given.to_string()),
                other => return Err(format!("expected text, not {other}")),
            },
            InputType::Int => {
                let number = match given {
                    Value::Number(number) => number.as_i64(),
                    Value::String(text) => text.trim().parse::<i64>().ok(),
                    _ => None,
                }
                .ok_or_else(|| format!("expected a whole number, not {given}"))?;
                self.bounded(number as f64)?;
                Value::from(number)
            }
            InputType::Float => {
                let number = match given {
                    Value::Number(number) => number.as_f64(),
                    Value::String(text) => {
                        text.trim().parse::<f64>().ok().filter(|n| n.is_finite())
                    }
                    _ => None,
                }
                .ok_or_else(|| format!("expected a number, not {given}"))?;
                self.bounded(number)?;
                Value::from(number)
            }
            InputType::Boolean => match (given, text.map(str::to_ascii_lowercase).as_deref()) {
                (Value::Bool(flag), _) => Value::Bool(*flag),
                (_, Some("true")) => Value::Bool(true),
                (_, Some("false")) => Value::Bool(false),
                _ => return Err(format!("expected true or false, not {given}")),
            },
            InputType::Select => {
                let choice = match given {
                    Value::String(text) => text.clone(),
                    Value::Number(_) | Value::Bool(_) => given.to_string(),
                    _ => String::new(),
                };
                if !self.values.contains(&choice) {
                    return Err(format!(
                        "'{choice}' is not one of {}",
                        self.values.join(", ")
                    ));
                }
                Value::String(choice)
            }
            InputType::Datetime => {
                let text = text.ok_or_else(|| format!("expected an RFC 3339 time, not {given}"))?;
                let time = chrono::DateTime::parse_from_rfc3339(text.trim()).map_err(|_| {
                    format!("'{text}' is not an RFC 3339 time such as 2026-01-02T03:04:05Z")
                })?;
                Value::String(
                    time.with_timezone(&chrono::Utc)
                        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                )
            }
            InputType::Duration => {
                let text = text.ok_or_else(|| format!("expected a duration, not {given}"))?;
                let duration = crate::duration::parse(text)?;
                Value::String(crate::duration::display(duration))
            }
            InputType::Json => match given {
                Value::String(text) => {
                    serde_json::from_str(text).map_err(|error| format!("not JSON: {error}"))?
                }
                other => other.clone(),
            },
            InputType::Array => match given {
                Value::Array(items) => Value::Array(items.clone()),
                Value::String(text) => match serde_json::from_str::<Value>(text) {
                    Ok(Value::Array(items)) => Value::Array(items),
                    _ => return Err(format!("expected a list (a JSON array), not '{text}'")),
                },
                other => return Err(format!("expected a list, not {other}")),
            },
        };
        if let (Some(pattern), Value::String(text)) = (&self.pattern, &value) {
            let whole = format!("^(?:{pattern})$");
            let matches = regex::Regex::new(&whole).is_ok_and(|regex| regex.is_match(text));
            if !matches {
                return Err(format!("'{text}' does not match the pattern {pattern}"));
            }
        }
        Ok(value)
    }

    fn bounded(&self, number: f64) -> Result<(), String> {
        if let Some(min) = self.min
            && number < min
        {
            return Err(format!("{number} is below the minimum {min}"));
        }
        if let Some(max) = self.max
            && number > max
        {
            return Err(format!("{number} is above the maximum {max}"));
        }
        Ok(())
    }
}

/// The inputs an execution gets: each given value read into its input's type, defaults for
/// the rest. Unknown names and missing required inputs are refused; the first problem is
/// the answer.
pub fn resolve(
    inputs: &[Input],
    given: &Map<String, Value>,
) -> Result<Map<String, Value>, InputError> {
    if let Some(unknown) = given
        .keys()
        .find(|name| !inputs.iter().any(|input| &input.id == *name))
    {
        let known: Vec<&str> = inputs.iter().map(|input| input.id.as_str()).collect();
        return Err(InputError {
            input: unknown.clone(),
            message: if known.is_empty() {
                "this flow takes no inputs".into()
            } else {
                format!("not an input of this flow; it takes: {}", known.join(", "))
            },
        });
    }
    let mut resolved = Map::new();
    for input in inputs {
        let error = |message: String| InputError {
            input: input.id.clone(),
            message,
        };
        match given.get(&input.id).filter(|value| !value.is_null()) {
            Some(value) => {
                resolved.insert(input.id.clone(), input.read(value).map_err(error)?);
            }
            None => match &input.default {
                Some(default) => {
                    resolved.insert(input.id.clone(), input.read(default).map_err(error)?);
                }
                None if input.required => {
                    return Err(error(format!("required ({})", input.input_type.name())));
                }
                None => {
                    resolved.insert(input.id.clone(), Value::Null);
                }
            },
        }
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn input(id: &str, input_type: InputType) -> Input {
        Input {
            id: id.into(),
            input_type,
            description: String::new(),
            required: true,
            default: None,
            pattern: None,
            min: None,
            max: None,
            values: Vec::new(),
            at: None,
        }
    }

    fn given(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn values_are_read_into_their_types_from_json_or_text() {
        let mut count = input("count", InputType::Int);
        count.min = Some(1.0);
        count.max = Some(10.0);
        let mut env = input("env", InputType::Select);
        env.values = vec!["dev".into(), "prod".into()];
        let mut name = input("name", InputType::String);
        name.pattern = Some("[a-z]+".into());
        let mut wait = input("wait", InputType::Duration);
        wait.default = Some(json!("PT90S"));
        let inputs = vec![
            count,
            env,
            name,
            wait,
            input("items", InputType::Array),
            input("on", InputType::Boolean),
            input("at", InputType::Datetime),
        ];
        let resolved = resolve(
            &inputs,
            &given(
                json!({"count": "3", "env": "prod", "name": "ada", "items": "[1, 2]", "on": "TRUE",
                          "at": "2026-01-02T04:04:05+01:00"}),
            ),
        )
        .unwrap();
        assert_eq!(
            Value::Object(resolved),
            json!({"count": 3, "env": "prod", "name": "ada", "wait": "1m30s", "items": [1, 2], "on": true,
                   "at": "2026-01-02T03:04:05Z"})
        );
    }

    #[test]
    fn a_bad_value_is_refused_naming_the_input() {
        let mut count = input("count", InputType::Int);
        count.max = Some(10.0);
        let mut name = input("name", InputType::String);
        name.pattern = Some("[a-z]+".into());
        let inputs = vec![count, name];
        for (given_value, input_name, says) in [
            (
                json!({"count": 11, "name": "a"}),
                "count",
                "above the maximum",
            ),
            (json!({"count": "x", "name": "a"}), "count", "whole number"),
            (json!({"count": 1, "name": "Ada"}), "name", "does not match"),
            (json!({"count": 1}), "name", "required"),
            (
                json!({"count": 1, "name": "a", "nmae": "b"}),
                "nmae",
                "not an input",
            ),
        ] {
            let error = resolve(&inputs, &given(given_value.clone())).unwrap_err();
            assert_eq!(error.input, input_name, "{given_value}");
            assert!(error.message.contains(says), "{given_value}: {error}");
        }
    }
}
