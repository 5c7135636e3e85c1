//! Cron schedules as Temporal accepts them on a workflow start: five fields (minute, hour,
//! day of month, month, day of week; UTC unless prefixed with `CRON_TZ=<IANA zone>`), the
//! `@hourly`/`@daily`/`@weekly`/`@monthly`/`@yearly` names, or `@every <duration>` (for
//! example `@every 90s`, `@every 1h30m`).

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::types::Time;

#[derive(Clone, Debug)]
pub enum CronSchedule {
    Calendar(Box<croner::Cron>, chrono_tz::Tz),
    Every(Duration),
}

impl CronSchedule {
    pub fn parse(spec: &str) -> Result<CronSchedule, String> {
        let full = spec.trim();
        let invalid = |why: &str| format!("invalid cron schedule '{full}': {why}");
        let mut spec = full;
        let mut zone = chrono_tz::Tz::UTC;
        for prefix in ["CRON_TZ=", "TZ="] {
            if let Some(rest) = spec.strip_prefix(prefix) {
                let (name, rest) = rest.split_once(' ').unwrap_or((rest, ""));
                zone = crate::schedule::spec::time_zone(name).map_err(|why| invalid(&why))?;
                spec = rest.trim();
            }
        }
        if let Some(interval) = spec.strip_prefix("@every") {
            let every = parse_go_duration(interval.trim()).map_err(|why| invalid(&why))?;
            if every < Duration::from_secs(1) {
                return Err(invalid("the interval must be at least one second"));
            }
            return Ok(CronSchedule::Every(every));
        }
        if spec.split_whitespace().count() > 5 && !spec.starts_with('@') {
            return Err(invalid(
                "expected five fields: minute hour day-of-month month day-of-week",
            ));
        }
        let cron = croner::Cron::new(spec)
            .parse()
            .map_err(|error| invalid(&error.to_string()))?;
        Ok(CronSchedule::Calendar(Box::new(cron), zone))
    }

    /// The first time the schedule fires strictly after `after`.
    pub fn next_after(&self, after: Time) -> Option<Time> {
        match self {
            CronSchedule::Every(every) => Some(after.plus(*every)),
            CronSchedule::Calendar(cron, zone) => {
                let at = DateTime::<Utc>::from_timestamp(
                    after.0.div_euclid(1_000_000_000),
                    after.0.rem_euclid(1_000_000_000) as u32,
                )?
                .with_timezone(zone);
                let next = cron.find_next_occurrence(&at, false).ok()?;
                Some(Time(next.timestamp_nanos_opt()?))
            }
        }
    }
}

/// Go's duration syntax, as Temporal's `@every` takes it: a sequence of numbers with units
/// `h`, `m`, `s`, `ms` (for example `1h30m`, `90s`).
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    if text.is_empty() {
        return Err("a duration is required, such as 30s or 1h".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("'{text}' is not a duration such as 30s or 1h"));
        }
        let amount: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("'{text}' is too large"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "h" => Duration::from_secs(3600),
            "m" => Duration::from_secs(60),
            "s" => Duration::from_secs(1),
            "ms" => Duration::from_millis(1),
            other => {
                return Err(format!(
                    "unknown unit '{other}' in '{text}' (use h, m, s, ms)"
                ));
            }
        };
        total += unit * u32::try_from(amount).map_err(|_| format!("'{text}' is too large"))?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> Time {
        let t = DateTime::parse_from_rfc3339(rfc3339).unwrap();
        Time(t.timestamp_nanos_opt().unwrap())
    }

    #[test]
    fn calendar_schedules_fire_on_their_next_match() {
        let hourly = CronSchedule::parse("0 * * * *").unwrap();
        assert_eq!(
            hourly.next_after(at("2026-11-23T10:15:00Z")),
            Some(at("2026-11-23T11:00:00Z"))
        );
        assert_eq!(
            hourly.next_after(at("2026-11-23T11:00:00Z")),
            Some(at("2026-11-23T12:00:00Z")),
            "strictly after"
        );
        let daily = CronSchedule::parse("@daily").unwrap();
        assert_eq!(
            daily.next_after(at("2026-11-23T10:15:00Z")),
            Some(at("2026-11-24T00:00:00Z"))
        );
        let minutely = CronSchedule::parse("* * * * *").unwrap();
        assert_eq!(
            minutely.next_after(at("2026-11-23T10:15:30.5Z")),
            Some(at("2026-11-23T10:16:00Z"))
        );
    }

    #[test]
    fn a_cron_tz_prefix_reads_the_schedule_in_that_zone() {
        let tokyo_nine = CronSchedule::parse("CRON_TZ=Asia/Tokyo 0 9 * * *").unwrap();
        assert_eq!(
            tokyo_nine.next_after(at("2026-11-23T01:00:00Z")),
            Some(at("2026-11-24T00:00:00Z"))
        );
        let error = CronSchedule::parse("CRON_TZ=Atlantis/Deep 0 9 * * *").unwrap_err();
        assert!(
            error.contains("unknown time zone 'Atlantis/Deep'"),
            "{error}"
        );
    }

    #[test]
    fn every_adds_its_interval() {
        let every = CronSchedule::parse("@every 1h30m").unwrap();
        assert_eq!(
            every.next_after(at("2026-11-23T10:00:00Z")),
            Some(at("2026-11-23T11:30:00Z"))
        );
        assert_eq!(parse_go_duration("1500ms"), Ok(Duration::from_millis(1500)));
    }

    #[test]
    fn bad_schedules_say_what_is_wrong() {
        for bad in [
            "",
            "* * *",
            "61 * * * *",
            "@every",
            "@every 5x",
            "@every 0s",
            "1 2 3 4 5 6 7",
        ] {
            let error = CronSchedule::parse(bad).expect_err(bad);
            assert!(error.contains("invalid cron schedule"), "{error}");
        }
    }
}
