//! When a schedule fires: calendars (ranges of seconds, minutes, hours, days, months, years
//! and days of the week, read in the spec's time zone, UTC by default), cron strings (turned
//! into calendars; `CRON_TZ=` gives one its own zone) and fixed intervals with a phase, less
//! excluded calendars, within an optional start and end.
//!
//! Around daylight-saving changes a calendar time that does not exist locally (skipped by
//! the clocks going forward) does not fire, and one that exists twice (the clocks going
//! back) fires at its first occurrence.

use std::time::Duration;

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::types::Time;

const SECOND: i64 = 1_000_000_000;
/// How far ahead a calendar is searched for its next match.
const HORIZON_DAYS: i64 = 366 * 10;

/// `start..=end` every `step` (an `end` below `start` means `start` alone; a zero step is 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub start: i32,
    pub end: i32,
    pub step: i32,
}

impl Range {
    fn contains(&self, value: i32) -> bool {
        let end = self.end.max(self.start);
        let step = self.step.max(1);
        value >= self.start && value <= end && (value - self.start) % step == 0
    }
}

/// A calendar: a time matches when every field holds its value. An empty field takes the
/// default: second, minute and hour 0; any day, month, year and day of the week.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calendar {
    pub second: Vec<Range>,
    pub minute: Vec<Range>,
    pub hour: Vec<Range>,
    pub day_of_month: Vec<Range>,
    pub month: Vec<Range>,
    pub year: Vec<Range>,
    /// 0 is Sunday.
    pub day_of_week: Vec<Range>,
    pub comment: String,
    /// An IANA zone of its own (a cron string's `CRON_TZ=`); empty: the spec's.
    #[serde(default)]
    pub time_zone: String,
}

/// Fires at every `phase + k * every` since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interval {
    pub every: Duration,
    pub phase: Duration,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    pub calendars: Vec<Calendar>,
    pub intervals: Vec<Interval>,
    pub exclude: Vec<Calendar>,
    pub start_time: Option<Time>,
    pub end_time: Option<Time>,
    pub jitter: Duration,
    /// The IANA zone calendars are read in; empty: UTC.
    #[serde(default)]
    pub time_zone: String,
}

/// An IANA time zone by name; empty is UTC.
pub fn time_zone(name: &str) -> Result<Tz, String> {
    if name.is_empty() {
        return Ok(Tz::UTC);
    }
    name.parse::<Tz>()
        .map_err(|_| format!("unknown time zone '{name}'"))
}

impl Spec {
    /// Checks the spec's parts are in range. A spec with no times at all is valid, as in
    /// Temporal: its schedule acts only when triggered or backfilled.
    pub fn validate(&self) -> Result<(), String> {
        for interval in &self.intervals {
            if interval.every < Duration::from_secs(1) {
                return Err("a schedule interval must be at least one second".into());
            }
            if interval.phase >= interval.every {
                return Err("a schedule interval's phase must be shorter than the interval".into());
            }
        }
        time_zone(&self.time_zone)?;
        for calendar in self.calendars.iter().chain(&self.exclude) {
            calendar.validate()?;
            time_zone(&calendar.time_zone)?;
        }
        if let (Some(start), Some(end)) = (self.start_time, self.end_time)
            && end < start
        {
            return Err("a schedule's end time is before its start time".into());
        }
        Ok(())
    }

    /// The first time the spec fires strictly after `after`, without jitter.
    pub fn next_after(&self, after: Time) -> Option<Time> {
        let mut after = match self.start_time {
            Some(start) if start.0 > after.0 => Time(start.0 - 1),
            _ => after,
        };
        let spec_zone = time_zone(&self.time_zone).unwrap_or(Tz::UTC);
        let zone = |calendar: &Calendar| {
            if calendar.time_zone.is_empty() {
                spec_zone
            } else {
                time_zone(&calendar.time_zone).unwrap_or(spec_zone)
            }
        };
        loop {
            let candidate = self
                .calendars
                .iter()
                .filter_map(|calendar| calendar.next_after_in(after, zone(calendar)))
                .chain(
                    self.intervals
                        .iter()
                        .map(|interval| interval.next_after(after)),
                )
                .min()?;
            if self.end_time.is_some_and(|end| candidate > end) {
                return None;
            }
            if !self
                .exclude
                .iter()
                .any(|calendar| calendar.matches_in(candidate, zone(calendar)))
            {
                return Some(candidate);
            }
            after = candidate;
        }
    }

