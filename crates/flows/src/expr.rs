//! `{{ expressions }}` in flow documents, evaluated with MiniJinja in a sandbox: no I/O, no
//! clock, bounded work, and a name that is not defined is an error rather than an empty
//! string (`{{ x | default('y') }}` is the fallback, for null too).
//!
//! A text that is one expression and nothing else (`"{{ inputs.items }}"`) evaluates to
//! the expression's value, with its type (a list, a number); any other text renders to
//! text. Values are only ever computed from what the history holds (inputs, outputs of
//! finished task runs, variables, the execution's ids), so evaluating again gives the same.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use minijinja::value::ValueKind;
use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Map, Value};

/// Work one evaluation may do, in MiniJinja's fuel (about one instruction each).
const FUEL: u64 = 100_000;

fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: LazyLock<Environment<'static>> = LazyLock::new(|| {
        let mut environment = Environment::new();
        environment.set_undefined_behavior(UndefinedBehavior::Strict);
        environment.set_fuel(Some(FUEL));
        environment.set_recursion_limit(64);
        // The fallback stands in for a missing value and for null, as Kestra's `??` does:
        // an optional input that was not given is null.
        environment.add_filter(
            "default",
            |value: minijinja::Value,
             fallback: Option<minijinja::Value>,
             falsy_too: Option<bool>| {
                let missing = value.is_undefined()
                    || value.is_none()
                    || (falsy_too.unwrap_or(false) && !value.is_true());
                if missing {
                    fallback.unwrap_or_else(|| minijinja::Value::from(""))
                } else {
                    value
                }
            },
        );
        // Texts render values as JSON does (`true`, `[1, 2]`), not as Python would.
        environment.set_formatter(|out, state, value| match value.kind() {
            ValueKind::Bool | ValueKind::Seq | ValueKind::Map | ValueKind::None => {
                let json = serde_json::to_string(value).map_err(|error| {
                    minijinja::Error::new(minijinja::ErrorKind::BadSerialization, error.to_string())
                })?;
                out.write_str(&json).map_err(minijinja::Error::from)
            }
            _ => minijinja::escape_formatter(out, state, value),
        });
        environment
    });
    &ENVIRONMENT
}

/// The names an expression may read.
pub const ROOTS: &[&str] = &[
    "inputs",
    "outputs",
    "vars",
    "execution",
    "taskrun",
    "flow",
    "trigger",
];

/// What expressions see.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scope {
    pub inputs: Map<String, Value>,
    /// Outputs of finished task runs by task id (by loop value, within a ForEach).
    pub outputs: Map<String, Value>,
    pub vars: Map<String, Value>,
    /// `id`, `run_id`, `namespace`.
    pub execution: Map<String, Value>,
    /// `id`, `namespace`, `revision`.
    pub flow: Map<String, Value>,
    /// Inside a ForEach: the item (`value`) and its position (`index`), and the outer
    /// loop's as `parent`.
    pub taskrun: Option<Value>,
    /// In a Flow trigger's inputs: the execution that set it off.
    pub trigger: Option<Value>,
}

impl Scope {
    fn context(&self) -> minijinja::Value {
        let mut context = Map::new();
        context.insert("inputs".into(), Value::Object(self.inputs.clone()));
        context.insert("outputs".into(), Value::Object(self.outputs.clone()));
        context.insert("vars".into(), Value::Object(self.vars.clone()));
        context.insert("execution".into(), Value::Object(self.execution.clone()));
        context.insert("flow".into(), Value::Object(self.flow.clone()));
        if let Some(taskrun) = &self.taskrun {
            context.insert("taskrun".into(), taskrun.clone());
        }
        if let Some(trigger) = &self.trigger {
            context.insert("trigger".into(), trigger.clone());
        }
        minijinja::Value::from(minijinja::value::Serde(Value::Object(context)))
    }
}

/// The expression of a text that is exactly one `{{ ... }}`.
fn sole_expression(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}")).then(|| inner.trim())
}

/// Whether a text has expressions at all.
pub fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

fn message(error: &minijinja::Error) -> String {
    let mut text = error.to_string();
    // MiniJinja appends the template's name and line ("(in <string>:1)"): the place is the
    // task's, which the caller names.
    if let Some(cut) = text.find(" (in <") {
        text.truncate(cut);
    }
    text
}

