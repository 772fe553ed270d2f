//! Output helpers shared by the operator commands: aligned text tables for
//! people and JSON for scripts.
//!
//! Every command prints either a table (the default) or exactly one JSON
//! document on stdout (`--json`), so scripts can pipe any command into `jq`
//! without scraping. Notes and warnings always go to stderr, which keeps
//! stdout parseable in both modes. The formatting functions here are pure,
//! so their shape is covered by property tests rather than by eye.

use serde::Serialize;
use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A text table with a header row and left-aligned columns.
///
/// Columns are separated by two spaces; the last column is not padded, so
/// lines carry no trailing whitespace.
#[derive(Debug, Clone)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers (printed in upper case).
    pub fn new<I, S>(headers: I) -> Table
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Table {
            headers: headers
                .into_iter()
                .map(|h| h.as_ref().to_uppercase())
                .collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row. Missing cells are printed empty; extra cells are kept
    /// and widen the table, so a mistake is visible rather than dropped.
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let cells = cells
            .into_iter()
            .map(|cell| sanitize(&cell.into()))
            .collect();
        self.rows.push(cells);
    }

    /// Whether the table has no data rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Renders the header and the rows, one line each, ending in a newline.
    pub fn render(&self) -> String {
        let columns = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.headers.len()])
            .max()
            .unwrap_or(0);
        let mut widths = vec![0usize; columns];
        for line in std::iter::once(&self.headers).chain(&self.rows) {
            for (width, cell) in widths.iter_mut().zip(line) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for line in std::iter::once(&self.headers).chain(&self.rows) {
            let mut text = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = line.get(i).map(String::as_str).unwrap_or("");
                if i > 0 {
                    text.push_str("  ");
                }
                text.push_str(cell);
                let pad = width - cell.chars().count();
                text.extend(std::iter::repeat_n(' ', pad));
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        out
    }

    /// Prints the table to stdout, or `empty` (a sentence) when it has no rows.
    pub fn print_or(&self, empty: &str) -> anyhow::Result<()> {
        if self.is_empty() {
            emit(format!("{empty}\n"))
        } else {
            emit(self.render())
        }
    }
}

/// Control characters (a newline in an error message, say) would break the
/// alignment: show them as spaces.
fn sanitize(cell: &str) -> String {
    cell.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Prints one JSON document (pretty, for people who read it too) to stdout.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    emit(text + "\n")
}

/// Writes `text` to stdout. A reader that closed the pipe early
/// (`wasmq dead list | head -3`) has what it wanted: that is not an error,
/// whereas `println!` would panic. Any other write error is reported.
pub fn emit(text: impl AsRef<str>) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out
        .write_all(text.as_ref().as_bytes())
        .and_then(|()| out.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("cannot write to stdout"))
        }
        _ => Ok(()),
    }
}

/// A duration in its largest two units: `"3d 4h"`, `"2m 5s"`, `"850ms"`.
pub fn short_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs == 0 {
        return format!("{}ms", duration.as_millis());
    }
    const UNITS: [(&str, u64); 4] = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)];
    let first = UNITS
        .iter()
        .position(|&(_, size)| secs >= size)
        .unwrap_or(3);
    let (name, size) = UNITS[first];
    let mut text = format!("{}{name}", secs / size);
    if let Some(&(next_name, next_size)) = UNITS.get(first + 1) {
        let next = secs % size / next_size;
        if next > 0 {
            let _ = write!(text, " {next}{next_name}");
        }
    }
    text
}

/// A time as UTC RFC 3339 to the second, or `-` when unknown.
pub fn timestamp(time: Option<SystemTime>) -> String {
    match time {
        Some(t) => humantime::format_rfc3339_seconds(t).to_string(),
        None => "-".to_owned(),
    }
}

/// A time given in milliseconds since the Unix epoch, as [`timestamp`] does.
pub fn timestamp_ms(ms: Option<u64>) -> String {
    timestamp(ms.map(|ms| UNIX_EPOCH + Duration::from_millis(ms)))
}

/// How long ago `then` was, relative to `now`: `"5m 3s ago"`, or `"in 10s"`
/// for a time in the future.
pub fn relative(then: SystemTime, now: SystemTime) -> String {
    match now.duration_since(then) {
        Ok(ago) => format!("{} ago", short_duration(ago)),
        Err(ahead) => format!("in {}", short_duration(ahead.duration())),
    }
}

