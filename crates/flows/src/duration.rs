//! Durations as flow documents write them: ISO 8601 (`PT1H30M`, `P1D`, as Kestra does) or
//! short (`90s`, `1h30m`, `250ms`).

use std::time::Duration;

/// The duration `text` means, or why it means none.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let parsed = if text.starts_with(['P', 'p']) {
        iso8601(&text[1..])
    } else {
        short(text)
    };
    parsed.ok_or_else(|| {
        format!("'{text}' is not a duration (write ISO 8601 such as PT1M30S, or 90s, 1h30m, 250ms)")
    })
}

/// `[nD][T[nH][nM][n.nS]]`, after the `P`.
fn iso8601(rest: &str) -> Option<Duration> {
    let (days, time) = match rest.split_once(['T', 't']) {
        Some((days, time)) => (days, Some(time)),
        None => (rest, None),
    };
    let mut total = 0.0;
    let mut any = false;
    for (part, units) in [
        (days, &[('D', 86_400.0), ('W', 604_800.0)][..]),
        (
            time.unwrap_or(""),
            &[('H', 3600.0), ('M', 60.0), ('S', 1.0)][..],
        ),
    ] {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let factor = units
                .iter()
                .find(|(unit, _)| unit.eq_ignore_ascii_case(&c))?
                .1;
            total += number.parse::<f64>().ok()? * factor;
            number.clear();
            any = true;
        }
        if !number.is_empty() {
            return None;
        }
    }
    if time == Some("") || !any {
        return None;
    }
    Some(Duration::from_secs_f64(total))
}

/// `1h30m`, `90s`, `250ms`, `2d`: numbers each followed by a unit.
fn short(text: &str) -> Option<Duration> {
    let mut total = 0.0;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match rest[..unit_len].trim() {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            _ => return None,
        };
        total += number * factor;
        rest = &rest[unit_len..];
    }
    Some(Duration::from_secs_f64(total))
}

/// A duration as a document would write it, e.g. `1h30m`, `250ms`.
pub fn display(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let (hours, rest) = (millis / 3_600_000, millis % 3_600_000);
    let (minutes, rest) = (rest / 60_000, rest % 60_000);
    let (seconds, millis) = (rest / 1000, rest % 1000);
    for (value, unit) in [(hours, "h"), (minutes, "m"), (seconds, "s"), (millis, "ms")] {
        if value > 0 {
            out.push_str(&format!("{value}{unit}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_notations_read() {
        for (text, seconds) in [
            ("PT1M30S", 90.0),
            ("PT0.5S", 0.5),
            ("P1D", 86_400.0),
            ("P1DT2H", 93_600.0),
            ("pt10m", 600.0),
            ("90s", 90.0),
            ("1h30m", 5400.0),
            ("250ms", 0.25),
            ("2d", 172_800.0),
        ] {
            assert_eq!(parse(text), Ok(Duration::from_secs_f64(seconds)), "{text}");
        }
        for bad in ["", "P", "PT", "10", "1x", "PT1X", "P1H", "abc", "1h30"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn display_reads_back() {
        for millis in [1, 999, 1000, 61_000, 3_600_000, 5_400_250] {
            let duration = Duration::from_millis(millis);
            assert_eq!(parse(&display(duration)), Ok(duration), "{millis}");
        }
    }
}