/// Evaluates `text`: one expression gives its value, other text renders to text, text
/// without expressions is itself.
pub fn render(text: &str, scope: &Scope) -> Result<Value, String> {
    if !is_template(text) {
        return Ok(Value::String(text.to_owned()));
    }
    let environment = environment();
    if let Some(expression) = sole_expression(text) {
        let compiled = environment
            .compile_expression(expression)
            .map_err(|error| format!("{{{{ {expression} }}}}: {}", message(&error)))?;
        let value = compiled
            .eval(scope.context())
            .map_err(|error| format!("{{{{ {expression} }}}}: {}", message(&error)))?;
        if value.is_undefined() {
            return Err(format!("{{{{ {expression} }}}}: undefined value"));
        }
        return serde_json::to_value(&value)
            .map_err(|error| format!("{{{{ {expression} }}}} gives no JSON value: {error}"));
    }
    environment
        .render_str(text, scope.context())
        .map(Value::String)
        .map_err(|error| format!("'{text}': {}", message(&error)))
}

/// [`render`], always giving text (a value that is not text as JSON).
pub fn render_text(text: &str, scope: &Scope) -> Result<String, String> {
    Ok(match render(text, scope)? {
        Value::String(text) => text,
        Value::Null => String::new(),
        other => other.to_string(),
    })
}

/// Every text inside `value` rendered (keys stay as written).
pub fn render_value(value: &Value, scope: &Scope) -> Result<Value, String> {
    Ok(match value {
        Value::String(text) => render(text, scope)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| render_value(item, scope))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, value)| Ok((key.clone(), render_value(value, scope)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// Whether a value counts as true for `If`: JSON truthiness, and the texts `false`, `0`,
/// `no` and the empty text count as false (a rendered template is text).
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_f64().is_some_and(|n| n != 0.0),
        Value::String(text) => !matches!(
            text.trim().to_ascii_lowercase().as_str(),
            "" | "false" | "0" | "no"
        ),
        Value::Array(items) => !items.is_empty(),
        Value::Object(fields) => !fields.is_empty(),
    }
}

/// The problems of a text's expressions that can be seen before running: syntax, and
/// names outside [`ROOTS`]. Answers the dotted names it reads (`outputs.fetch.body`).
pub fn check(text: &str) -> Result<BTreeSet<String>, String> {
    if !is_template(text) {
        return Ok(BTreeSet::new());
    }
    let environment = environment();
    let names = match sole_expression(text) {
        Some(expression) => environment
            .compile_expression(expression)
            .map_err(|error| format!("{{{{ {expression} }}}}: {}", message(&error)))?
            .undeclared_variables(true),
        None => environment
            .template_from_str(text)
            .map_err(|error| message(&error))?
            .undeclared_variables(true),
    };
    if let Some(unknown) = names
        .iter()
        .map(|name| name.split('.').next().unwrap_or(name))
        .find(|root| !ROOTS.contains(root))
    {
        return Err(format!(
            "'{unknown}' is not defined; expressions read {}",
            ROOTS.join(", ")
        ));
    }
    // MiniJinja looks filters up only when it applies them; a misspelt one would fail the
    // task run, so name it when the document is checked.
    if let Some(unknown) = filter_names(text).into_iter().find(|name| !is_filter(name)) {
        return Err(format!("there is no filter '{unknown}'"));
    }
    Ok(names.into_iter().collect())
}

/// The names after each `|` inside `{{ }}` and `{% %}` blocks, outside string literals.
fn filter_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find(['{']) {
        let block = &rest[open..];
        let close = if block.starts_with("{{") {
            "}}"
        } else if block.starts_with("{%") {
            "%}"
        } else {
            rest = &block[1..];
            continue;
        };
        let inner = &block[2..];
        let mut quote = None;
        let mut end = inner.len();
        let mut chars = inner.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match (quote, c) {
                (Some(_), '\\') => {
                    chars.next();
                }
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '|') => {
                    let name: String = inner[at + 1..]
                        .trim_start()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        names.push(name);
                    }
                }
                (None, _) if inner[at..].starts_with(close) => {
                    end = at;
                    break;
                }
                (None, _) => {}
            }
        }
        rest = &inner[(end + close.len()).min(inner.len())..];
    }
    names
}

