//! Translation of a parsed visibility [`Filter`] into a parameterised SQL
//! fragment over the `executions` table:
//!
//! ```text
//! executions(namespace TEXT, workflow_id TEXT, run_id TEXT, workflow_type TEXT,
//!            task_queue TEXT, status INTEGER, start_time INTEGER /* unix ns */,
//!            close_time INTEGER NULL, execution_time INTEGER, history_length INTEGER)
//! ```
//!
//! Custom search attributes live in a table of their own, one row per indexed value (a
//! KeywordList has a row per keyword, a Text a row per lowercase word):
//!
//! ```text
//! search_attributes(execution /* executions.id */, name TEXT,
//!                   int_value INTEGER, real_value REAL, text_value TEXT)
//! ```
//!
//! and a condition on one becomes an `EXISTS` over its rows. Single-valued attributes
//! follow SQL's rules for a missing value (`Size != 3` does not match a run without
//! `Size`); a multi-valued one's `!=` / `NOT IN` means "holds none of these", which a run
//! without the attribute does, as in Temporal.
//!
//! The SQL is valid for SQLite and PostgreSQL alike. Values never appear in the
//! SQL text: every value is a `?` placeholder with a matching entry in
//! [`SqlWhere::params`], in order (a PostgreSQL backend renumbers them `$n`).

use keel_core::search::{SearchAttributeType, text_words};
use keel_core::visibility::{
    CompareOp, Condition, Direction, Field, Filter, FilterError, SortKey, Value,
};

/// A bind parameter for a `?` placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlParam {
    Int(i64),
    Text(String),
    Real(f64),
}

/// The translated filter.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlWhere {
    /// Boolean expression without a leading `WHERE`; empty when the filter has
    /// no condition. A top-level `OR` is parenthesised, so the fragment can be
    /// combined as `namespace = ? AND <where_clause>` as-is.
    pub where_clause: String,
    /// Order expression without a leading `ORDER BY`, never empty.
    pub order_by: String,
    /// Values for the placeholders, in the order they appear.
    pub params: Vec<SqlParam>,
}

/// Ordering when the query has no `ORDER BY`: newest first.
pub const DEFAULT_ORDER_BY: &str = "start_time DESC, run_id DESC";

/// Translates `filter` into SQL. Fails for operators a field's type does not support.
pub fn to_sql(filter: &Filter) -> Result<SqlWhere, FilterError> {
    let mut sql = SqlWhere {
        where_clause: String::new(),
        order_by: order_by(&filter.order_by)?,
        params: Vec::new(),
    };
    if let Some(condition) = &filter.condition {
        // Treat the top level as if it were inside an AND so that an OR gets
        // parenthesised (see `SqlWhere::where_clause`).
        write_condition(condition, true, &mut sql)?;
    }
    Ok(sql)
}

/// The column (or expression) holding a field's value.
fn column(field: &Field) -> Result<&'static str, FilterError> {
    Ok(match field {
        Field::WorkflowId => "workflow_id",
        Field::WorkflowType => "workflow_type",
        Field::RunId => "run_id",
        Field::ExecutionStatus => "status",
        Field::TaskQueue => "task_queue",
        Field::StartTime => "start_time",
        Field::CloseTime => "close_time",
        Field::ExecutionTime => "execution_time",
        Field::HistoryLength => "history_length",
        // NULL while the run is open, because close_time is.
        Field::ExecutionDuration => "(close_time - start_time)",
        Field::ExecutionPhase => "phase",
        Field::ParentWorkflowId => "parent_workflow_id",
        Field::WorkerIdentity => "worker",
        Field::Custom(name, _) => {
            return Err(FilterError::Unsupported(format!(
                "ordering by custom search attribute {name} is not supported"
            )));
        }
    })
}

fn order_by(keys: &[SortKey]) -> Result<String, FilterError> {
    if keys.is_empty() {
        return Ok(DEFAULT_ORDER_BY.to_string());
    }
    let mut parts = Vec::with_capacity(keys.len() + 1);
    for SortKey { field, direction } in keys {
        let dir = match direction {
            Direction::Asc => "ASC",
            Direction::Desc => "DESC",
        };
        // SQLite sorts NULLs first and PostgreSQL last by default; pin it so
        // both backends agree (open runs last, as Temporal does).
        let nulls = match field {
            Field::CloseTime | Field::ExecutionDuration => " NULLS LAST",
            _ => "",
        };
        parts.push(format!("{} {dir}{nulls}", column(field)?));
    }
    // Break ties by run id so that the order (and thus paging) is total.
    if !keys.iter().any(|key| key.field == Field::RunId) {
        // `keys` is not empty here (checked above); ties follow the last key's direction.
        let ascending = keys
            .last()
            .is_some_and(|key| key.direction == Direction::Asc);
        let last = if ascending { "ASC" } else { "DESC" };
        parts.push(format!("run_id {last}"));
    }
    Ok(parts.join(", "))
}