    /// Every time the spec fires in `from..=to`, at most `limit` of them.
    pub fn times_between(&self, from: Time, to: Time, limit: usize) -> Vec<Time> {
        let mut times = Vec::new();
        let mut after = Time(from.0 - 1);
        while times.len() < limit {
            match self.next_after(after) {
                Some(next) if next <= to => {
                    times.push(next);
                    after = next;
                }
                _ => break,
            }
        }
        times
    }
}

impl Interval {
    fn next_after(&self, after: Time) -> Time {
        let every = self.every.as_nanos() as i64;
        let phase = self.phase.as_nanos() as i64;
        let k = (after.0 - phase).div_euclid(every) + 1;
        Time(phase + k * every)
    }
}

/// The allowed values of each field, as bit sets.
struct Fields {
    second: u64,
    minute: u64,
    hour: u64,
    day_of_month: u64,
    month: u64,
    day_of_week: u64,
}

fn bits(ranges: &[Range], low: i32, high: i32, default: Option<i32>) -> u64 {
    let mut set = 0u64;
    if ranges.is_empty() {
        match default {
            Some(value) => return 1 << value,
            None => {
                for value in low..=high {
                    set |= 1 << value;
                }
                return set;
            }
        }
    }
    for value in low..=high {
        if ranges.iter().any(|range| range.contains(value)) {
            set |= 1 << value;
        }
    }
    set
}

impl Calendar {
    fn validate(&self) -> Result<(), String> {
        let fields: [(&str, &[Range], i32, i32); 7] = [
            ("second", &self.second, 0, 59),
            ("minute", &self.minute, 0, 59),
            ("hour", &self.hour, 0, 23),
            ("day of month", &self.day_of_month, 1, 31),
            ("month", &self.month, 1, 12),
            ("year", &self.year, 1970, 9999),
            ("day of week", &self.day_of_week, 0, 7),
        ];
        for (name, ranges, low, high) in fields {
            for range in ranges {
                let end = range.end.max(range.start);
                if range.start < low || end > high || range.step < 0 {
                    return Err(format!(
                        "the {name} range {}-{end} is outside {low}-{high}",
                        range.start
                    ));
                }
            }
        }
        Ok(())
    }

    fn fields(&self) -> Fields {
        // Day of week 7 is Sunday too.
        let mut day_of_week = bits(&self.day_of_week, 0, 7, None);
        if day_of_week & (1 << 7) != 0 {
            day_of_week |= 1;
        }
        Fields {
            second: bits(&self.second, 0, 59, Some(0)),
            minute: bits(&self.minute, 0, 59, Some(0)),
            hour: bits(&self.hour, 0, 23, Some(0)),
            day_of_month: bits(&self.day_of_month, 1, 31, None),
            month: bits(&self.month, 1, 12, None),
            day_of_week,
        }
    }

    fn year_matches(&self, year: i32) -> bool {
        self.year.is_empty() || self.year.iter().any(|range| range.contains(year))
    }

    fn day_matches(&self, fields: &Fields, date: NaiveDate) -> bool {
        self.year_matches(date.year())
            && fields.month & (1 << date.month()) != 0
            && fields.day_of_month & (1 << date.day()) != 0
            && fields.day_of_week & (1 << date.weekday().num_days_from_sunday()) != 0
    }

    /// Whether `time`, read in `zone`, matches.
    pub fn matches_in(&self, time: Time, zone: Tz) -> bool {
        let Some(at) = datetime(time) else {
            return false;
        };
        let at = at.with_timezone(&zone).naive_local();
        let fields = self.fields();
        time.0.rem_euclid(SECOND) == 0
            && self.day_matches(&fields, at.date())
            && fields.hour & (1 << at.hour()) != 0
            && fields.minute & (1 << at.minute()) != 0
            && fields.second & (1 << at.second()) != 0
    }

