//! Temporal's visibility "List Filter" query language, as accepted by
//! `ListWorkflowExecutions` / `CountWorkflowExecutions`.
//!
//! [`parse_filter`] turns a query such as
//! `WorkflowType = 'order' AND (ExecutionStatus = 'Running' OR StartTime > '2024-01-02T03:04:05Z') ORDER BY StartTime DESC`
//! into a typed [`Filter`]. Values are checked against the field they are
//! compared with and normalised: `ExecutionStatus` becomes its integer code
//! (1..=7), time fields become unix nanoseconds, `ExecutionDuration` becomes
//! nanoseconds. Storage backends translate the result (e.g. to SQL).
//!
//! Positions in error messages are 1-based character columns.
//!
//! A query is read in three steps: `lexer` splits it into tokens, `parser` builds the
//! conditions and the ordering, and `values` checks each literal against its field and
//! normalises it.

mod lexer;
mod parser;
mod values;

use std::fmt;

use thiserror::Error;

use crate::overview::Phase;
use crate::search::SearchAttributeType;

pub use values::parse_rfc3339_nanos;

/// Error produced while parsing or translating a filter. Every variant carries
/// a complete, human-readable message naming the offending part of the query.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FilterError {
    /// The query is not well-formed (bad token, missing parenthesis, ...).
    #[error("{0}")]
    Syntax(String),
    /// A value does not fit the field it is compared with.
    #[error("{0}")]
    InvalidValue(String),
    /// Well-formed, but not supported (e.g. by a particular backend).
    #[error("{0}")]
    Unsupported(String),
}

/// A parsed query: an optional condition plus the requested ordering.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filter {
    pub condition: Option<Condition>,
    pub order_by: Vec<SortKey>,
}

/// One key of an ORDER BY: a field and which way it sorts.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub field: Field,
    pub direction: Direction,
}

impl SortKey {
    pub fn new(field: Field, direction: Direction) -> SortKey {
        SortKey { field, direction }
    }
}

/// A search attribute. Built-in names are case-sensitive, as in Temporal; any other
/// name must be one the namespace knows ([`Field::Custom`], with its type).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    WorkflowId,
    WorkflowType,
    RunId,
    ExecutionStatus,
    TaskQueue,
    StartTime,
    CloseTime,
    ExecutionTime,
    HistoryLength,
    /// `CloseTime - StartTime` in nanoseconds; null while running.
    ExecutionDuration,
    /// Keel's board column (`Pending`, `Running`, `Completed`, `Failed`, `Cancelled`).
    ExecutionPhase,
    ParentWorkflowId,
    /// The worker that handles, or last handled, the run's tasks.
    WorkerIdentity,
    Custom(String, SearchAttributeType),
}

/// The value type a field expects; drives validation and normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Keyword,
    Status,
    Phase,
    Datetime,
    Int,
    Duration,
    Custom(SearchAttributeType),
}

impl Field {
    /// The built-in field of that name, if it is one.
    pub fn built_in(name: &str) -> Option<Field> {
        Some(match name {
            "WorkflowId" => Field::WorkflowId,
            "WorkflowType" => Field::WorkflowType,
            "RunId" => Field::RunId,
            "ExecutionStatus" => Field::ExecutionStatus,
            "TaskQueue" => Field::TaskQueue,
            "StartTime" => Field::StartTime,
            "CloseTime" => Field::CloseTime,
            "ExecutionTime" => Field::ExecutionTime,
            "HistoryLength" => Field::HistoryLength,
            "ExecutionDuration" => Field::ExecutionDuration,
            "ExecutionPhase" => Field::ExecutionPhase,
            "ParentWorkflowId" => Field::ParentWorkflowId,
            "WorkerIdentity" => Field::WorkerIdentity,
            _ => return None,
        })
    }

