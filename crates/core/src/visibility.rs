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

use std::fmt;

use thiserror::Error;

use crate::overview::Phase;
use crate::search::SearchAttributeType;

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
    pub order_by: Vec<(Field, Direction)>,
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

    /// What this filter matches that also meets `condition`.
    pub fn and(mut self, condition: Condition) -> Filter {
        self.condition = Condition::all(self.condition.take().into_iter().chain([condition]));
        self
    }
}

/// Workflow execution status names, in code order (Running = 1).
const STATUSES: [&str; 7] = [
    "Running",
    "Completed",
    "Failed",
    "Canceled",
    "Terminated",
    "ContinuedAsNew",
    "TimedOut",
];

const KEYWORDS: [&str; 14] = [
    "AND",
    "OR",
    "NOT",
    "IN",
    "BETWEEN",
    "STARTS_WITH",
    "IS",
    "NULL",
    "ORDER",
    "BY",
    "ASC",
    "DESC",
    "TRUE",
    "FALSE",
];

/// Parses a List Filter query. An empty or all-whitespace query has no condition.
/// `attributes` gives the type of each search attribute the namespace knows besides the
/// built-in fields; any other name is refused.
pub fn parse_filter(
    query: &str,
    attributes: &dyn Fn(&str) -> Option<SearchAttributeType>,
) -> Result<Filter, FilterError> {
    let mut p = Parser {
        toks: lex(query)?,
        i: 0,
        attributes,
    };
    let mut filter = Filter::default();
    if p.peek().tok != Tok::Eof && !p.is_kw("ORDER") {
        filter.condition = Some(p.or_expr()?);
    }
    if p.eat_kw("ORDER") {
        p.expect_kw("BY")?;
        loop {
            let (field, pos) = p.field()?;
            if let Field::Custom(name, _) = &field {
                return Err(FilterError::Unsupported(format!(
                    "ordering by custom search attribute {name} (position {pos}) is not supported"
                )));
            }
            let dir = if p.eat_kw("DESC") {
                Direction::Desc
            } else {
                p.eat_kw("ASC");
                Direction::Asc
            };
            filter.order_by.push((field, dir));
            if !p.eat(&Tok::Comma) {
                break;
            }
        }
    }
    if p.peek().tok != Tok::Eof {
        return Err(p.unexpected("AND, OR, ORDER BY or end of query"));
    }
    Ok(filter)
}

// ---------------------------------------------------------------- lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),   // bare identifier or keyword
    Quoted(String), // `backtick-quoted` identifier, never a keyword
    Str(String),
    Int(i64),
    Float(f64),
    Op(CompareOp),
    LParen,
    RParen,
    Comma,
    Eof,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    pos: usize,
}

fn syntax(msg: String) -> FilterError {
    FilterError::Syntax(msg)
}

fn lex(query: &str) -> Result<Vec<Token>, FilterError> {
    let cs: Vec<char> = query.chars().collect();
    let at = |i: usize| cs.get(i).copied().unwrap_or('\0');
    let mut out = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        let (c, start, pos) = (cs[i], i, i + 1);
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let tok = match c {
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            ',' => {
                i += 1;
                Tok::Comma
            }
            '\'' | '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match cs.get(i) {
                        None => {
                            return Err(syntax(format!("unterminated string at position {pos}")));
                        }
                        Some('\\') if i + 1 < cs.len() => {
                            s.push(match cs[i + 1] {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                other => other,
                            });
                            i += 2;
                        }
                        // A doubled quote inside the string stands for one quote.
                        Some(&q) if q == c && at(i + 1) == c => {
                            s.push(c);
                            i += 2;
                        }
                        Some(&q) if q == c => {
                            i += 1;
                            break;
                        }
                        Some(&other) => {
                            s.push(other);
                            i += 1;
                        }
                    }
                }
                Tok::Str(s)
            }
            '`' => {
                let end = (i + 1..cs.len()).find(|&j| cs[j] == '`').ok_or_else(|| {
                    syntax(format!("unterminated `quoted name` at position {pos}"))
                })?;
                let name: String = cs[i + 1..end].iter().collect();
                if name.trim().is_empty() {
                    return Err(syntax(format!("empty `quoted name` at position {pos}")));
                }
                i = end + 1;
                Tok::Quoted(name)
            }
            c if c.is_ascii_digit() || (c == '-' && at(i + 1).is_ascii_digit()) => {
                i += 1;
                while at(i).is_ascii_alphanumeric() || at(i) == '.' || at(i) == '_' {
                    // Allow a sign directly after an exponent marker: 1e-5.
                    let exp = matches!(at(i), 'e' | 'E') && matches!(at(i + 1), '+' | '-');
                    i += if exp { 2 } else { 1 };
                }
                let text: String = cs[start..i].iter().collect();
                if let Ok(n) = text.parse::<i64>() {
                    Tok::Int(n)
                } else if text.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
                    return Err(FilterError::InvalidValue(format!(
                        "integer {text} at position {pos} is out of range"
                    )));
                } else {
                    match text.parse::<f64>() {
                        Ok(f) if f.is_finite() => Tok::Float(f),
                        _ => {
                            return Err(syntax(format!(
                                "invalid number '{text}' at position {pos}"
                            )));
                        }
                    }
                }
            }
            c if c.is_alphabetic() || c == '_' => {
                while at(i).is_alphanumeric() || at(i) == '_' {
                    i += 1;
                }
                Tok::Word(cs[start..i].iter().collect())
            }
            c if c.is_ascii_punctuation() => {
                // Take the whole run of operator characters so that e.g. `=~`
                // is reported as one unknown operator rather than `=` + junk.
                i += 1;
                while at(i).is_ascii_punctuation() && !"()'\"`,_-.".contains(at(i)) {
                    i += 1;
                }
                let op: String = cs[start..i].iter().collect();
                Tok::Op(match op.as_str() {
                    "=" => CompareOp::Eq,
                    "!=" | "<>" => CompareOp::Ne,
                    ">" => CompareOp::Gt,
                    ">=" => CompareOp::Ge,
                    "<" => CompareOp::Lt,
                    "<=" => CompareOp::Le,
                    _ => return Err(syntax(format!("unknown operator '{op}' at position {pos}"))),
                })
            }
            other => {
                return Err(syntax(format!(
                    "unexpected character '{other}' at position {pos}"
                )));
            }
        };
        out.push(Token { tok, pos });
    }
    out.push(Token {
        tok: Tok::Eof,
        pos: cs.len() + 1,
    });
    Ok(out)
}