/// Appends `condition` to `sql.where_clause`. `in_and` says whether the
/// enclosing operator is AND, in which case an OR needs parentheses.
fn write_condition(
    condition: &Condition,
    in_and: bool,
    sql: &mut SqlWhere,
) -> Result<(), FilterError> {
    if let Some(Field::Custom(name, kind)) = custom_field(condition) {
        return write_custom(name, *kind, condition, sql);
    }
    match condition {
        Condition::And(left, right) => {
            write_condition(left, true, sql)?;
            sql.where_clause.push_str(" AND ");
            write_condition(right, true, sql)?;
        }
        Condition::Or(left, right) => {
            if in_and {
                sql.where_clause.push('(');
            }
            write_condition(left, false, sql)?;
            sql.where_clause.push_str(" OR ");
            write_condition(right, false, sql)?;
            if in_and {
                sql.where_clause.push(')');
            }
        }
        Condition::Compare { field, op, value } => {
            sql.where_clause
                .push_str(&format!("{} {} ?", column(field)?, operator(*op)));
            sql.params.push(param(value));
        }
        Condition::In {
            field,
            values,
            negated,
        } => {
            let not = if *negated { "NOT " } else { "" };
            let marks = vec!["?"; values.len()].join(", ");
            sql.where_clause
                .push_str(&format!("{} {not}IN ({marks})", column(field)?));
            sql.params.extend(values.iter().map(param));
        }
        Condition::Between {
            field,
            low,
            high,
            negated,
        } => {
            let not = if *negated { "NOT " } else { "" };
            sql.where_clause
                .push_str(&format!("{} {not}BETWEEN ? AND ?", column(field)?));
            sql.params.extend([param(low), param(high)]);
        }
        Condition::StartsWith {
            field,
            prefix,
            negated,
        } => {
            let not = if *negated { "NOT " } else { "" };
            sql.where_clause
                .push_str(&format!("{} {not}LIKE ? ESCAPE '\\'", column(field)?));
            sql.params.push(SqlParam::Text(like_prefix(prefix)));
        }
        Condition::IsNull { field, negated } => {
            let not = if *negated { "NOT " } else { "" };
            sql.where_clause
                .push_str(&format!("{} IS {not}NULL", column(field)?));
        }
    }
    Ok(())
}

fn custom_field(condition: &Condition) -> Option<&Field> {
    match condition {
        Condition::And(..) | Condition::Or(..) => None,
        Condition::Compare { field, .. }
        | Condition::In { field, .. }
        | Condition::Between { field, .. }
        | Condition::StartsWith { field, .. }
        | Condition::IsNull { field, .. } => Some(field).filter(|f| matches!(f, Field::Custom(..))),
    }
}

/// The `search_attributes` column holding values of a type.
fn value_column(kind: SearchAttributeType) -> &'static str {
    match kind {
        SearchAttributeType::Keyword
        | SearchAttributeType::KeywordList
        | SearchAttributeType::Text => "text_value",
        SearchAttributeType::Int | SearchAttributeType::Bool | SearchAttributeType::Datetime => {
            "int_value"
        }
        SearchAttributeType::Double => "real_value",
    }
}