    pub fn name(&self) -> &str {
        match self {
            Field::WorkflowId => "WorkflowId",
            Field::WorkflowType => "WorkflowType",
            Field::RunId => "RunId",
            Field::ExecutionStatus => "ExecutionStatus",
            Field::TaskQueue => "TaskQueue",
            Field::StartTime => "StartTime",
            Field::CloseTime => "CloseTime",
            Field::ExecutionTime => "ExecutionTime",
            Field::HistoryLength => "HistoryLength",
            Field::ExecutionDuration => "ExecutionDuration",
            Field::ExecutionPhase => "ExecutionPhase",
            Field::ParentWorkflowId => "ParentWorkflowId",
            Field::WorkerIdentity => "WorkerIdentity",
            Field::Custom(name, _) => name,
        }
    }

    fn kind(&self) -> Kind {
        match self {
            Field::WorkflowId
            | Field::WorkflowType
            | Field::RunId
            | Field::TaskQueue
            | Field::ParentWorkflowId
            | Field::WorkerIdentity => Kind::Keyword,
            Field::ExecutionStatus => Kind::Status,
            Field::ExecutionPhase => Kind::Phase,
            Field::StartTime | Field::CloseTime | Field::ExecutionTime => Kind::Datetime,
            Field::HistoryLength => Kind::Int,
            Field::ExecutionDuration => Kind::Duration,
            Field::Custom(_, kind) => Kind::Custom(*kind),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A literal. After parsing, predefined fields only ever carry `Str`
/// (keyword fields) or `Int` (status code, unix ns, ns, counts).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    Compare {
        field: Field,
        op: CompareOp,
        value: Value,
    },
    In {
        field: Field,
        values: Vec<Value>,
        negated: bool,
    },
    Between {
        field: Field,
        low: Value,
        high: Value,
        negated: bool,
    },
    StartsWith {
        field: Field,
        prefix: String,
        negated: bool,
    },
    IsNull {
        field: Field,
        negated: bool,
    },
}

/// Building filters as values: what the frontends' own filters (REST parameters, the older
/// listing calls, analytics) are made of, so that no value is ever quoted into query text.
/// Values are in the parsed form: keyword fields take strings, `ExecutionStatus` and
/// `ExecutionPhase` their codes, time fields unix nanoseconds.
impl Condition {
    /// `field = 'value'` on a keyword field.
    pub fn equals(field: Field, value: impl Into<String>) -> Condition {
        Condition::Compare {
            field,
            op: CompareOp::Eq,
            value: Value::Str(value.into()),
        }
    }

    pub fn compare(field: Field, op: CompareOp, value: Value) -> Condition {
        Condition::Compare { field, op, value }
    }

    /// `field IN (values)`.
    pub fn one_of(field: Field, values: Vec<Value>) -> Condition {
        Condition::In {
            field,
            values,
            negated: false,
        }
    }

    /// `ExecutionStatus IN (statuses)`.
    pub fn status_in(statuses: &[crate::Status]) -> Condition {
        let codes = statuses
            .iter()
            .map(|status| Value::Int(status.code().into()))
            .collect();
        Condition::one_of(Field::ExecutionStatus, codes)
    }

    /// `ExecutionPhase IN (phases)`.
    pub fn phase_in(phases: &[Phase]) -> Condition {
        let codes = phases
            .iter()
            .map(|phase| Value::Int(phase.code().into()))
            .collect();
        Condition::one_of(Field::ExecutionPhase, codes)
    }

    /// A time field compared with a time.
    pub fn time(field: Field, op: CompareOp, at: crate::Time) -> Condition {
        Condition::compare(field, op, Value::Int(at.0))
    }

    pub fn starts_with(field: Field, prefix: impl Into<String>) -> Condition {
        Condition::StartsWith {
            field,
            prefix: prefix.into(),
            negated: false,
        }
    }

    /// Every one of `conditions`; `None` when there are none.
    pub fn all(conditions: impl IntoIterator<Item = Condition>) -> Option<Condition> {
        conditions
            .into_iter()
            .reduce(|a, b| Condition::And(Box::new(a), Box::new(b)))
    }

