//! Splits a query into tokens: words, `quoted names`, strings, numbers, comparison operators
//! and punctuation. Each token keeps its 1-based character column for error messages.

use super::{CompareOp, FilterError};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
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
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) pos: usize,
}

pub(super) fn syntax(msg: String) -> FilterError {
    FilterError::Syntax(msg)
}

pub(super) fn lex(query: &str) -> Result<Vec<Token>, FilterError> {
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

#[cfg(test)]
mod tests {
    use crate::visibility::tests::{cond, eq, s};
    use crate::visibility::{CompareOp, Condition, Field, Value};

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
}
