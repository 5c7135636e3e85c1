//! The REST API's OpenAPI document as a contract every test holds the server to: each JSON
//! answer to a documented route must match the schema documented for its status (JSON
//! Schema 2020-12, as OpenAPI 3.1 defines it). A field renamed in a handler, a status not
//! documented, a shape the document does not describe: each fails the test that met it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::rest_client::Response;

pub struct Contract {
    document: Value,
    /// Validators by JSON pointer to the schema they check.
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

impl Contract {
    /// The contract of `document`. Every server of this test process serves the same
    /// document, so its contract (and the validators it compiles) is made once and shared.
    pub fn of(document: Value) -> Arc<Contract> {
        static LAST: Mutex<Option<Arc<Contract>>> = Mutex::new(None);
        let mut last = LAST.lock().unwrap();
        match last.as_ref() {
            Some(contract) if contract.document == document => contract.clone(),
            _ => {
                let contract = Arc::new(Contract {
                    document,
                    validators: Mutex::default(),
                });
                *last = Some(contract.clone());
                contract
            }
        }
    }

    /// Fails the test when `method path` with `request` (its body) and the `response` it got
    /// break the document: a body the server took must be one the document describes, and
    /// every JSON answer must match the schema documented for its status.
    pub fn check(&self, method: &str, path: &str, request: Option<&[u8]>, response: &Response) {
        let path = path.split('?').next().unwrap_or(path);
        let Some(template) = self.template_of(path) else {
            // Not a documented route (the UI's pages, or a path a test made up).
            return;
        };
        let operation = format!(
            "/paths/{}/{}",
            escape(&template),
            method.to_ascii_lowercase()
        );
        if self.document.pointer(&operation).is_none() {
            // A method the route does not have: the 405 answer is checked by its own test.
            return;
        }
        if (200..300).contains(&response.status) {
            self.check_request(method, path, &operation, request);
        }
        let is_json = response
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json"));
        if !is_json {
            return;
        }
        let Some(schema) = self.response_schema(&operation, response.status) else {
            panic!(
                "{method} {path} answered {}, a status {template} does not document for {method}: {}",
                response.status,
                response.text()
            );
        };
        let body = response.json();
        let errors = self.refusals(&schema, &body);
        assert!(
            errors.is_empty(),
            "{method} {path} answered {} with a body its documented schema refuses:\n  {}\nbody: {body}",
            response.status,
            errors.join("\n  ")
        );
    }

    /// A JSON body the server accepted must match the documented request schema.
    fn check_request(&self, method: &str, path: &str, operation: &str, request: Option<&[u8]>) {
        let Some(body) = request.filter(|body| !body.is_empty()) else {
            return;
        };
        let Ok(body) = serde_json::from_slice::<Value>(body) else {
            return;
        };
        let schema = format!("{operation}/requestBody/content/application~1json/schema");
        if self.document.pointer(&schema).is_none() {
            assert!(
                body == json!({}),
                "{method} {path} took a body the document does not describe: {body}"
            );
            return;
        }
        let errors = self.refusals(&schema, &body);
        assert!(
            errors.is_empty(),
            "{method} {path} took a body its documented request schema refuses:\n  {}\nbody: {body}",
            errors.join("\n  ")
        );
    }

    /// The documented path template `path` is an instance of.
    fn template_of(&self, path: &str) -> Option<String> {
        let segments: Vec<&str> = path.split('/').collect();
        let paths = self.document["paths"].as_object()?;
        // An exact template first (`/executions/bulk` before `/executions/{workflow_id}`).
        if paths.contains_key(path) {
            return Some(path.to_owned());
        }
        paths
            .keys()
            .find(|template| {
                let parts: Vec<&str> = template.split('/').collect();
                parts.len() == segments.len()
                    && parts
                        .iter()
                        .zip(&segments)
                        .all(|(part, segment)| part.starts_with('{') || part == segment)
            })
            .cloned()
    }

    /// The pointer to the schema documented for `status` under `operation`.
    fn response_schema(&self, operation: &str, status: u16) -> Option<String> {
        let responses = self.document.pointer(&format!("{operation}/responses"))?;
        let range = format!("{}XX", status / 100);
        let key = [status.to_string(), range, "default".to_owned()]
            .into_iter()
            .find(|key| responses.get(key).is_some())?;
        let mut pointer = format!("{operation}/responses/{key}");
        if let Some(reference) = responses[&key]["$ref"].as_str() {
            pointer = reference.trim_start_matches('#').to_owned();
        }
        let schema = format!("{pointer}/content/application~1json/schema");
        self.document.pointer(&schema).map(|_| schema)
    }

    /// Why the schema at `schema` refuses `body` (the first few reasons); empty when it
    /// does not.
    fn refusals(&self, schema: &str, body: &Value) -> Vec<String> {
        self.validator(schema)
            .iter_errors(body)
            .take(5)
            .map(|error| format!("{} at {}", error, error.instance_path()))
            .collect()
    }

    fn validator(&self, schema: &str) -> Arc<jsonschema::Validator> {
        // One test's panic below (an invalid schema) must fail that test only, not poison
        // the lock for every other test of the process.
        let mut validators = self
            .validators
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        validators
            .entry(schema.to_owned())
            .or_insert_with(|| {
                // The whole document as the root, so `#/components/...` references resolve.
                let mut root = self.document.clone();
                let fragment = schema.replace('{', "%7B").replace('}', "%7D");
                root["$ref"] = json!(format!("#{fragment}"));
                let validator = jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft202012)
                    .build(&root)
                    .unwrap_or_else(|e| panic!("the documented schema {schema} is invalid: {e}"));
                Arc::new(validator)
            })
            .clone()
    }
}

/// A path as a JSON pointer token.
fn escape(path: &str) -> String {
    path.replace('~', "~0").replace('/', "~1")
}
