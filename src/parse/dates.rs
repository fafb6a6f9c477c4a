//! Dates as publishers really write them: RFC 822 with the usual breakage (a wrong weekday,
//! `GMT+7`, `+07:00`, no seconds, two-digit years, names of zones), and RFC 3339 / ISO 8601
//! variants (a space instead of `T`, no seconds, no zone, `+0700`, a bare date). A date without a
//! zone is read as UTC. Given to feed-rs as its timestamp parser.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};

pub fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    // Whole seconds: fractions only make the same date compare unequal across formats.
    parse_any(text).and_then(|d| d.with_nanosecond(0))
}

fn parse_any(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(text) {
        return Some(d.with_timezone(&Utc));
    }
    if text.as_bytes()[0].is_ascii_digit()
        && text.len() >= 8
        && text.as_bytes().get(4) == Some(&b'-')
    {
        return iso_8601(text);
    }
    rfc_822(text)
}

/// `2026-11-19T08:05:00+0700`, `2026-11-19 08:05`, `2026-11-19T08:05:00.123Z`, `2026-11-19`.
fn iso_8601(text: &str) -> Option<DateTime<Utc>> {
    let (date_part, rest) = text.split_at(10.min(text.len()));
    let date = NaiveDate::parse_from_str(date_part, "%Y-%m-%d").ok()?;
    let rest = rest.trim_start_matches(['T', 't', ' ']);
    if rest.is_empty() {
        return Some(Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN)));
    }
    // Split the time from a trailing zone.
    let zone_at = rest
        .char_indices()
        .skip(1)
        .find(|(_, c)| matches!(c, '+' | '-' | 'Z' | 'z' | ' '))
        .map_or(rest.len(), |(i, _)| i);
    let (time_text, zone_text) = rest.split_at(zone_at);
    let time = parse_time(time_text)?;
    let offset = match zone_text.trim() {
        "" => FixedOffset::east_opt(0)?,
        zone => zone_offset(zone)?,
    };
    local_to_utc(date.and_time(time), offset)
}

/// `Wed, 18 Nov 2026 09:30:00 GMT` and its broken relatives.
fn rfc_822(text: &str) -> Option<DateTime<Utc>> {
    let cleaned = text.replace(',', " ");
    let mut tokens: Vec<&str> = cleaned.split_whitespace().collect();
    // A leading weekday, right or wrong, carries nothing: the date decides.
    if tokens
        .first()
        .is_some_and(|t| t.chars().all(|c| c.is_ascii_alphabetic()) && month(t).is_none())
    {
        tokens.remove(0);
    }
    // "18 Nov 2026" or "Nov 18 2026".
    let (day, mon, year, rest) = match tokens.as_slice() {
        [d, m, y, rest @ ..] if month(m).is_some() => (*d, month(m)?, *y, rest),
        [m, d, y, rest @ ..] if month(m).is_some() => (*d, month(m)?, *y, rest),
        _ => return None,
    };
    let day: u32 = day.parse().ok()?;
    let year: i32 = match year.parse::<i32>().ok()? {
        y if y < 50 && year.len() <= 2 => 2000 + y,
        y if y < 100 && year.len() <= 2 => 1900 + y,
        y => y,
    };
    let date = NaiveDate::from_ymd_opt(year, mon, day)?;
    let (time, zone) = match rest {
        [] => (NaiveTime::MIN, String::new()),
        [t, zone @ ..] => (parse_time(t)?, zone.concat()),
    };
    let offset = if zone.is_empty() {
        FixedOffset::east_opt(0)?
    } else {
        zone_offset(&zone)?
    };
    local_to_utc(date.and_time(time), offset)
}

fn local_to_utc(local: NaiveDateTime, offset: FixedOffset) -> Option<DateTime<Utc>> {
    offset
        .from_local_datetime(&local)
        .single()
        .map(|d| d.with_timezone(&Utc))
}

/// `08:05`, `08:05:09`, `08:05:09.123`.
fn parse_time(text: &str) -> Option<NaiveTime> {
    let text = text.trim();
    let (main, _fraction) = text.split_once('.').unwrap_or((text, ""));
    let parts: Vec<&str> = main.split(':').collect();
    let number = |i: usize| parts.get(i).map_or(Some(0), |p| p.parse::<u32>().ok());
    if parts.len() < 2 || parts.len() > 3 {
        return None;
    }
    NaiveTime::from_hms_opt(number(0)?, number(1)?, number(2)?.min(59))
}

fn month(token: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = token.to_ascii_lowercase();
    let prefix = lower.get(..3)?;
    MONTHS
        .iter()
        .position(|m| *m == prefix)
        .map(|i| i as u32 + 1)
}