/// A condition on a custom attribute: `[NOT] EXISTS` over the run's rows for it.
fn write_custom(
    name: &str,
    kind: SearchAttributeType,
    condition: &Condition,
    sql: &mut SqlWhere,
) -> Result<(), FilterError> {
    let column = value_column(kind);
    let multi_valued = matches!(
        kind,
        SearchAttributeType::KeywordList | SearchAttributeType::Text
    );
    let unsupported = |what: &str| {
        Err(FilterError::Unsupported(format!(
            "{what} is not supported for {} search attribute {name}",
            kind.name()
        )))
    };
    // The values a multi-valued attribute is matched against: the words of a Text filter.
    let members = |values: &[&Value]| -> Vec<SqlParam> {
        values
            .iter()
            .flat_map(|value| match (kind, value) {
                (SearchAttributeType::Text, Value::Str(text)) => {
                    text_words(text).into_iter().map(SqlParam::Text).collect()
                }
                _ => vec![param(value)],
            })
            .collect()
    };
    let is_in = |params: &[SqlParam]| {
        if params.is_empty() {
            "1 = 0".to_owned()
        } else {
            format!("sa.{column} IN ({})", vec!["?"; params.len()].join(", "))
        }
    };
    let (exists, predicate, params) = match condition {
        Condition::Compare { op, value, .. } if multi_valued => {
            let params = members(&[value]);
            match op {
                CompareOp::Eq => (true, is_in(&params), params),
                CompareOp::Ne => (false, is_in(&params), params),
                _ => return unsupported(&format!("operator '{}'", operator(*op))),
            }
        }
        Condition::Compare { op, value, .. } => {
            if kind == SearchAttributeType::Bool && !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                return unsupported(&format!("operator '{}'", operator(*op)));
            }
            (
                true,
                format!("sa.{column} {} ?", operator(*op)),
                vec![param(value)],
            )
        }
        Condition::In { .. } if kind == SearchAttributeType::Text => return unsupported("IN"),
        Condition::In {
            values, negated, ..
        } if multi_valued => {
            let params = members(&values.iter().collect::<Vec<_>>());
            (!negated, is_in(&params), params)
        }
        Condition::In {
            values, negated, ..
        } => {
            let not = if *negated { "NOT " } else { "" };
            let marks = vec!["?"; values.len()].join(", ");
            (
                true,
                format!("sa.{column} {not}IN ({marks})"),
                values.iter().map(param).collect(),
            )
        }
        Condition::Between { .. } if multi_valued || kind == SearchAttributeType::Bool => {
            return unsupported("BETWEEN");
        }
        Condition::Between {
            low, high, negated, ..
        } => {
            let not = if *negated { "NOT " } else { "" };
            (
                true,
                format!("sa.{column} {not}BETWEEN ? AND ?"),
                vec![param(low), param(high)],
            )
        }
        Condition::StartsWith { .. } if kind != SearchAttributeType::Keyword => {
            return unsupported("STARTS_WITH");
        }
        Condition::StartsWith {
            prefix, negated, ..
        } => {
            let not = if *negated { "NOT " } else { "" };
            (
                true,
                format!("sa.{column} {not}LIKE ? ESCAPE '\\'"),
                vec![SqlParam::Text(like_prefix(prefix))],
            )
        }
        Condition::IsNull { negated, .. } => (*negated, "1 = 1".to_owned(), Vec::new()),
        Condition::And(..) | Condition::Or(..) => unreachable!("not a condition on one field"),
    };
    let not = if exists { "" } else { "NOT " };
    sql.where_clause.push_str(&format!(
        "{not}EXISTS (SELECT 1 FROM search_attributes sa \
         WHERE sa.execution = executions.id AND sa.name = ? AND {predicate})"
    ));
    sql.params.push(SqlParam::Text(name.to_owned()));
    sql.params.extend(params);
    Ok(())
}

fn operator(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "=",
        CompareOp::Ne => "<>",
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
    }
}

/// `sql` with its `?` placeholders written PostgreSQL's way: numbered from `$first`, each
/// cast to the type of its value in `params` (so a value of the wrong type for its column is
/// refused by the database instead of silently compared as text).
pub fn numbered_placeholders(sql: &str, first: usize, params: &[SqlParam]) -> String {
    let mut numbered = String::with_capacity(sql.len() + 8 * params.len());
    let mut next = 0;
    for c in sql.chars() {
        if c != '?' {
            numbered.push(c);
            continue;
        }
        let cast = match params.get(next) {
            Some(SqlParam::Int(_)) => "int8",
            Some(SqlParam::Real(_)) => "float8",
            Some(SqlParam::Text(_)) | None => "text",
        };
        numbered.push_str(&format!("${}::{cast}", first + next));
        next += 1;
    }
    numbered
}

fn param(value: &Value) -> SqlParam {
    match value {
        Value::Int(n) => SqlParam::Int(*n),
        Value::Float(f) => SqlParam::Real(*f),
        Value::Str(s) => SqlParam::Text(s.clone()),
        Value::Bool(b) => SqlParam::Int(*b as i64),
    }
}

