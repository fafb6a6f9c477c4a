//! What the commands print: the `status` table and its JSON rows. Formatting only: the commands
//! in `main.rs` gather the data through `app` and the store, and map results to exit codes.

use crate::model::Timestamp;

/// One source in `tributary status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StatusRow {
    pub url: String,
    /// `new` (never fetched), `ok`, `failing`, `gone` (404/410 five times in a row; still retried
    /// daily) or `moved` (a permanent redirect was adopted).
    pub state: &'static str,
    pub last_fetch: Option<String>,
    pub last_status: Option<u16>,
    pub next_due: Option<String>,
    pub failures: u32,
    pub failure_class: Option<String>,
    pub last_error: Option<String>,
    pub entries: u64,
    pub moved_to: Option<String>,
    /// `link` when the source's guids were seen to change on every fetch.
    pub identity: Option<String>,
    /// What the last parsed document deserved a warning for (it yielded no entries although it
    /// has `<item>`/`<entry>` elements).
    pub warning: Option<String>,
}

impl From<&crate::model::SourceState> for StatusRow {
    fn from(s: &crate::model::SourceState) -> StatusRow {
        let time = |t: Option<Timestamp>| {
            t.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                .map(|d| d.format("%Y-%m-%d %H:%M:%SZ").to_string())
        };
        let moved_to = s.fetch_url.clone().filter(|f| *f != s.url);
        let state = s.health().as_str();
        StatusRow {
            url: s.url.clone(),
            state,
            last_fetch: time(s.last_fetch_at),
            last_status: s.last_status,
            next_due: time(s.next_due_at),
            failures: s.consecutive_failures,
            failure_class: s.failure_class.clone(),
            last_error: s.last_error.clone(),
            entries: s.entries,
            moved_to,
            identity: s.identity_mode.map(|i| i.as_str().to_string()),
            warning: s.warning.clone(),
        }
    }
}

/// The `status` table: aligned columns, the error last so that it may be long.
pub fn status_table(rows: &[StatusRow]) -> String {
    let header = [
        "URL",
        "STATE",
        "LAST FETCH",
        "HTTP",
        "NEXT DUE",
        "FAILURES",
        "ENTRIES",
        "LAST ERROR",
        "WARNING",
    ];
    let cells: Vec<[String; 9]> = rows
        .iter()
        .map(|r| {
            let error = match (&r.moved_to, &r.last_error) {
                (Some(to), None) => format!("moved permanently to {to}, update feeds.toml"),
                (Some(to), Some(e)) => {
                    format!("{e} (moved permanently to {to}, update feeds.toml)")
                }
                (None, e) => e.clone().unwrap_or_default(),
            };
            let error = match &r.identity {
                Some(mode) if error.is_empty() => {
                    format!("entries identified by {mode} (guids change on every fetch)")
                }
                _ => error,
            };
            [
                r.url.clone(),
                r.state.to_string(),
                r.last_fetch.clone().unwrap_or_else(|| "-".into()),
                r.last_status.map_or("-".into(), |s| s.to_string()),
                r.next_due.clone().unwrap_or_else(|| "-".into()),
                r.failures.to_string(),
                r.entries.to_string(),
                error,
                r.warning.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cols: &[String]| {
        let mut text = String::new();
        for (i, cell) in cols.iter().enumerate() {
            if i + 1 == cols.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&header.map(String::from));
    for row in &cells {
        line(row);
    }
    out
}