/// `GMT`, `UTC`, `Z`, `EST`…, `+0700`, `+07:00`, `+07`, `GMT+7`, `UTC+07:00`.
fn zone_offset(zone: &str) -> Option<FixedOffset> {
    let zone = zone.trim();
    let upper = zone.to_ascii_uppercase();
    let named = match upper.as_str() {
        "GMT" | "UT" | "UTC" | "Z" | "" => Some(0),
        "EST" => Some(-5),
        "EDT" => Some(-4),
        "CST" => Some(-6),
        "CDT" => Some(-5),
        "MST" => Some(-7),
        "MDT" => Some(-6),
        "PST" => Some(-8),
        "PDT" => Some(-7),
        "ICT" | "WIB" => Some(7), // Indochina, Western Indonesia
        "WITA" => Some(8),
        "WIT" => Some(9),
        _ => None,
    };
    if let Some(hours) = named {
        return FixedOffset::east_opt(hours * 3600);
    }
    let numeric = upper
        .strip_prefix("GMT")
        .or_else(|| upper.strip_prefix("UTC"))
        .unwrap_or(&upper);
    let (sign, digits) = match numeric.as_bytes().first()? {
        b'+' => (1, &numeric[1..]),
        b'-' => (-1, &numeric[1..]),
        _ => return None,
    };
    let digits: String = digits.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes): (i32, i32) = match digits.len() {
        1 | 2 => (digits.parse().ok()?, 0),
        3 => (digits[..1].parse().ok()?, digits[1..].parse().ok()?),
        4 => (digits[..2].parse().ok()?, digits[2..].parse().ok()?),
        _ => return None,
    };
    if hours > 14 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Option<String> {
        parse_date(text).map(|d| d.to_rfc3339())
    }

    #[test]
    fn rfc_822_and_its_breakage() {
        let cases = [
            ("Wed, 18 Nov 2026 09:30:00 GMT", "2026-11-18T09:30:00+00:00"),
            ("Mon, 18 Nov 2026 09:30:00 GMT", "2026-11-18T09:30:00+00:00"), // wrong weekday
            (
                "Thu, 19 Nov 2026 08:05:00 +0700",
                "2026-11-19T01:05:00+00:00",
            ),
            (
                "Thu, 19 Nov 2026 08:05:00 GMT+7",
                "2026-11-19T01:05:00+00:00",
            ),
            (
                "Thu, 19 Nov 2026 08:05:00 GMT+07:00",
                "2026-11-19T01:05:00+00:00",
            ),
            (
                "Thu, 19 Nov 2026 08:05:00 +07:00",
                "2026-11-19T01:05:00+00:00",
            ),
            ("19 Nov 2026 08:05 +0700", "2026-11-19T01:05:00+00:00"), // no seconds, no weekday
            ("Thu, 19 Nov 26 08:05:00 EST", "2026-11-19T13:05:00+00:00"), // two-digit year
            ("Tue, 02 Jan 99 10:00:00 PST", "1999-01-02T18:00:00+00:00"),
            (
                "Thursday, 19 November 2026 08:05:00 WIB",
                "2026-11-19T01:05:00+00:00",
            ),
            ("19 Nov 2026", "2026-11-19T00:00:00+00:00"),
            ("Nov 19 2026 08:05:00 GMT", "2026-11-19T08:05:00+00:00"),
        ];
        for (text, want) in cases {
            assert_eq!(ts(text).as_deref(), Some(want), "{text}");
        }
    }

    #[test]
    fn iso_8601_variants() {
        let cases = [
            ("2026-11-19T08:05:00Z", "2026-11-19T08:05:00+00:00"),
            ("2026-11-19T08:05:00.123+07:00", "2026-11-19T01:05:00+00:00"),
            ("2026-11-19T08:05:00+0700", "2026-11-19T01:05:00+00:00"),
            ("2026-11-19 08:05:00", "2026-11-19T08:05:00+00:00"),
            ("2026-11-19T08:05", "2026-11-19T08:05:00+00:00"),
            ("2026-11-19 08:05:00 +07:00", "2026-11-19T01:05:00+00:00"),
            ("2026-11-19", "2026-11-19T00:00:00+00:00"),
        ];
        for (text, want) in cases {
            assert_eq!(ts(text).as_deref(), Some(want), "{text}");
        }
    }

    #[test]
    fn nonsense_is_no_date() {
        for text in [
            "",
            "yesterday",
            "32 Nov 2026",
            "2026-13-01",
            "Thu, 19 Foo 2026 08:05:00 GMT",
            "19 Nov 2026 25:00:00 GMT",
        ] {
            assert_eq!(ts(text), None, "{text}");
        }
    }
}