/// Whether the sandbox has a filter of this name: applying an unknown one is the only
/// way MiniJinja tells.
fn is_filter(name: &str) -> bool {
    let source = format!("none | {name}");
    let Ok(probe) = environment().compile_expression(&source) else {
        return false;
    };
    !matches!(
        probe.eval(()),
        Err(error) if error.kind() == minijinja::ErrorKind::UnknownFilter
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn scope() -> Scope {
        Scope {
            inputs: json!({"name": "ada", "items": [1, 2, 3]})
                .as_object()
                .unwrap()
                .clone(),
            outputs: json!({"fetch": {"status": 200}})
                .as_object()
                .unwrap()
                .clone(),
            vars: json!({"greeting": "hello"}).as_object().unwrap().clone(),
            execution: json!({"id": "run-1"}).as_object().unwrap().clone(),
            ..Scope::default()
        }
    }

    #[test]
    fn one_expression_keeps_its_type_and_other_text_renders() {
        let scope = scope();
        assert_eq!(render("{{ inputs.items }}", &scope), Ok(json!([1, 2, 3])));
        assert_eq!(
            render("{{ outputs.fetch.status == 200 }}", &scope),
            Ok(json!(true))
        );
        assert_eq!(
            render(
                "{{ vars.greeting }}, {{ inputs.name }} ({{ execution.id }})",
                &scope
            ),
            Ok(json!("hello, ada (run-1)"))
        );
        assert_eq!(render("plain", &scope), Ok(json!("plain")));
        assert_eq!(
            render_value(
                &json!({"n": "{{ inputs.items | length }}", "k": ["{{ inputs.name }}"]}),
                &scope
            ),
            Ok(json!({"n": 3, "k": ["ada"]}))
        );
    }

    #[test]
    fn undefined_names_are_errors_and_default_is_the_fallback() {
        let scope = scope();
        let error = render("{{ inputs.nmae }}", &scope).unwrap_err();
        assert!(error.contains("undefined"), "{error}");
        assert!(render("x {{ outputs.nothing.field }}", &scope).is_err());
        assert_eq!(
            render("{{ inputs.nmae | default('anon') }}", &scope),
            Ok(json!("anon"))
        );
        assert_eq!(
            render("{{ none | default('anon') }}", &scope),
            Ok(json!("anon")),
            "null falls back too"
        );
        assert_eq!(render("{{ '' | default('anon') }}", &scope), Ok(json!("")));
        assert_eq!(
            render("{{ '' | default('anon', true) }}", &scope),
            Ok(json!("anon"))
        );
        assert_eq!(render("{{ 0 | default(5) }}", &scope), Ok(json!(0)));
    }

    #[test]
    fn the_sandbox_bounds_work() {
        let error = render(
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
            &scope(),
        )
        .unwrap_err();
        assert!(error.contains("fuel"), "{error}");
    }

    #[test]
    fn checks_name_unknown_filters() {
        let error = check("{{ inputs.x | truncate(3) }}").unwrap_err();
        assert_eq!(error, "there is no filter 'truncate'");
        let error = check("a {{ inputs.x | upper | revrese }} b").unwrap_err();
        assert_eq!(error, "there is no filter 'revrese'");
        assert!(
            check("{% for x in inputs.items | reverse %}{{ x | default(1) }}{% endfor %}").is_ok()
        );
        assert!(
            check("{{ 'a | nonsense' ~ inputs.x | lower }}").is_ok(),
            "a bar inside a string is text"
        );
        assert!(check("{{ inputs.x | tojson }} | not in a block").is_ok());
    }

    #[test]
    fn checks_find_syntax_errors_and_unknown_roots() {
        assert!(check("{{ inputs.x + }}").is_err());
        assert!(check("{% if %}").is_err());
        let error = check("{{ input.x }}").unwrap_err();
        assert!(error.contains("'input' is not defined"), "{error}");
        assert_eq!(
            check("{{ outputs.fetch.body }} {{ inputs.x }}").unwrap(),
            BTreeSet::from(["outputs.fetch.body".to_owned(), "inputs.x".to_owned()])
        );
    }
}