    /// Any one of `conditions`; `None` when there are none.
    pub fn any(conditions: impl IntoIterator<Item = Condition>) -> Option<Condition> {
        conditions
            .into_iter()
            .reduce(|a, b| Condition::Or(Box::new(a), Box::new(b)))
    }
}

impl Filter {
    /// Everything, in the default order.
    pub fn everything() -> Filter {
        Filter::default()
    }

    /// What `condition` matches, in the default order.
    pub fn matching(condition: Condition) -> Filter {
        Filter {
            condition: Some(condition),
            order_by: Vec::new(),
        }
    }

    /// What every one of `conditions` matches (everything when there are none), in the
    /// default order.
    pub fn all_of(conditions: impl IntoIterator<Item = Condition>) -> Filter {
        Filter {
            condition: Condition::all(conditions),
            order_by: Vec::new(),
        }
    }

    /// What this filter matches that also meets `condition`.
    pub fn and(mut self, condition: Condition) -> Filter {
        self.condition = Condition::all(self.condition.take().into_iter().chain([condition]));
        self
    }
}

/// Parses a List Filter query. An empty or all-whitespace query has no condition.
/// `attributes` gives the type of each search attribute the namespace knows besides the
/// built-in fields; any other name is refused.
pub fn parse_filter(
    query: &str,
    attributes: &dyn Fn(&str) -> Option<SearchAttributeType>,
) -> Result<Filter, FilterError> {
    parser::parse(lexer::lex(query)?, attributes)
}

/// Workflow execution status names, in code order (Running = 1).
pub use values::STATUSES as EXECUTION_STATUSES;

/// Parses the query of a count: a List Filter that may end in `GROUP BY ExecutionStatus`
/// (answered as one count per status), as Temporal's CountWorkflowExecutions takes it.
pub fn parse_count_filter(
    query: &str,
    attributes: &dyn Fn(&str) -> Option<SearchAttributeType>,
) -> Result<(Filter, Option<Field>), FilterError> {
    parser::parse_with_grouping(lexer::lex(query)?, attributes)
}

/// What the unit tests of every part of the language share (the namespace's attributes, short
/// ways to parse a query and to write the conditions expected of it), and the property tests
/// of the language as a whole.
#[cfg(test)]
mod tests {
    use super::*;

    /// The custom attributes the tests' namespace knows.
    pub(super) fn known(name: &str) -> Option<SearchAttributeType> {
        match name {
            "workflowid" | "Color" => Some(SearchAttributeType::Keyword),
            "CustomBool" | "Order" => Some(SearchAttributeType::Bool),
            "My Attr" => Some(SearchAttributeType::Double),
            "Notes" => Some(SearchAttributeType::Text),
            "Size" => Some(SearchAttributeType::Int),
            "Due" => Some(SearchAttributeType::Datetime),
            _ => None,
        }
    }

    pub(super) fn parse_filter(q: &str) -> Result<Filter, FilterError> {
        super::parse_filter(q, &known)
    }

    pub(super) fn cond(q: &str) -> Condition {
        parse_filter(q).unwrap().condition.unwrap()
    }

    pub(super) fn err(q: &str) -> String {
        parse_filter(q).unwrap_err().to_string()
    }

    pub(super) fn eq(field: Field, value: Value) -> Condition {
        Condition::Compare {
            field,
            op: CompareOp::Eq,
            value,
        }
    }

    pub(super) fn s(v: &str) -> Value {
        Value::Str(v.to_string())
    }

    pub(super) fn and(a: Condition, b: Condition) -> Condition {
        Condition::And(Box::new(a), Box::new(b))
    }

    pub(super) fn or(a: Condition, b: Condition) -> Condition {
        Condition::Or(Box::new(a), Box::new(b))
    }

    proptest::proptest! {
        #[test]
        fn never_panics(q in "\\PC{0,60}") {
            let _ = parse_filter(&q);
        }

        #[test]
        fn never_panics_on_query_like_input(
            q in "[A-Za-z`'\"()=<>!, .0-9:TZ+-]{0,60}"
        ) {
            let _ = parse_filter(&q);
        }
    }
}