// ---------------------------------------------------------------- parser

struct Parser<'a> {
    toks: Vec<Token>,
    i: usize,
    attributes: &'a dyn Fn(&str) -> Option<SearchAttributeType>,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.toks[self.i]
    }

    fn bump(&mut self) -> Token {
        let t = self.toks[self.i].clone();
        if t.tok != Tok::Eof {
            self.i += 1;
        }
        t
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        let hit = &self.peek().tok == tok;
        if hit {
            self.bump();
        }
        hit
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(&self.peek().tok, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        let hit = self.is_kw(kw);
        if hit {
            self.bump();
        }
        hit
    }

    fn expect_kw(&mut self, kw: &str) -> Result<(), FilterError> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.unexpected(kw))
        }
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<(), FilterError> {
        if self.eat(&tok) {
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    /// "expected X but found Y at position N" / "expected X at end of query".
    fn unexpected(&self, expected: &str) -> FilterError {
        let t = self.peek();
        let found = match &t.tok {
            Tok::Eof => return syntax(format!("expected {expected} at end of query")),
            Tok::Word(w) | Tok::Quoted(w) => format!("'{w}'"),
            Tok::Str(s) => format!("string '{s}'"),
            Tok::Int(n) => format!("number {n}"),
            Tok::Float(f) => format!("number {f}"),
            Tok::Op(_) => "an operator".to_string(),
            Tok::LParen => "'('".to_string(),
            Tok::RParen => "')'".to_string(),
            Tok::Comma => "','".to_string(),
        };
        syntax(format!(
            "expected {expected} but found {found} at position {}",
            t.pos
        ))
    }

    fn or_expr(&mut self) -> Result<Condition, FilterError> {
        let mut left = self.and_expr()?;
        while self.eat_kw("OR") {
            left = Condition::Or(Box::new(left), Box::new(self.and_expr()?));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Condition, FilterError> {
        let mut left = self.primary()?;
        while self.eat_kw("AND") {
            left = Condition::And(Box::new(left), Box::new(self.primary()?));
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<Condition, FilterError> {
        if self.eat(&Tok::LParen) {
            let inner = self.or_expr()?;
            self.expect(Tok::RParen, "')'")?;
            return Ok(inner);
        }
        self.predicate()
    }

    fn field(&mut self) -> Result<(Field, usize), FilterError> {
        let t = self.peek().clone();
        let name = match t.tok {
            Tok::Quoted(name) => name,
            Tok::Word(w) if !KEYWORDS.iter().any(|k| w.eq_ignore_ascii_case(k)) => w,
            _ => return Err(self.unexpected("a field name")),
        };
        self.bump();
        let field = match Field::built_in(&name) {
            Some(field) => field,
            None => match (self.attributes)(&name) {
                Some(kind) => Field::Custom(name, kind),
                None => {
                    return Err(FilterError::InvalidValue(format!(
                        "unknown search attribute '{name}' at position {}",
                        t.pos
                    )));
                }
            },
        };
        Ok((field, t.pos))
    }

    fn predicate(&mut self) -> Result<Condition, FilterError> {
        let (field, _) = self.field()?;
        if let Tok::Op(op) = self.peek().tok {
            self.bump();
            let value = self.value(&field)?;
            return Ok(Condition::Compare { field, op, value });
        }
        if self.eat_kw("IS") {
            let negated = self.eat_kw("NOT");
            self.expect_kw("NULL")?;
            return Ok(Condition::IsNull { field, negated });
        }
        let negated = self.eat_kw("NOT");
        if self.eat_kw("IN") {
            self.expect(Tok::LParen, "'(' after IN")?;
            let mut values = vec![self.value(&field)?];
            while self.eat(&Tok::Comma) {
                values.push(self.value(&field)?);
            }
            self.expect(Tok::RParen, "')'")?;
            Ok(Condition::In {
                field,
                values,
                negated,
            })
        } else if self.eat_kw("BETWEEN") {
            let low = self.value(&field)?;
            self.expect_kw("AND")?;
            let high = self.value(&field)?;
            Ok(Condition::Between {
                field,
                low,
                high,
                negated,
            })
        } else if self.is_kw("STARTS_WITH") {
            let pos = self.bump().pos;
            if !matches!(
                field.kind(),
                Kind::Keyword | Kind::Custom(SearchAttributeType::Keyword)
            ) {
                return Err(FilterError::InvalidValue(format!(
                    "STARTS_WITH at position {pos} needs a Keyword field, but {field} is not one"
                )));
            }
            match self.peek().tok.clone() {
                Tok::Str(prefix) => {
                    self.bump();
                    Ok(Condition::StartsWith {
                        field,
                        prefix,
                        negated,
                    })
                }
                _ => Err(self.unexpected("a string after STARTS_WITH")),
            }
        } else if negated {
            Err(self.unexpected("IN, BETWEEN or STARTS_WITH after NOT"))
        } else {
            Err(self.unexpected(&format!("an operator after {field}")))
        }
    }

    /// Reads one literal and checks/normalises it for `field`.
    fn value(&mut self, field: &Field) -> Result<Value, FilterError> {
        let t = self.peek().clone();
        let raw = match t.tok {
            Tok::Str(s) => Value::Str(s),
            Tok::Int(n) => Value::Int(n),
            Tok::Float(f) => Value::Float(f),
            Tok::Word(ref w) if w.eq_ignore_ascii_case("true") => Value::Bool(true),
            Tok::Word(ref w) if w.eq_ignore_ascii_case("false") => Value::Bool(false),
            _ => return Err(self.unexpected(&format!("a value for {field}"))),
        };
        self.bump();
        normalize(field, raw, t.pos)
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Int(n) => format!("number {n}"),
        Value::Float(f) => format!("number {f}"),
        Value::Str(s) => format!("string '{s}'"),
        Value::Bool(b) => format!("boolean {b}"),
    }
}

fn normalize(field: &Field, raw: Value, pos: usize) -> Result<Value, FilterError> {
    let bad = |msg: String| Err(FilterError::InvalidValue(msg));
    let expects = |what: &str, v: &Value| {
        bad(format!(
            "{field} expects {what}, but got {} at position {pos}",
            describe(v)
        ))
    };
    match (field.kind(), raw) {
        (Kind::Keyword, v @ Value::Str(_)) => Ok(v),
        (Kind::Custom(kind), v) => normalize_custom(field, kind, v, pos),
        (Kind::Keyword, v) => expects("a string", &v),
        (Kind::Status, Value::Str(s)) => {
            match STATUSES.iter().position(|n| n.eq_ignore_ascii_case(&s)) {
                Some(idx) => Ok(Value::Int(idx as i64 + 1)),
                None => bad(format!("invalid ExecutionStatus '{s}' at position {pos}")),
            }
        }
        (Kind::Status, Value::Int(n)) if (1..=7).contains(&n) => Ok(Value::Int(n)),
        (Kind::Status, v) => bad(format!(
            "invalid ExecutionStatus {} at position {pos}",
            describe(&v)
        )),
        (Kind::Phase, Value::Str(s)) => match Phase::from_name(&s) {
            Some(phase) => Ok(Value::Int(phase.code().into())),
            None => bad(format!(
                "invalid ExecutionPhase '{s}' at position {pos} (Pending, Running, Completed, Failed or Cancelled)"
            )),
        },
        (Kind::Phase, v) => bad(format!(
            "invalid ExecutionPhase {} at position {pos}",
            describe(&v)
        )),
        (Kind::Datetime, Value::Str(s)) => match parse_rfc3339_nanos(&s) {
            Ok(ns) => Ok(Value::Int(ns)),
            Err(why) => bad(format!(
                "invalid timestamp '{s}' for {field} at position {pos}: {why}"
            )),
        },
        (Kind::Duration, Value::Str(s)) => match parse_duration_nanos(&s) {
            Some(ns) => Ok(Value::Int(ns)),
            None => bad(format!(
                "invalid duration '{s}' for {field} at position {pos}"
            )),
        },
        (Kind::Datetime | Kind::Duration | Kind::Int, v @ Value::Int(_)) => Ok(v),
        (Kind::Datetime, v) => expects("an RFC3339 timestamp or integer nanoseconds", &v),
        (Kind::Duration, v) => expects("a duration such as '1h30m' or integer nanoseconds", &v),
        (Kind::Int, v) => expects("an integer", &v),
    }
}

/// A value compared with a custom attribute must be of the attribute's type (a Double
/// also takes an integer; a Datetime an RFC3339 string or unix nanoseconds).
fn normalize_custom(
    field: &Field,
    kind: SearchAttributeType,
    raw: Value,
    pos: usize,
) -> Result<Value, FilterError> {
    use SearchAttributeType as T;
    match (kind, raw) {
        (T::Keyword | T::Text | T::KeywordList, v @ Value::Str(_)) => Ok(v),
        (T::Int, v @ Value::Int(_)) | (T::Double, v @ Value::Float(_)) => Ok(v),
        (T::Double, Value::Int(n)) => Ok(Value::Float(n as f64)),
        (T::Bool, Value::Bool(b)) => Ok(Value::Int(b as i64)),
        (T::Datetime, v @ Value::Int(_)) => Ok(v),
        (T::Datetime, Value::Str(s)) => match parse_rfc3339_nanos(&s) {
            Ok(ns) => Ok(Value::Int(ns)),
            Err(why) => Err(FilterError::InvalidValue(format!(
                "invalid timestamp '{s}' for {field} at position {pos}: {why}"
            ))),
        },
        (kind, v) => Err(FilterError::InvalidValue(format!(
            "search attribute {field} is of type {}, but got {} at position {pos}",
            kind.name(),
            describe(&v)
        ))),
    }
}

// ---------------------------------------------------------------- time

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`; valid for any year that fits).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // [0, 399]
    let mp = (m as i64 + 9) % 12; // March = 0 ... February = 11
    let doy = (153 * mp + 2) / 5 + d as i64 - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: u32) -> u32 {
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ][m as usize - 1]
}

/// Parses an RFC3339 timestamp (`2024-01-02T03:04:05.123Z`, `...+05:30`)
/// into unix nanoseconds. Digits beyond nanosecond precision are truncated.
pub fn parse_rfc3339_nanos(s: &str) -> Result<i64, String> {
    let b = s.as_bytes();
    let format_err = || "expected format YYYY-MM-DDTHH:MM:SS[.frac](Z|±hh:mm)".to_string();
    // Fixed-width run of digits at `from`.
    let num = |from: usize, len: usize| -> Result<u32, String> {
        match b.get(from..from + len) {
            Some(d) if d.iter().all(u8::is_ascii_digit) => {
                Ok(d.iter().fold(0, |acc, c| acc * 10 + (c - b'0') as u32))
            }
            _ => Err(format_err()),
        }
    };
    // One of the allowed separator bytes at `i`.
    let sep = |i: usize, ok: &[u8]| match b.get(i) {
        Some(c) if ok.contains(c) => Ok(()),
        _ => Err(format_err()),
    };
    let (year, month, day) = (num(0, 4)? as i64, num(5, 2)?, num(8, 2)?);
    sep(4, b"-")?;
    sep(7, b"-")?;
    sep(10, b"Tt ")?;
    let (hour, min, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    sep(13, b":")?;
    sep(16, b":")?;
    let mut i = 19;
    let mut frac_ns = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err("missing digits after '.'".to_string());
        }
        for k in 0..9 {
            frac_ns = frac_ns * 10
                + if k < digits {
                    (b[i + k] - b'0') as i64
                } else {
                    0
                };
        }
        i += digits;
    }
    let offset_secs = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() => {
            sep(i + 3, b":")?;
            let (oh, om) = (num(i + 1, 2)?, num(i + 4, 2)?);
            if oh > 23 || om > 59 {
                return Err("invalid UTC offset".to_string());
            }
            let secs = (oh * 3600 + om * 60) as i64;
            if sign == b'-' { -secs } else { secs }
        }
        _ => return Err("missing or malformed time zone (use Z or ±hh:mm)".to_string()),
    };
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err("no such date".to_string());
    }
    if hour > 23 || min > 59 || sec > 59 {
        return Err("no such time of day".to_string());
    }
    let secs = days_from_civil(year, month, day) * 86_400 + (hour * 3600 + min * 60 + sec) as i64
        - offset_secs;
    secs.checked_mul(1_000_000_000)
        .and_then(|ns| ns.checked_add(frac_ns))
        .ok_or_else(|| "out of range (years 1678..2261 only)".to_string())
}

/// Parses a Go-style duration (`1h30m`, `1.5s`, `250ms`, `10us`, `7ns`)
/// into nanoseconds.
fn parse_duration_nanos(s: &str) -> Option<i64> {
    const UNITS: [(&str, i128); 7] = [
        ("ns", 1),
        ("us", 1_000),
        ("µs", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
    ];
    let mut rest = s;
    let mut total: i128 = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let int_len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let int: i128 = rest[..int_len].parse().unwrap_or(0);
        rest = &rest[int_len..];
        let mut frac = "";
        if let Some(after) = rest.strip_prefix('.') {
            let len = after
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after.len());
            (frac, rest) = (&after[..len], &after[len..]);
        }
        if (int_len == 0 && frac.is_empty()) || int_len > 18 {
            return None;
        }
        let &(unit, scale) = UNITS.iter().find(|(u, _)| rest.starts_with(u))?;
        rest = &rest[unit.len()..];
        total += int * scale;
        let mut div = 1i128;
        for c in frac.bytes().take(18) {
            total += (c - b'0') as i128 * scale / (div * 10);
            div *= 10;
        }
        // Stop early so that absurdly long inputs cannot overflow the i128.
        if total > i64::MAX as i128 {
            return None;
        }
    }
    i64::try_from(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The custom attributes the tests' namespace knows.
    fn known(name: &str) -> Option<SearchAttributeType> {
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

    fn parse_filter(q: &str) -> Result<Filter, FilterError> {
        super::parse_filter(q, &known)
    }

    fn cond(q: &str) -> Condition {
        parse_filter(q).unwrap().condition.unwrap()
    }

    fn err(q: &str) -> String {
        parse_filter(q).unwrap_err().to_string()
    }

    fn eq(field: Field, value: Value) -> Condition {
        Condition::Compare {
            field,
            op: CompareOp::Eq,
            value,
        }
    }

    fn s(v: &str) -> Value {
        Value::Str(v.to_string())
    }

    fn and(a: Condition, b: Condition) -> Condition {
        Condition::And(Box::new(a), Box::new(b))
    }

    fn or(a: Condition, b: Condition) -> Condition {
        Condition::Or(Box::new(a), Box::new(b))
    }

    #[test]
    fn empty_query_has_no_condition() {
        assert_eq!(parse_filter("").unwrap(), Filter::default());
        assert_eq!(parse_filter("  \t\n ").unwrap(), Filter::default());
    }

    #[test]
    fn simple_comparisons() {
        assert_eq!(
            cond("WorkflowId = 'wf-1'"),
            eq(Field::WorkflowId, s("wf-1"))
        );
        assert_eq!(cond("`TaskQueue`=\"q\""), eq(Field::TaskQueue, s("q")));
        let ops = [
            ("=", CompareOp::Eq),
            ("!=", CompareOp::Ne),
            ("<>", CompareOp::Ne),
            (">", CompareOp::Gt),
            (">=", CompareOp::Ge),
            ("<", CompareOp::Lt),
            ("<=", CompareOp::Le),
        ];
        for (text, op) in ops {
            assert_eq!(
                cond(&format!("HistoryLength {text} -10")),
                Condition::Compare {
                    field: Field::HistoryLength,
                    op,
                    value: Value::Int(-10)
                }
            );
        }
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let (a, b, c) = (
            eq(Field::WorkflowId, s("a")),
            eq(Field::RunId, s("b")),
            eq(Field::WorkflowType, s("c")),
        );
        let q = "WorkflowId = 'a' OR RunId = 'b' AND WorkflowType = 'c'";
        assert_eq!(cond(q), or(a.clone(), and(b.clone(), c.clone())));
        let q = "WorkflowId = 'a' and RunId = 'b' Or WorkflowType = 'c'";
        assert_eq!(cond(q), or(and(a.clone(), b.clone()), c.clone()));
        let q = "(WorkflowId = 'a' OR RunId = 'b') AND WorkflowType = 'c'";
        assert_eq!(cond(q), and(or(a.clone(), b.clone()), c.clone()));
        // AND is left-associative.
        let q = "WorkflowId='a' AND RunId='b' AND WorkflowType='c'";
        assert_eq!(cond(q), and(and(a.clone(), b), c));
        assert_eq!(cond("((WorkflowId = 'a'))"), a);
    }

    #[test]
    fn set_range_prefix_and_null_predicates() {
        assert_eq!(
            cond("WorkflowType IN ('a', \"b\")"),
            Condition::In {
                field: Field::WorkflowType,
                values: vec![s("a"), s("b")],
                negated: false
            }
        );
        assert_eq!(
            cond("ExecutionStatus not in ('Failed', 5)"),
            Condition::In {
                field: Field::ExecutionStatus,
                values: vec![Value::Int(3), Value::Int(5)],
                negated: true
            }
        );
        assert_eq!(
            cond("HistoryLength BETWEEN 1 AND 10 AND RunId = 'r'"),
            and(
                Condition::Between {
                    field: Field::HistoryLength,
                    low: Value::Int(1),
                    high: Value::Int(10),
                    negated: false
                },
                eq(Field::RunId, s("r"))
            )
        );
        assert!(matches!(
            cond("HistoryLength NOT BETWEEN 1 AND 2"),
            Condition::Between { negated: true, .. }
        ));
        assert_eq!(
            cond("WorkflowId STARTS_WITH 'order-'"),
            Condition::StartsWith {
                field: Field::WorkflowId,
                prefix: "order-".into(),
                negated: false
            }
        );
        assert!(matches!(
            cond("WorkflowId not starts_with 'x'"),
            Condition::StartsWith { negated: true, .. }
        ));
        assert_eq!(
            cond("CloseTime IS NULL"),
            Condition::IsNull {
                field: Field::CloseTime,
                negated: false
            }
        );
        assert_eq!(
            cond("CloseTime is not null"),
            Condition::IsNull {
                field: Field::CloseTime,
                negated: true
            }
        );
    }

    #[test]
    fn order_by() {
        let f =
            parse_filter("WorkflowId = 'a' ORDER BY StartTime DESC, `RunId`, HistoryLength asc")
                .unwrap();
        assert_eq!(
            f.order_by,
            vec![
                (Field::StartTime, Direction::Desc),
                (Field::RunId, Direction::Asc),
                (Field::HistoryLength, Direction::Asc)
            ]
        );
        let f = parse_filter("order by CloseTime desc").unwrap();
        assert_eq!(f.condition, None);
        assert_eq!(f.order_by, vec![(Field::CloseTime, Direction::Desc)]);
        assert_eq!(err("ORDER BY"), "expected a field name at end of query");
        assert_eq!(
            err("ORDER StartTime"),
            "expected BY but found 'StartTime' at position 7"
        );
    }

    #[test]
    fn field_names_are_case_sensitive_and_custom_fields_typed() {
        use SearchAttributeType as T;
        assert_eq!(
            cond("workflowid = 'a'"),
            eq(Field::Custom("workflowid".into(), T::Keyword), s("a"))
        );
        assert_eq!(
            cond("CustomBool = true"),
            eq(Field::Custom("CustomBool".into(), T::Bool), Value::Int(1))
        );
        assert_eq!(
            cond("`My Attr` = 1"),
            eq(
                Field::Custom("My Attr".into(), T::Double),
                Value::Float(1.0)
            )
        );
        // A keyword can still be a field name when quoted.
        assert_eq!(
            cond("`Order` = FALSE"),
            eq(Field::Custom("Order".into(), T::Bool), Value::Int(0))
        );
        assert_eq!(
            cond("Due > '2024-01-02T03:04:05Z'"),
            Condition::Compare {
                field: Field::Custom("Due".into(), T::Datetime),
                op: CompareOp::Gt,
                value: Value::Int(1_704_164_645_000_000_000),
            }
        );
        assert_eq!(
            Field::built_in("ExecutionDuration").unwrap().name(),
            "ExecutionDuration"
        );
    }

    #[test]
    fn custom_fields_must_be_known_and_typed_right() {
        assert_eq!(
            err("Nope = 'x'"),
            "unknown search attribute 'Nope' at position 1"
        );
        assert_eq!(
            err("Size = '3'"),
            "search attribute Size is of type Int, but got string '3' at position 8"
        );
        assert_eq!(
            err("Color = 5"),
            "search attribute Color is of type Keyword, but got number 5 at position 9"
        );
        assert_eq!(
            err("Notes STARTS_WITH 'a'"),
            "STARTS_WITH at position 7 needs a Keyword field, but Notes is not one"
        );
        assert_eq!(
            err("ORDER BY Color"),
            "ordering by custom search attribute Color (position 10) is not supported"
        );
    }

    #[test]
    fn string_escaping() {
        for (q, want) in [
            ("WorkflowId = 'it''s'", "it's"),
            (r"WorkflowId = 'it\'s'", "it's"),
            (r#"WorkflowId = "say ""hi""""#, "say \"hi\""),
            (r#"WorkflowId = "a'b\\c""#, r"a'b\c"),
            (r"WorkflowId = 'tab\there'", "tab\there"),
            ("WorkflowId = ''", ""),
            ("WorkflowId = 'ünï ✓'", "ünï ✓"),
        ] {
            assert_eq!(cond(q), eq(Field::WorkflowId, s(want)), "{q}");
        }
    }

    #[test]
    fn execution_status_is_normalised() {
        for (i, name) in STATUSES.iter().enumerate() {
            let code = Value::Int(i as i64 + 1);
            assert_eq!(
                cond(&format!("ExecutionStatus = '{name}'")),
                eq(Field::ExecutionStatus, code.clone())
            );
            assert_eq!(
                cond(&format!("ExecutionStatus = {}", i + 1)),
                eq(Field::ExecutionStatus, code)
            );
        }
        assert_eq!(
            cond("ExecutionStatus = 'running'"),
            eq(Field::ExecutionStatus, Value::Int(1))
        );
        assert_eq!(
            err("ExecutionStatus = 'Runing'"),
            "invalid ExecutionStatus 'Runing' at position 19"
        );
        assert!(err("ExecutionStatus = 0").contains("invalid ExecutionStatus number 0"));
        assert!(err("ExecutionStatus IN (1, 8)").contains("invalid ExecutionStatus number 8"));
    }

    #[test]
    fn timestamps() {
        let ts = |q: &str| parse_rfc3339_nanos(q).unwrap();
        assert_eq!(ts("1970-01-01T00:00:00Z"), 0);
        assert_eq!(ts("2024-01-02T03:04:05Z"), 1_704_164_645_000_000_000);
        assert_eq!(ts("2024-01-02t03:04:05z"), 1_704_164_645_000_000_000);
        assert_eq!(ts("2024-01-02 03:04:05Z"), 1_704_164_645_000_000_000);
        assert_eq!(ts("2024-01-02T03:04:05.5Z"), 1_704_164_645_500_000_000);
        assert_eq!(
            ts("2024-01-02T03:04:05.123456789Z"),
            1_704_164_645_123_456_789
        );
        assert_eq!(
            ts("2024-01-02T03:04:05.1234567891Z"),
            1_704_164_645_123_456_789
        );
        assert_eq!(ts("2024-01-02T04:04:05+01:00"), 1_704_164_645_000_000_000);
        assert_eq!(ts("2024-02-29T12:00:00-05:30"), 1_709_227_800_000_000_000);
        assert_eq!(ts("1969-12-31T23:59:59.25Z"), -750_000_000);
        assert_eq!(ts("2000-03-01T00:00:00Z"), 951_868_800_000_000_000);
        assert_eq!(days_from_civil(1600, 1, 1), -11_676_096_000 / 86_400);
        for bad in [
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:60Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00+0100",
            "2024-01-01T00:00:00+24:00",
            "2024-1-01T00:00:00Z",
            "2024-01-01",
            "3000-01-01T00:00:00Z",
            "",
        ] {
            assert!(
                parse_rfc3339_nanos(bad).is_err(),
                "{bad} should be rejected"
            );
        }
        assert_eq!(
            cond("StartTime >= '2024-01-02T03:04:05Z'"),
            Condition::Compare {
                field: Field::StartTime,
                op: CompareOp::Ge,
                value: Value::Int(1_704_164_645_000_000_000)
            }
        );
        assert_eq!(
            cond("CloseTime < 42"),
            Condition::Compare {
                field: Field::CloseTime,
                op: CompareOp::Lt,
                value: Value::Int(42)
            }
        );
        assert_eq!(
            err("ExecutionTime = '2024-02-30T00:00:00Z'"),
            "invalid timestamp '2024-02-30T00:00:00Z' for ExecutionTime at position 17: no such date"
        );
    }

    #[test]
    fn durations() {
        let d = |q: &str| match cond(q) {
            Condition::Compare {
                value: Value::Int(n),
                ..
            } => n,
            other => panic!("{other:?}"),
        };
        assert_eq!(d("ExecutionDuration > 1000"), 1000);
        assert_eq!(d("ExecutionDuration > '1h30m'"), 5_400_000_000_000);
        assert_eq!(d("ExecutionDuration > '1.5s'"), 1_500_000_000);
        assert_eq!(d("ExecutionDuration > '250ms'"), 250_000_000);
        assert_eq!(d("ExecutionDuration > '3us7ns'"), 3_007);
        for bad in ["''", "'10'", "'1x'", "'h'", "'.s'", "'1.5'"] {
            assert!(
                err(&format!("ExecutionDuration > {bad}")).contains("invalid duration"),
                "{bad}"
            );
        }
    }

    #[test]
    fn type_errors() {
        assert_eq!(
            err("HistoryLength = 'abc'"),
            "HistoryLength expects an integer, but got string 'abc' at position 17"
        );
        assert!(err("HistoryLength > 1.5").contains("expects an integer, but got number 1.5"));
        assert!(err("WorkflowId = 5").contains("WorkflowId expects a string, but got number 5"));
        assert!(err("StartTime = true").contains("StartTime expects an RFC3339 timestamp"));
        assert!(err("RunId IN ('a', 2)").contains("RunId expects a string"));
        assert!(err("HistoryLength BETWEEN 1 AND 'x'").contains("got string 'x'"));
        assert_eq!(
            err("HistoryLength STARTS_WITH '1'"),
            "STARTS_WITH at position 15 needs a Keyword field, but HistoryLength is not one"
        );
        assert!(err("WorkflowId STARTS_WITH 1").contains("expected a string after STARTS_WITH"));
    }

    #[test]
    fn syntax_errors() {
        let cases = [
            ("WorkflowId =~ 'x'", "unknown operator '=~' at position 12"),
            ("WorkflowId == 'x'", "unknown operator '==' at position 12"),
            ("(WorkflowId = 'x'", "expected ')' at end of query"),
            (
                "WorkflowId = 'x')",
                "expected AND, OR, ORDER BY or end of query but found ')' at position 17",
            ),
            (
                "WorkflowId = 'x' RunId = 'y'",
                "expected AND, OR, ORDER BY or end of query but found 'RunId' at position 18",
            ),
            ("WorkflowId = 'x", "unterminated string at position 14"),
            (
                "WorkflowId =",
                "expected a value for WorkflowId at end of query",
            ),
            (
                "WorkflowId 'x'",
                "expected an operator after WorkflowId but found string 'x' at position 12",
            ),
            (
                "WorkflowId = 'x' AND",
                "expected a field name at end of query",
            ),
            (
                "AND = 'x'",
                "expected a field name but found 'AND' at position 1",
            ),
            (
                "WorkflowId IN ()",
                "expected a value for WorkflowId but found ')' at position 16",
            ),
            (
                "WorkflowId IN 'a'",
                "expected '(' after IN but found string 'a' at position 15",
            ),
            (
                "WorkflowId IN ('a' 'b')",
                "expected ')' but found string 'b' at position 20",
            ),
            (
                "WorkflowId NOT = 'a'",
                "expected IN, BETWEEN or STARTS_WITH after NOT but found an operator at position 16",
            ),
            (
                "CloseTime IS NOT 5",
                "expected NULL but found number 5 at position 18",
            ),
            (
                "HistoryLength BETWEEN 1 OR 2",
                "expected AND but found 'OR' at position 25",
            ),
            (
                "HistoryLength = 12abc",
                "invalid number '12abc' at position 17",
            ),
            (
                "HistoryLength = 99999999999999999999",
                "integer 99999999999999999999 at position 17 is out of range",
            ),
            ("`` = 1", "empty `quoted name` at position 1"),
            ("`abc = 1", "unterminated `quoted name` at position 1"),
            (
                "WorkflowId = 'a' § 1",
                "unexpected character '§' at position 18",
            ),
        ];
        for (q, want) in cases {
            assert_eq!(err(q), want, "{q}");
        }
        assert!(matches!(
            parse_filter("WorkflowId = 'x"),
            Err(FilterError::Syntax(_))
        ));
        assert!(matches!(
            parse_filter("HistoryLength = 'x'"),
            Err(FilterError::InvalidValue(_))
        ));
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

        #[test]
        fn timestamps_agree_with_day_counting(days in -100_000i64..100_000, secs in 0i64..86_400) {
            // Find the calendar date of `days` by searching with days_from_civil,
            // then check that formatting and reparsing lands on the same instant.
            let (mut y, mut m) = (1970 + days.div_euclid(365), 1u32);
            while days_from_civil(y + 1, 1, 1) <= days { y += 1; }
            while days_from_civil(y, 1, 1) > days { y -= 1; }
            while m < 12 && days_from_civil(y, m + 1, 1) <= days { m += 1; }
            let d = 1 + days - days_from_civil(y, m, 1);
            let text = format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs / 60 % 60, secs % 60);
            proptest::prop_assert_eq!(parse_rfc3339_nanos(&text).unwrap(), (days * 86_400 + secs) * 1_000_000_000);
        }
    }
}
