//! Builds a [`Filter`] from tokens: OR over AND over predicates and parenthesised groups,
//! then an optional ORDER BY. Each literal is checked against its field as it is read.

use super::lexer::{Tok, Token, syntax};
use super::values::normalize;
use super::{Condition, Direction, Field, Filter, FilterError, Kind, SortKey, Value};
use crate::search::SearchAttributeType;

const KEYWORDS: [&str; 15] = [
    "GROUP",
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

/// A whole query: an optional condition, then an optional ORDER BY, then its end.
pub(super) fn parse(
    tokens: Vec<Token>,
    attributes: &dyn Fn(&str) -> Option<SearchAttributeType>,
) -> Result<Filter, FilterError> {
    let (filter, group_by) = parse_with_grouping(tokens, attributes)?;
    if group_by.is_some() {
        return Err(FilterError::Unsupported(
            "GROUP BY is allowed only when counting executions".into(),
        ));
    }
    Ok(filter)
}

/// A count query: an optional condition, then an optional `GROUP BY ExecutionStatus` or an
/// ORDER BY, then its end.
pub(super) fn parse_with_grouping(
    tokens: Vec<Token>,
    attributes: &dyn Fn(&str) -> Option<SearchAttributeType>,
) -> Result<(Filter, Option<Field>), FilterError> {
    let mut p = Parser {
        toks: tokens,
        i: 0,
        attributes,
    };
    let mut filter = Filter::default();
    if p.peek().tok != Tok::Eof && !p.is_kw("ORDER") && !p.is_kw("GROUP") {
        filter.condition = Some(p.or_expr()?);
    }
    let mut group_by = None;
    if p.eat_kw("GROUP") {
        p.expect_kw("BY")?;
        let (field, pos) = p.field()?;
        // As Temporal's SQL visibility: executions group by their status only.
        if field != Field::ExecutionStatus {
            return Err(FilterError::Unsupported(format!(
                "GROUP BY {} (position {pos}) is not supported; executions group by ExecutionStatus",
                field.name()
            )));
        }
        group_by = Some(field);
    }
    if group_by.is_none() && p.eat_kw("ORDER") {
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
            filter.order_by.push(SortKey::new(field, dir));
            if !p.eat(&Tok::Comma) {
                break;
            }
        }
    }
    if p.peek().tok != Tok::Eof {
        let expected = if group_by.is_some() {
            "end of query"
        } else {
            "AND, OR, GROUP BY, ORDER BY or end of query"
        };
        return Err(p.unexpected(expected));
    }
    Ok((filter, group_by))
}

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

#[cfg(test)]
mod tests {
    use crate::search::SearchAttributeType;
    use crate::visibility::tests::{and, cond, eq, err, or, parse_filter, s};
    use crate::visibility::{
        CompareOp, Condition, Direction, Field, Filter, FilterError, SortKey, Value,
    };

    #[test]
    fn counts_group_by_execution_status_only() {
        let attributes = |_: &str| None;
        let (filter, group_by) = crate::visibility::parse_count_filter(
            "WorkflowType = 'a' GROUP BY ExecutionStatus",
            &attributes,
        )
        .unwrap();
        assert_eq!(filter.condition, Some(eq(Field::WorkflowType, s("a"))));
        assert_eq!(group_by, Some(Field::ExecutionStatus));
        let (filter, group_by) =
            crate::visibility::parse_count_filter("group by ExecutionStatus", &attributes).unwrap();
        assert_eq!(
            (filter, group_by),
            (Filter::default(), Some(Field::ExecutionStatus))
        );
        let refused = |query: &str| {
            crate::visibility::parse_count_filter(query, &attributes)
                .unwrap_err()
                .to_string()
        };
        assert!(refused("GROUP BY WorkflowType").contains("group by ExecutionStatus"));
        assert!(refused("GROUP BY ExecutionStatus ORDER BY StartTime").contains("end of query"));
        assert!(err("GROUP BY ExecutionStatus").contains("only when counting"));
    }

    #[test]
    fn empty_query_has_no_condition() {
        assert_eq!(parse_filter("").unwrap(), Filter::default());
        assert_eq!(parse_filter("  \t\n ").unwrap(), Filter::default());
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
                SortKey::new(Field::StartTime, Direction::Desc),
                SortKey::new(Field::RunId, Direction::Asc),
                SortKey::new(Field::HistoryLength, Direction::Asc)
            ]
        );
        let f = parse_filter("order by CloseTime desc").unwrap();
        assert_eq!(f.condition, None);
        assert_eq!(
            f.order_by,
            vec![SortKey::new(Field::CloseTime, Direction::Desc)]
        );
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
    fn syntax_errors() {
        let cases = [
            ("WorkflowId =~ 'x'", "unknown operator '=~' at position 12"),
            ("WorkflowId == 'x'", "unknown operator '==' at position 12"),
            ("(WorkflowId = 'x'", "expected ')' at end of query"),
            (
                "WorkflowId = 'x')",
                "expected AND, OR, GROUP BY, ORDER BY or end of query but found ')' at position 17",
            ),
            (
                "WorkflowId = 'x' RunId = 'y'",
                "expected AND, OR, GROUP BY, ORDER BY or end of query but found 'RunId' at position 18",
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
}
