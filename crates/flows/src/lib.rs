//! Declarative YAML flows: the document, its checks and typed inputs, expressions, and the
//! interpreter that runs a flow as an ordinary execution.
//!
//! Everything here is pure: a flow revision and an execution's history go in, the next
//! commands come out. The server runs the interpreter as a built-in workflow worker, and
//! the flow's task runs are activities (built-in ones run by the server's own task
//! runner), so retries, timeouts, crash safety and the API come from the engine.

pub mod document;
pub mod duration;
pub mod error;
pub mod expr;
pub mod inputs;
pub mod interpret;
pub mod runtime;
pub mod schema;
pub mod validate;
mod yaml;

pub use document::{Flow, Task, TaskKind, parse};
pub use error::{Location, Problem, Problems};
