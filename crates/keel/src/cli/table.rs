//! Terminal output: aligned tables, key/value blocks and the cell formats they share.

use serde_json::Value;

/// Columns separated by two spaces, widths taken from the widest cell.
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|header| header.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are blank and extra cells are dropped.
    pub fn row(&mut self, cells: Vec<String>) {
        let mut cells: Vec<String> = cells.into_iter().map(|cell| single_line(&cell)).collect();
        cells.resize(self.headers.len(), String::new());
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self
            .headers
            .iter()
            .map(|header| header.chars().count())
            .collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.headers).chain(&self.rows) {
            let mut line = String::new();
            for (column_idx, (cell, width)) in row.iter().zip(&widths).enumerate() {
                if column_idx > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                let padding = width - cell.chars().count();
                line.extend(std::iter::repeat_n(' ', padding));
            }
            // The last column is padded like the others; trailing spaces only confuse `diff`.
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `Label  value` lines with the values aligned, for a single object such as one execution.
pub fn key_values(pairs: &[(&str, String)]) -> String {
    let width = pairs
        .iter()
        .map(|(label, _)| label.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (label, value) in pairs {
        out.push_str(format!("{label:<width$}  {}", single_line(value)).trim_end());
        out.push('\n');
    }
    out
}

/// Table cells are one line each, or the columns stop lining up.
fn single_line(text: &str) -> String {
    text.replace(['\n', '\r', '\t'], " ")
}

/// `2026-11-29T21:03:04.123456789Z` as `2026-11-29 21:03:04` (the server speaks UTC);
/// `-` for null, and anything that is not an RFC 3339 time unchanged.
pub fn short_time(value: &Value) -> String {
    let Some(time) = value.as_str() else {
        return text(value);
    };
    let looks_rfc3339 =
        time.len() >= 19 && time.is_char_boundary(19) && time.as_bytes()[10] == b'T';
    if looks_rfc3339 {
        time[..19].replacen('T', " ", 1)
    } else {
        time.to_string()
    }
}

/// A `*_ms` duration the way people read it: `850ms`, `12.4s`, `3m05s`, `2h10m`, `4d03h`.
pub fn duration(value: &Value) -> String {
    let Some(ms) = value.as_f64() else {
        return text(value);
    };
    if ms < 10.0 {
        return format!("{ms:.1}ms");
    }
    if ms < 1000.0 {
        return format!("{ms:.0}ms");
    }
    let seconds = ms / 1000.0;
    if seconds < 60.0 {
        return format!("{seconds:.1}s");
    }
    let whole_seconds = seconds as u64;
    let (minutes, hours, days) = (
        whole_seconds / 60,
        whole_seconds / 3600,
        whole_seconds / 86_400,
    );
    if minutes < 60 {
        format!("{minutes}m{:02}s", whole_seconds % 60)
    } else if hours < 24 {
        format!("{hours}h{:02}m", minutes % 60)
    } else {
        format!("{days}d{:02}h", hours % 24)
    }
}

/// A fraction (0..1) as a percentage, `-` for null.
pub fn percent(value: &Value) -> String {
    match value.as_f64() {
        Some(fraction) => format!("{:.1}%", fraction * 100.0),
        None => text(value),
    }
}

/// A JSON value as a cell: strings unquoted, null as `-`, structures as compact JSON.
pub fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".to_string(),
        Value::String(string) if string.is_empty() => "-".to_string(),
        Value::String(string) => string.clone(),
        other => other.to_string(),
    }
}

/// Compact JSON cut to `max_chars`, for payloads shown inline.
pub fn truncated_json(value: &Value, max_chars: usize) -> String {
    let json = if value.is_null() {
        "-".to_string()
    } else {
        value.to_string()
    };
    if json.chars().count() <= max_chars {
        return json;
    }
    let kept: String = json.chars().take(max_chars.saturating_sub(1)).collect();
    format!("{kept}…")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn columns_take_the_width_of_their_widest_cell() {
        let mut table = Table::new(&["WORKFLOW ID", "STATUS", "STARTED"]);
        table.row(vec![
            "order-1".into(),
            "running".into(),
            short_time(&json!("2026-11-29T21:03:04.123456789Z")),
        ]);
        table.row(vec!["a-much-longer-id".into(), "completed\nok".into()]);
        assert_eq!(
            table.render(),
            "WORKFLOW ID       STATUS        STARTED\n\
             order-1           running       2026-11-29 21:03:04\n\
             a-much-longer-id  completed ok\n"
        );
        // Non-ASCII cells are measured in characters, not bytes.
        let mut table = Table::new(&["A", "B"]);
        table.row(vec!["é".into(), "x".into()]);
        assert_eq!(table.render(), "A  B\né  x\n");
    }

    #[test]
    fn cells_format_times_durations_and_values() {
        assert_eq!(
            short_time(&json!("2026-01-02T03:04:05Z")),
            "2026-01-02 03:04:05"
        );
        assert_eq!(short_time(&Value::Null), "-");
        assert_eq!(short_time(&json!("yesterday")), "yesterday");
        assert_eq!(duration(&json!(2.5)), "2.5ms");
        assert_eq!(duration(&json!(850)), "850ms");
        assert_eq!(duration(&json!(12_400.0)), "12.4s");
        assert_eq!(duration(&json!(185_000.0)), "3m05s");
        assert_eq!(duration(&json!(7_800_000.0)), "2h10m");
        assert_eq!(duration(&json!(356_400_000.0)), "4d03h");
        assert_eq!(duration(&Value::Null), "-");
        assert_eq!(percent(&json!(0.952)), "95.2%");
        assert_eq!(text(&json!(3)), "3");
        assert_eq!(truncated_json(&json!({"a": "bcdef"}), 8), "{\"a\":\"b…");
        assert_eq!(
            key_values(&[
                ("Status", "running".into()),
                ("Task queue", "orders".into())
            ]),
            "Status      running\nTask queue  orders\n"
        );
    }
}