/// A LIKE pattern matching strings that start with `prefix`, with the LIKE
/// metacharacters (and the escape character itself) escaped by `\`.
fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;
    use SqlParam::{Int, Text};
    fn known(name: &str) -> Option<SearchAttributeType> {
        match name {
            "Color" => Some(SearchAttributeType::Keyword),
            "Tags" => Some(SearchAttributeType::KeywordList),
            "Notes" => Some(SearchAttributeType::Text),
            "Size" => Some(SearchAttributeType::Int),
            "Done" => Some(SearchAttributeType::Bool),
            _ => None,
        }
    }

    fn parse_filter(query: &str) -> Result<Filter, FilterError> {
        keel_core::visibility::parse_filter(query, &known)
    }

    fn sql(query: &str) -> SqlWhere {
        to_sql(&parse_filter(query).unwrap()).unwrap()
    }

    fn clause(query: &str) -> String {
        sql(query).where_clause
    }

    fn text(s: &str) -> SqlParam {
        Text(s.to_string())
    }

    #[test]
    fn postgres_placeholders_are_numbered_and_typed() {
        let w = sql("WorkflowId = 'a' AND HistoryLength > 3 AND StartTime BETWEEN 1 AND 2");
        assert_eq!(
            numbered_placeholders(&w.where_clause, 2, &w.params),
            "workflow_id = $2::text AND history_length > $3::int8 AND start_time BETWEEN $4::int8 AND $5::int8"
        );
    }

    #[test]
    fn empty_filter() {
        let w = sql("  ");
        assert_eq!(w.where_clause, "");
        assert_eq!(w.order_by, "start_time DESC, run_id DESC");
        assert!(w.params.is_empty());
    }

    #[test]
    fn every_field_maps_to_its_column() {
        let cases = [
            ("WorkflowId = 'x'", "workflow_id = ?"),
            ("WorkflowType = 'x'", "workflow_type = ?"),
            ("RunId = 'x'", "run_id = ?"),
            ("TaskQueue = 'x'", "task_queue = ?"),
            ("ExecutionStatus = 'Running'", "status = ?"),
            ("StartTime = 1", "start_time = ?"),
            ("CloseTime = 1", "close_time = ?"),
            ("ExecutionTime = 1", "execution_time = ?"),
            ("HistoryLength = 1", "history_length = ?"),
            ("ExecutionDuration = 1", "(close_time - start_time) = ?"),
        ];
        for (query, want) in cases {
            assert_eq!(clause(query), want, "{query}");
        }
    }

    #[test]
    fn comparison_operators() {
        for (op, want) in [
            ("=", "="),
            ("!=", "<>"),
            ("<>", "<>"),
            (">", ">"),
            (">=", ">="),
            ("<", "<"),
            ("<=", "<="),
        ] {
            assert_eq!(
                clause(&format!("HistoryLength {op} 5")),
                format!("history_length {want} ?")
            );
        }
    }

    #[test]
    fn values_are_normalised_params() {
        let w = sql(
            "ExecutionStatus = 'Failed' AND StartTime > '2024-01-02T03:04:05.5Z' AND WorkflowId = 'a'",
        );
        assert_eq!(
            w.where_clause,
            "status = ? AND start_time > ? AND workflow_id = ?"
        );
        assert_eq!(
            w.params,
            vec![Int(3), Int(1_704_164_645_500_000_000), text("a")]
        );
        let w = sql("ExecutionDuration >= '1m'");
        assert_eq!(w.params, vec![Int(60_000_000_000)]);
    }

    #[test]
    fn precedence_and_parentheses() {
        let q = "WorkflowId = 'a' OR RunId = 'b' AND WorkflowType = 'c'";
        assert_eq!(
            clause(q),
            "(workflow_id = ? OR run_id = ? AND workflow_type = ?)"
        );
        let q = "(WorkflowId = 'a' OR RunId = 'b') AND WorkflowType = 'c'";
        assert_eq!(
            clause(q),
            "(workflow_id = ? OR run_id = ?) AND workflow_type = ?"
        );
        let q = "WorkflowId = 'a' AND (RunId = 'b' OR (WorkflowType = 'c' AND TaskQueue = 'd'))";
        assert_eq!(
            clause(q),
            "workflow_id = ? AND (run_id = ? OR workflow_type = ? AND task_queue = ?)"
        );
        let w = sql(q);
        assert_eq!(w.params, vec![text("a"), text("b"), text("c"), text("d")]);
    }

    #[test]
    fn set_range_null_predicates() {
        let w = sql("ExecutionStatus IN ('Running', 'Failed', 7)");
        assert_eq!(w.where_clause, "status IN (?, ?, ?)");
        assert_eq!(w.params, vec![Int(1), Int(3), Int(7)]);
        assert_eq!(
            clause("WorkflowType NOT IN ('a')"),
            "workflow_type NOT IN (?)"
        );
        let w = sql("HistoryLength BETWEEN 10 AND 20");
        assert_eq!(w.where_clause, "history_length BETWEEN ? AND ?");
        assert_eq!(w.params, vec![Int(10), Int(20)]);
        assert_eq!(
            clause("StartTime NOT BETWEEN 1 AND 2"),
            "start_time NOT BETWEEN ? AND ?"
        );
        assert_eq!(clause("CloseTime IS NULL"), "close_time IS NULL");
        assert_eq!(
            clause("ExecutionDuration IS NOT NULL"),
            "(close_time - start_time) IS NOT NULL"
        );
        assert!(sql("CloseTime IS NULL").params.is_empty());
    }

    #[test]
    fn starts_with_escapes_like_metacharacters() {
        let w = sql("WorkflowId STARTS_WITH 'order-'");
        assert_eq!(w.where_clause, r"workflow_id LIKE ? ESCAPE '\'");
        assert_eq!(w.params, vec![text("order-%")]);
        let w = sql(r"WorkflowType NOT STARTS_WITH '50%_off\\'");
        assert_eq!(w.where_clause, r"workflow_type NOT LIKE ? ESCAPE '\'");
        assert_eq!(w.params, vec![text(r"50\%\_off\\%")]);
        assert_eq!(sql("RunId STARTS_WITH ''").params, vec![text("%")]);
    }

    #[test]
    fn values_never_reach_the_sql_text() {
        let w = sql("WorkflowId = 'x''; DROP TABLE executions; --' OR RunId IN (\"1 OR 1=1\")");
        assert_eq!(w.where_clause, "(workflow_id = ? OR run_id IN (?))");
        assert_eq!(
            w.params,
            vec![text("x'; DROP TABLE executions; --"), text("1 OR 1=1")]
        );
    }

    #[test]
    fn order_by() {
        assert_eq!(
            sql("ORDER BY StartTime ASC").order_by,
            "start_time ASC, run_id ASC"
        );
        assert_eq!(
            sql("WorkflowId = 'a' ORDER BY CloseTime DESC, HistoryLength").order_by,
            "close_time DESC NULLS LAST, history_length ASC, run_id ASC"
        );
        assert_eq!(
            sql("ORDER BY ExecutionDuration DESC, RunId ASC").order_by,
            "(close_time - start_time) DESC NULLS LAST, run_id ASC"
        );
    }

    #[test]
    fn custom_attributes_are_matched_through_their_rows() {
        let exists = |predicate: &str| {
            format!(
                "EXISTS (SELECT 1 FROM search_attributes sa WHERE sa.execution = executions.id \
                 AND sa.name = ? AND {predicate})"
            )
        };
        let w = sql("Color = 'red' AND Size >= 3");
        assert_eq!(
            w.where_clause,
            format!(
                "{} AND {}",
                exists("sa.text_value = ?"),
                exists("sa.int_value >= ?")
            )
        );
        assert_eq!(
            w.params,
            vec![text("Color"), text("red"), text("Size"), Int(3)]
        );

        // Multi-valued attributes: "holds none of these" for the negations.
        let w = sql("Tags != 'a' OR Notes = 'Quick, brown'");
        assert_eq!(
            w.where_clause,
            format!(
                "(NOT {} OR {})",
                exists("sa.text_value IN (?)"),
                exists("sa.text_value IN (?, ?)")
            )
        );
        assert_eq!(
            w.params,
            vec![
                text("Tags"),
                text("a"),
                text("Notes"),
                text("brown"),
                text("quick")
            ]
        );
        assert_eq!(clause("Size IS NULL"), format!("NOT {}", exists("1 = 1")));
        assert_eq!(clause("Done = true"), exists("sa.int_value = ?"));
    }

    #[test]
    fn custom_attributes_refuse_operators_their_type_lacks() {
        let cases = [
            (
                "Tags > 'a'",
                "operator '>' is not supported for KeywordList search attribute Tags",
            ),
            (
                "Notes IN ('a')",
                "IN is not supported for Text search attribute Notes",
            ),
            (
                "Done BETWEEN false AND true",
                "BETWEEN is not supported for Bool search attribute Done",
            ),
        ];
        for (query, message) in cases {
            let err = to_sql(&parse_filter(query).unwrap()).unwrap_err();
            assert!(matches!(err, FilterError::Unsupported(_)));
            assert_eq!(err.to_string(), message);
        }
    }

    #[test]
    fn hand_built_filters_with_other_value_types() {
        let filter = Filter {
            condition: Some(Condition::Compare {
                field: Field::HistoryLength,
                op: CompareOp::Lt,
                value: Value::Float(2.5),
            }),
            order_by: vec![],
        };
        assert_eq!(to_sql(&filter).unwrap().params, vec![SqlParam::Real(2.5)]);
    }
}