    /// The first matching whole second strictly after `after`, in UTC.
    pub fn next_after(&self, after: Time) -> Option<Time> {
        self.next_after_in(after, Tz::UTC)
    }

    /// The first whole second strictly after `after` whose local time in `zone` matches.
    pub fn next_after_in(&self, after: Time, zone: Tz) -> Option<Time> {
        let fields = self.fields();
        // The first whole second after `after`.
        let first = Time((after.0.div_euclid(SECOND) + 1) * SECOND);
        let start = datetime(first)?.with_timezone(&zone).naive_local();
        let mut date = start.date();
        let mut from_second = start.num_seconds_from_midnight() as i64;
        for _ in 0..HORIZON_DAYS {
            if self.day_matches(&fields, date) {
                while let Some(second) = first_second_of_day(&fields, from_second) {
                    let local = date.and_hms_opt(0, 0, 0)? + chrono::Duration::seconds(second);
                    let instants = match zone.from_local_datetime(&local) {
                        LocalResult::Single(at) => vec![at],
                        LocalResult::Ambiguous(earlier, later) => vec![earlier, later],
                        // Skipped by a clock change: it does not happen that day.
                        LocalResult::None => vec![],
                    };
                    if let Some(at) = instants
                        .into_iter()
                        .map(|at| Time(at.timestamp() * SECOND))
                        .find(|at| *at >= first)
                    {
                        return Some(at);
                    }
                    from_second = second + 1;
                }
            }
            date = date.succ_opt()?;
            from_second = 0;
        }
        None
    }
}

/// The first second of a day at or after `from` whose hour, minute and second match.
fn first_second_of_day(fields: &Fields, from: i64) -> Option<i64> {
    for hour in (from / 3600)..24 {
        if fields.hour & (1 << hour) == 0 {
            continue;
        }
        for minute in 0..60 {
            if fields.minute & (1 << minute) == 0 {
                continue;
            }
            for second in 0..60 {
                let at = hour * 3600 + minute * 60 + second;
                if at >= from && fields.second & (1 << second) != 0 {
                    return Some(at);
                }
            }
        }
    }
    None
}

fn datetime(time: Time) -> Option<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp(time.0.div_euclid(SECOND), time.0.rem_euclid(SECOND) as u32)
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// Which field a range string is for: its bounds and the names it may use.
#[derive(Clone, Copy)]
pub enum Field {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    Year,
    DayOfWeek,
}

impl Field {
    fn bounds(self) -> (i32, i32) {
        match self {
            Field::Second | Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::Year => (1970, 9999),
            Field::DayOfWeek => (0, 7),
        }
    }

    fn value(self, text: &str) -> Option<i32> {
        if let Ok(number) = text.parse() {
            return Some(number);
        }
        let lower = text.to_ascii_lowercase();
        let name = lower.get(..3)?;
        match self {
            Field::Month => MONTHS.iter().position(|m| *m == name).map(|i| i as i32 + 1),
            Field::DayOfWeek => DAYS.iter().position(|d| *d == name).map(|i| i as i32),
            _ => None,
        }
    }
}

/// Parses a range string of Temporal's CalendarSpec: comma-separated items, each `*`,
/// `n`, `n-m`, optionally with `/step` (`*/15`, `10-50/10`, `5/20`); months and days of
/// the week may be named (`jan`, `mon-fri`). An empty string is the field's default.
pub fn parse_ranges(text: &str, field: Field) -> Result<Vec<Range>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let (low, high) = field.bounds();
    let mut ranges = Vec::new();
    for item in text.split(',') {
        let invalid = || format!("invalid range '{item}' in '{text}'");
        let (span, step) = match item.split_once('/') {
            Some((span, step)) => (span, step.parse::<i32>().map_err(|_| invalid())?),
            None => (item, 1),
        };
        if step < 1 {
            return Err(invalid());
        }
        let (start, end) = if span == "*" || span == "?" {
            (
                low,
                if matches!(field, Field::DayOfWeek) {
                    6
                } else {
                    high
                },
            )
        } else if let Some((a, b)) = span.split_once('-') {
            (
                field.value(a).ok_or_else(invalid)?,
                field.value(b).ok_or_else(invalid)?,
            )
        } else {
            let start = field.value(span).ok_or_else(invalid)?;
            // `5/20` runs from 5 to the end of the field.
            (start, if item.contains('/') { high } else { start })
        };
        if start < low || end > high || end < start {
            return Err(format!("range '{item}' is outside {low}-{high}"));
        }
        ranges.push(Range { start, end, step });
    }
    Ok(ranges)
}

