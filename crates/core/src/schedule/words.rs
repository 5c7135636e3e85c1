//! A schedule's spec in words, for people: "every 1h 30m", "at 09:00 on Mon–Fri (Europe/Paris)".
//! One rule, used by the REST API, the CLI and the UI alike.

use std::time::Duration;

use super::spec::{Calendar, Range, Spec};

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl Spec {
    /// The spec as a sentence: its intervals and calendars joined by "; ", then exclusions,
    /// bounds and jitter.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .intervals
            .iter()
            .map(|interval| {
                let mut text = format!("every {}", duration(interval.every));
                if !interval.phase.is_zero() {
                    text.push_str(&format!(" (offset {})", duration(interval.phase)));
                }
                text
            })
            .collect();
        parts.extend(self.calendars.iter().map(|c| calendar(c, &self.time_zone)));
        if parts.is_empty() {
            return "only when triggered or backfilled".into();
        }
        let mut text = parts.join("; ");
        if !self.exclude.is_empty() {
            let excluded: Vec<String> = self
                .exclude
                .iter()
                .map(|c| calendar(c, &self.time_zone))
                .collect();
            text.push_str(&format!(", except {}", excluded.join(" or ")));
        }
        if !self.jitter.is_zero() {
            text.push_str(&format!(", up to {} late (jitter)", duration(self.jitter)));
        }
        text
    }
}

fn calendar(calendar: &Calendar, spec_zone: &str) -> String {
    if !calendar.comment.is_empty() {
        return calendar.comment.clone();
    }
    let number = |value: i32| format!("{value:02}");
    let hour = field(&calendar.hour, number, "every hour");
    let minute = field(&calendar.minute, number, "every minute");
    let mut text = format!("at {hour}:{minute}");
    if calendar.second.iter().any(|r| *r != single(0)) {
        text.push_str(&format!(
            ":{}",
            field(&calendar.second, number, "every second")
        ));
    }
    if !calendar.day_of_week.is_empty() {
        let day = |value: i32| DAYS[value.rem_euclid(7) as usize].to_owned();
        text.push_str(&format!(
            " on {}",
            field(&calendar.day_of_week, day, "any day")
        ));
    }
    if !calendar.day_of_month.is_empty() {
        text.push_str(&format!(
            " on day {} of the month",
            field(&calendar.day_of_month, |v| v.to_string(), "any")
        ));
    }
    if !calendar.month.is_empty() {
        let month = |value: i32| MONTHS[(value - 1).clamp(0, 11) as usize].to_owned();
        text.push_str(&format!(
            " in {}",
            field(&calendar.month, month, "any month")
        ));
    }
    if !calendar.year.is_empty() {
        text.push_str(&format!(
            " in {}",
            field(&calendar.year, |v| v.to_string(), "any year")
        ));
    }
    let zone = if calendar.time_zone.is_empty() {
        spec_zone
    } else {
        &calendar.time_zone
    };
    text.push_str(&format!(
        " ({})",
        if zone.is_empty() { "UTC" } else { zone }
    ));
    text
}

fn single(value: i32) -> Range {
    Range {
        start: value,
        end: value,
        step: 1,
    }
}

/// A field's ranges: "09", "Mon–Fri", "every 15 from 00", "00, 30"; an empty field is its
/// default for hour/minute/second (0), so callers pass what "all" means.
fn field(ranges: &[Range], name: impl Fn(i32) -> String, all: &str) -> String {
    if ranges.is_empty() {
        return name(0);
    }
    ranges
        .iter()
        .map(|range| {
            let end = range.end.max(range.start);
            let step = range.step.max(1);
            match (end == range.start, step) {
                (true, _) => name(range.start),
                (false, 1) => format!("{}–{}", name(range.start), name(end)),
                (false, step) if range.start == 0 && end >= 59 => {
                    format!("every {step} from {}", name(0))
                }
                (false, step) => {
                    format!("every {step} from {} to {}", name(range.start), name(end))
                }
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
        .replace(&format!("{}–{}", name(0), name(59)), all)
        .replace(&format!("{}–{}", name(0), name(23)), all)
}

/// "90s" → "1m 30s", "1h" → "1h", "86400s" → "1d".
fn duration(duration: Duration) -> String {
    let mut seconds = duration.as_secs();
    if seconds == 0 {
        return format!("{}ms", duration.as_millis());
    }
    let mut parts = Vec::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if seconds >= size {
            parts.push(format!("{}{unit}", seconds / size));
            seconds %= size;
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::spec::Interval;

    fn range(start: i32, end: i32, step: i32) -> Range {
        Range { start, end, step }
    }

    #[test]
    fn specs_in_words() {
        let spec = Spec {
            intervals: vec![
                Interval {
                    every: Duration::from_secs(5400),
                    phase: Duration::ZERO,
                },
                Interval {
                    every: Duration::from_secs(86_400),
                    phase: Duration::from_secs(3_600),
                },
            ],
            calendars: vec![Calendar {
                hour: vec![single(9)],
                minute: vec![single(30)],
                day_of_week: vec![range(1, 5, 1)],
                ..Calendar::default()
            }],
            time_zone: "Europe/Paris".into(),
            ..Spec::default()
        };
        assert_eq!(
            spec.describe(),
            "every 1h 30m; every 1d (offset 1h); at 09:30 on Mon–Fri (Europe/Paris)"
        );
        let every_quarter = Spec {
            calendars: vec![Calendar {
                hour: vec![range(0, 23, 1)],
                minute: vec![range(0, 59, 15)],
                month: vec![single(1), single(7)],
                comment: String::new(),
                ..Calendar::default()
            }],
            exclude: vec![Calendar {
                comment: "public holidays".into(),
                ..Calendar::default()
            }],
            jitter: Duration::from_secs(30),
            ..Spec::default()
        };
        assert_eq!(
            every_quarter.describe(),
            "at every hour:every 15 from 00 in Jan, Jul (UTC), except public holidays, up to 30s late (jitter)"
        );
    }
}