/// Cuts `text` to at most `max` characters, marking the cut with `…`.
pub fn ellipsize(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Joins items with `", "`, or `-` when there are none.
pub fn list_or_dash<I, S>(items: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut out = String::new();
    for item in items {
        if !out.is_empty() {
            out.push_str(", ");
        }
        let _ = write!(out, "{}", item.as_ref());
    }
    if out.is_empty() { "-".to_owned() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn renders_aligned_columns() {
        let mut table = Table::new(["queue", "pending"]);
        table.row(["email", "12"]);
        table.row(["image-resize", "3"]);
        assert_eq!(
            table.render(),
            "QUEUE         PENDING\nemail         12\nimage-resize  3\n"
        );
    }

    #[test]
    fn control_characters_do_not_break_lines() {
        let mut table = Table::new(["error"]);
        table.row(["line one\nline two"]);
        assert_eq!(table.render().lines().count(), 2);
    }

    #[test]
    fn short_durations() {
        assert_eq!(short_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(short_duration(Duration::from_secs(5)), "5s");
        assert_eq!(short_duration(Duration::from_secs(125)), "2m 5s");
        assert_eq!(short_duration(Duration::from_secs(3600)), "1h");
        assert_eq!(
            short_duration(Duration::from_secs(3 * 86_400 + 4 * 3600 + 7)),
            "3d 4h"
        );
        assert_eq!(short_duration(Duration::from_secs(86_400 + 59)), "1d");
    }

    #[test]
    fn relative_times() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(relative(now - Duration::from_secs(65), now), "1m 5s ago");
        assert_eq!(relative(now + Duration::from_secs(10), now), "in 10s");
        assert_eq!(timestamp_ms(Some(0)), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp_ms(None), "-");
    }

    #[test]
    fn ellipsize_and_lists() {
        assert_eq!(ellipsize("abcdef", 4), "abc…");
        assert_eq!(ellipsize("abc", 4), "abc");
        assert_eq!(list_or_dash(Vec::<String>::new()), "-");
        assert_eq!(list_or_dash(["a", "b"]), "a, b");
    }

    proptest! {
        /// Every line starts each column at the same character offset, and no
        /// line has trailing whitespace.
        #[test]
        fn columns_line_up(rows in prop::collection::vec(
            prop::collection::vec("([a-zA-Z0-9éß-]([a-zA-Z0-9 éß-]{0,10}[a-zA-Z0-9éß-])?)?", 3), 0..8)
        ) {
            let mut table = Table::new(["a", "bb", "ccc"]);
            for row in &rows {
                table.row(row.clone());
            }
            let text = table.render();
            let lines: Vec<&str> = text.lines().collect();
            prop_assert_eq!(lines.len(), rows.len() + 1);
            let width = |col: usize| std::iter::once(&vec!["A".into(), "BB".into(), "CCC".into()])
                .chain(&rows)
                .map(|r: &Vec<String>| r[col].chars().count())
                .max()
                .unwrap();
            let second = width(0) + 2;
            let third = second + width(1) + 2;
            for (line, row) in lines.iter().skip(1).zip(&rows) {
                prop_assert!(!line.ends_with(' '));
                let chars: Vec<char> = line.chars().collect();
                let cell = |from: usize, len: usize| -> String {
                    chars.iter().skip(from).take(len).collect()
                };
                prop_assert_eq!(cell(0, row[0].chars().count()), row[0].clone());
                prop_assert_eq!(cell(second, row[1].chars().count()), row[1].clone());
                prop_assert_eq!(cell(third, row[2].chars().count()), row[2].clone());
            }
        }

        /// At most two adjacent units, never more than the input, and off
        /// by less than a twenty-fourth of it (what the dropped units hold).
        #[test]
        fn short_duration_is_close_and_short(secs in 1u64..100_000_000) {
            let actual = Duration::from_secs(secs);
            let text = short_duration(actual);
            prop_assert!(text.split(' ').count() <= 2, "{}", text);
            let parsed = humantime::parse_duration(&text).unwrap();
            prop_assert!(parsed <= actual, "{} > {:?}", text, actual);
            prop_assert!((actual - parsed) * 24 <= actual, "{} too far from {:?}", text, actual);
        }
    }
}