/// The seven range strings of a CalendarSpec, as a calendar.
#[allow(clippy::too_many_arguments)]
pub fn calendar_of(
    second: &str,
    minute: &str,
    hour: &str,
    day_of_month: &str,
    month: &str,
    year: &str,
    day_of_week: &str,
    comment: &str,
) -> Result<Calendar, String> {
    Ok(Calendar {
        second: parse_ranges(second, Field::Second)?,
        minute: parse_ranges(minute, Field::Minute)?,
        hour: parse_ranges(hour, Field::Hour)?,
        day_of_month: parse_ranges(day_of_month, Field::DayOfMonth)?,
        month: parse_ranges(month, Field::Month)?,
        year: parse_ranges(year, Field::Year)?,
        day_of_week: parse_ranges(day_of_week, Field::DayOfWeek)?,
        comment: comment.to_owned(),
        time_zone: String::new(),
    })
}

/// What a cron string of a schedule spec means: a calendar, or an interval for `@every`.
pub enum CronPart {
    Calendar(Calendar),
    Interval(Interval),
}

/// Parses a cron string as Temporal's schedules take it: five fields (minute hour
/// day-of-month month day-of-week), six (seconds first) or seven (then the year), the
/// `@yearly`/`@monthly`/`@weekly`/`@daily`/`@hourly` names, or `@every 90s[/offset]`.
/// A `CRON_TZ=<zone>` (or `TZ=`) prefix reads the calendar in that IANA zone.
pub fn parse_cron(text: &str) -> Result<CronPart, String> {
    let mut spec = text.trim();
    let invalid = |why: &str| format!("invalid cron string '{text}': {why}");
    let mut zone = String::new();
    for prefix in ["CRON_TZ=", "TZ="] {
        if let Some(rest) = spec.strip_prefix(prefix) {
            let (name, rest) = rest.split_once(' ').unwrap_or((rest, ""));
            time_zone(name).map_err(|why| invalid(&why))?;
            zone = name.to_owned();
            spec = rest.trim();
        }
    }
    if let Some(every) = spec.strip_prefix("@every") {
        let (every, phase) = every.trim().split_once('/').unwrap_or((every.trim(), ""));
        let every = crate::cron::parse_go_duration(every).map_err(|why| invalid(&why))?;
        let phase = if phase.is_empty() {
            Duration::ZERO
        } else {
            crate::cron::parse_go_duration(phase).map_err(|why| invalid(&why))?
        };
        return Ok(CronPart::Interval(Interval { every, phase }));
    }
    let named = match spec {
        "@yearly" | "@annually" => Some("0 0 1 1 *"),
        "@monthly" => Some("0 0 1 * *"),
        "@weekly" => Some("0 0 * * 0"),
        "@daily" | "@midnight" => Some("0 0 * * *"),
        "@hourly" => Some("0 * * * *"),
        other if other.starts_with('@') => return Err(invalid("unknown @ name")),
        _ => None,
    };
    let fields: Vec<&str> = named.unwrap_or(spec).split_whitespace().collect();
    let (second, rest) = match fields.len() {
        5 => ("0", &fields[..]),
        6 | 7 => (fields[0], &fields[1..]),
        _ => return Err(invalid("expected five, six or seven fields")),
    };
    let year = rest.get(5).copied().unwrap_or("*");
    let mut calendar = calendar_of(
        second, rest[0], rest[1], rest[2], rest[3], year, rest[4], "",
    )
    .map_err(|why| invalid(&why))?;
    calendar.time_zone = zone;
    Ok(CronPart::Calendar(calendar))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Time {
        Time(
            DateTime::parse_from_rfc3339(text)
                .unwrap()
                .timestamp_nanos_opt()
                .unwrap(),
        )
    }

    fn calendar(cron: &str) -> Calendar {
        match parse_cron(cron).unwrap() {
            CronPart::Calendar(calendar) => calendar,
            CronPart::Interval(_) => panic!("an interval"),
        }
    }

    fn spec(calendars: Vec<Calendar>, intervals: Vec<Interval>) -> Spec {
        Spec {
            calendars,
            intervals,
            ..Spec::default()
        }
    }

    #[test]
    fn calendars_find_their_next_match() {
        let weekdays_noon = calendar("0 12 * * MON-FRI");
        // 2024-01-06 is a Saturday.
        assert_eq!(
            weekdays_noon.next_after(at("2024-01-06T13:00:00Z")),
            Some(at("2024-01-08T12:00:00Z"))
        );
        assert_eq!(
            weekdays_noon.next_after(at("2024-01-08T11:59:59Z")),
            Some(at("2024-01-08T12:00:00Z"))
        );
        assert_eq!(
            weekdays_noon.next_after(at("2024-01-08T12:00:00Z")),
            Some(at("2024-01-09T12:00:00Z")),
            "strictly after"
        );
        let every_quarter_hour = calendar("*/15 * * * *");
        assert_eq!(
            every_quarter_hour.next_after(at("2024-01-01T10:07:30.5Z")),
            Some(at("2024-01-01T10:15:00Z"))
        );
        let leap_day = calendar("0 0 29 2 *");
        assert_eq!(
            leap_day.next_after(at("2024-03-01T00:00:00Z")),
            Some(at("2028-02-29T00:00:00Z"))
        );
        let seconds = calendar("*/20 * * * * *");
        assert_eq!(
            seconds.next_after(at("2024-01-01T00:00:41Z")),
            Some(at("2024-01-01T00:01:00Z"))
        );
        let year_bound = calendar("0 0 0 1 1 * 2025");
        assert_eq!(
            year_bound.next_after(at("2024-06-01T00:00:00Z")),
            Some(at("2025-01-01T00:00:00Z"))
        );
        assert_eq!(year_bound.next_after(at("2025-01-01T00:00:00Z")), None);
    }

    #[test]
    fn calendar_specs_use_temporal_defaults_and_names() {
        let daily = calendar_of("", "", "", "", "", "", "", "").unwrap();
        assert_eq!(
            daily.next_after(at("2024-01-01T00:00:00Z")),
            Some(at("2024-01-02T00:00:00Z"))
        );
        let sundays = calendar_of("", "30", "9", "", "jan-mar", "", "sun", "").unwrap();
        assert_eq!(
            sundays.next_after(at("2024-03-31T10:00:00Z")),
            Some(at("2025-01-05T09:30:00Z"))
        );
        assert!(calendar_of("", "61", "", "", "", "", "", "").is_err());
        assert!(parse_ranges("5-", Field::Hour).is_err());
        assert!(parse_cron("* * *").is_err());
        assert!(parse_cron("CRON_TZ=Mars/Olympus 0 * * * *").is_err());
        assert!(parse_cron("CRON_TZ=UTC 0 * * * *").is_ok());
    }

    #[test]
    fn calendars_read_in_a_time_zone_follow_its_clock_changes() {
        let paris = time_zone("Europe/Paris").unwrap();
        let nine_daily = calendar("0 9 * * *");
        // Winter: 09:00 in Paris is 08:00 UTC; summer: 07:00 UTC.
        assert_eq!(
            nine_daily.next_after_in(at("2024-01-10T00:00:00Z"), paris),
            Some(at("2024-01-10T08:00:00Z"))
        );
        assert_eq!(
            nine_daily.next_after_in(at("2024-07-10T00:00:00Z"), paris),
            Some(at("2024-07-10T07:00:00Z"))
        );
        // 02:30 does not exist in Paris on 2024-03-31 (clocks jump from 02:00 to 03:00).
        let half_past_two = calendar("30 2 * * *");
        assert_eq!(
            half_past_two.next_after_in(at("2024-03-30T23:00:00Z"), paris),
            Some(at("2024-04-01T00:30:00Z"))
        );
        // 02:30 happens twice on 2024-10-27.
        assert_eq!(
            half_past_two.next_after_in(at("2024-10-26T23:00:00Z"), paris),
            Some(at("2024-10-27T00:30:00Z"))
        );
        assert_eq!(
            half_past_two.next_after_in(at("2024-10-27T00:30:00Z"), paris),
            Some(at("2024-10-28T01:30:00Z")),
            "a repeated local time fires once"
        );
        match parse_cron("CRON_TZ=America/New_York 0 12 * * *").unwrap() {
            CronPart::Calendar(calendar) => {
                let spec = spec(vec![calendar], vec![]);
                assert_eq!(
                    spec.next_after(at("2024-01-10T00:00:00Z")),
                    Some(at("2024-01-10T17:00:00Z"))
                );
            }
            CronPart::Interval(_) => panic!("an interval"),
        }
        let mut zoned = spec(vec![nine_daily], vec![]);
        zoned.time_zone = "Asia/Tokyo".into();
        assert_eq!(
            zoned.next_after(at("2024-01-10T01:00:00Z")),
            Some(at("2024-01-11T00:00:00Z"))
        );
        zoned.time_zone = "Nowhere/Special".into();
        assert!(zoned.validate().is_err());
    }

    #[test]
    fn intervals_count_from_the_epoch_with_their_phase() {
        let every_ten = Interval {
            every: Duration::from_secs(10),
            phase: Duration::from_secs(3),
        };
        assert_eq!(
            every_ten.next_after(at("2024-01-01T00:00:00Z")),
            at("2024-01-01T00:00:03Z")
        );
        assert_eq!(
            every_ten.next_after(at("2024-01-01T00:00:03Z")),
            at("2024-01-01T00:00:13Z")
        );
        match parse_cron("@every 1h/5m").unwrap() {
            CronPart::Interval(interval) => {
                assert_eq!(interval.every, Duration::from_secs(3600));
                assert_eq!(interval.phase, Duration::from_secs(300));
            }
            CronPart::Calendar(_) => panic!("a calendar"),
        }
    }

    #[test]
    fn a_spec_takes_the_earliest_part_within_bounds_less_exclusions() {
        let mut both = spec(
            vec![calendar("0 * * * *")],
            vec![Interval {
                every: Duration::from_secs(20 * 60),
                phase: Duration::ZERO,
            }],
        );
        assert_eq!(
            both.times_between(at("2024-01-01T00:00:00Z"), at("2024-01-01T01:00:00Z"), 10),
            [
                at("2024-01-01T00:00:00Z"),
                at("2024-01-01T00:20:00Z"),
                at("2024-01-01T00:40:00Z"),
                at("2024-01-01T01:00:00Z"),
            ]
        );
        both.exclude = vec![calendar("0-30 * * * *")];
        both.end_time = Some(at("2024-01-01T02:00:00Z"));
        assert_eq!(
            both.times_between(at("2024-01-01T00:00:00Z"), at("2024-01-01T03:00:00Z"), 10),
            [at("2024-01-01T00:40:00Z"), at("2024-01-01T01:40:00Z")]
        );
        both.start_time = Some(at("2024-01-01T01:00:00Z"));
        assert_eq!(
            both.next_after(at("2024-01-01T00:00:00Z")),
            Some(at("2024-01-01T01:40:00Z"))
        );
        let by_hand = spec(vec![], vec![]);
        assert!(by_hand.validate().is_ok(), "a spec with no times is valid");
        assert_eq!(by_hand.next_after(at("2024-01-01T00:00:00Z")), None);
    }
}
