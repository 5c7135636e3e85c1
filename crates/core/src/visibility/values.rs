//! Checks each literal against the field it is compared with, and normalises it: status and
//! phase names become their codes, timestamps unix nanoseconds, durations nanoseconds, and a
//! custom attribute's value its attribute's type.

use chrono::format::ParseErrorKind;
use chrono::{DateTime, NaiveDate, NaiveTime};

use super::{Field, FilterError, Kind, Value};
use crate::overview::Phase;
use crate::search::SearchAttributeType;

/// Workflow execution status names, in code order (Running = 1).
pub const STATUSES: [&str; 7] = [
    "Running",
    "Completed",
    "Failed",
    "Canceled",
    "Terminated",
    "ContinuedAsNew",
    "TimedOut",
];

fn describe(v: &Value) -> String {
    match v {
        Value::Int(n) => format!("number {n}"),
        Value::Float(f) => format!("number {f}"),
        Value::Str(s) => format!("string '{s}'"),
        Value::Bool(b) => format!("boolean {b}"),
    }
}

pub(super) fn normalize(field: &Field, raw: Value, pos: usize) -> Result<Value, FilterError> {
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

const EXPECTED_RFC3339: &str = "expected format YYYY-MM-DDTHH:MM:SS[.frac](Z|±hh:mm)";

/// Parses an RFC3339 timestamp (`2024-01-02T03:04:05.123Z`, `...+05:30`)
/// into unix nanoseconds. Digits beyond nanosecond precision are truncated.
pub fn parse_rfc3339_nanos(s: &str) -> Result<i64, String> {
    // chrono also takes U+2212 (minus sign) before an offset; Temporal's parser does not.
    if !s.is_ascii() {
        return Err(EXPECTED_RFC3339.to_string());
    }
    let at = DateTime::parse_from_rfc3339(s).map_err(|error| why_refused(s, error))?;
    // chrono reads second 60 as a leap second (second 59 and a whole second of nanoseconds);
    // unix time has none, and Temporal (Go's time.Parse) refuses it too.
    if at.timestamp_subsec_nanos() >= 1_000_000_000 {
        return Err("no such time of day".to_string());
    }
    at.timestamp_nanos_opt()
        .ok_or_else(|| "out of range (years 1678..2261 only)".to_string())
}

/// Names what is wrong with a timestamp chrono refused.
fn why_refused(s: &str, error: chrono::ParseError) -> String {
    if error.kind() != ParseErrorKind::OutOfRange {
        return EXPECTED_RFC3339.to_string();
    }
    // Well-formed, but something does not exist. chrono checks the date, then the time of
    // day, then the offset, so the first of them that does not exist is the one to name.
    let date = s
        .get(..10)
        .map(|text| NaiveDate::parse_from_str(text, "%Y-%m-%d"));
    let time = s
        .get(11..19)
        .map(|text| NaiveTime::parse_from_str(text, "%H:%M:%S"));
    match (date, time) {
        (Some(Err(_)), _) => "no such date",
        (_, Some(Err(_))) => "no such time of day",
        _ => "invalid UTC offset",
    }
    .to_string()
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
    use crate::visibility::tests::{cond, eq, err};
    use crate::visibility::{CompareOp, Condition};

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
    /// `days_from_civil`; valid for any year that fits): counted independently of chrono, so
    /// that the property test below checks the parser against arithmetic of its own.
    fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400; // [0, 399]
        let mp = (m as i64 + 9) % 12; // March = 0 ... February = 11
        let doy = (153 * mp + 2) / 5 + d as i64 - 1; // [0, 365]
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
        era * 146_097 + doe - 719_468
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

    proptest::proptest! {
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
