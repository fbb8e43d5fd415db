//! Scheduled floors: windows of the week, in the cluster's time zone, during which at least a
//! given number of workers are kept Ready (`SCHEDULED_FLOORS`, docs/SCALING_ALGORITHM.md).
//!
//! Grammar (whitespace-insensitive, case-insensitive, `;` between floors, a trailing `;` allowed):
//!
//! ```text
//! floors := floor { ";" floor }
//! floor  := days " " HH:MM "-" HH:MM " " "min=" N
//! days   := "daily" | day-or-range { "," day-or-range }
//! day-or-range := day | day "-" day          (mon-fri, fri-mon wraps over the weekend)
//! day    := mon | tue | wed | thu | fri | sat | sun
//! ```
//!
//! A window whose end is not after its start runs past midnight into the next day
//! (`fri 22:00-02:00` ends Saturday 02:00); `24:00` is the end of the day.

use chrono::{DateTime, Datelike, Duration, FixedOffset, Timelike, Utc};
use std::fmt;

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const WEEK_SECS: i64 = 7 * 86_400;

/// One declared floor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Floor {
    /// Days the window starts on, Monday first.
    pub days: [bool; 7],
    /// Start, minutes after local midnight.
    pub start_min: u32,
    /// Length, minutes (1 to 1440).
    pub length_min: u32,
    /// Workers kept Ready during the window.
    pub min: u32,
    /// The floor as written (normalised), for reasons.
    pub text: String,
}

impl fmt::Display for Floor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn day(raw: &str) -> Result<usize, String> {
    DAY_NAMES.iter().position(|d| *d == raw).ok_or_else(|| {
        format!(
            "'{raw}' is not a day: write mon, tue, wed, thu, fri, sat, sun, a range such as mon-fri, or daily"
        )
    })
}

fn clock(raw: &str) -> Result<u32, String> {
    let bad = || format!("'{raw}' is not a time: write HH:MM, for example 08:50 (00:00 to 24:00)");
    let (h, m) = raw.split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m > 59 || h > 24 || (h == 24 && m != 0) || raw.len() != 5 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

fn parse_one(raw: &str) -> Result<Floor, String> {
    let parts: Vec<&str> = raw.split_whitespace().collect();
    let [days_raw, window, min_raw] = parts.as_slice() else {
        return Err(format!(
            "'{raw}' is not a floor: write DAYS HH:MM-HH:MM min=N, for example fri 19:45-22:30 min=8"
        ));
    };
    let mut days = [false; 7];
    if *days_raw == "daily" {
        days = [true; 7];
    } else {
        for item in days_raw.split(',') {
            match item.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (day(a)?, day(b)?);
                    let mut d = a;
                    loop {
                        days[d] = true;
                        if d == b {
                            break;
                        }
                        d = (d + 1) % 7;
                    }
                }
                None => days[day(item)?] = true,
            }
        }
    }
    let (from, to) = window.split_once('-').ok_or_else(|| {
        format!("'{window}' is not a window: write HH:MM-HH:MM, for example 19:45-22:30")
    })?;
    let (start, end) = (clock(from)?, clock(to)?);
    if start == 24 * 60 {
        return Err(format!(
            "'{window}' starts at 24:00: write 00:00 of the next day"
        ));
    }
    if start == end {
        return Err(format!(
            "'{window}' is empty: its start and end are the same"
        ));
    }
    let length_min = if end > start {
        end - start
    } else {
        end + 24 * 60 - start
    };
    let min = min_raw
        .strip_prefix("min=")
        .ok_or_else(|| format!("'{min_raw}' is not min=N: write for example min=4"))?
        .parse::<u32>()
        .map_err(|_| {
            format!("'{min_raw}' is not min=N with N a whole number, for example min=4")
        })?;
    if min == 0 {
        return Err(format!("'{min_raw}': a floor of 0 workers keeps nothing"));
    }
    Ok(Floor {
        days,
        start_min: start,
        length_min,
        min,
        text: format!("{days_raw} {window} min={min}"),
    })
}

/// Parses `SCHEDULED_FLOORS`; empty means none.
///
/// Errors: the first malformed floor, quoted, with what is wrong and an example.
pub fn parse_floors(raw: &str) -> Result<Vec<Floor>, String> {
    raw.to_ascii_lowercase()
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(parse_one)
        .collect()
}

/// Parses `CLUSTER_TIMEZONE`: `UTC`, `Z` or a fixed offset `+06:00` / `-05:30`, as seconds east
/// of UTC.
///
/// Errors: anything else, with an example. Zone names (`Asia/Dhaka`) are refused because the
/// engine carries no time-zone database; a zone with daylight saving needs its floors written
/// for the offset in force.
pub fn parse_utc_offset(raw: &str) -> Result<i32, String> {
    let s = raw.trim();
    if s.eq_ignore_ascii_case("utc") || s == "Z" {
        return Ok(0);
    }
    let bad = || {
        format!("'{raw}' is not a UTC offset: write UTC or ±HH:MM, for example +06:00 (zone names such as Asia/Dhaka are not supported: write their offset)")
    };
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'+') => (1, &s[1..]),
        Some(b'-') => (-1, &s[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').ok_or_else(bad)?;
    let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 14 || m > 59 || rest.len() != 5 {
        return Err(bad());
    }
    Ok(sign * (h * 3600 + m * 60))
}

/// Seconds since local Monday 00:00 of `t` in the zone `offset_secs` east of UTC.
pub fn second_of_week(t: DateTime<Utc>, offset_secs: i32) -> i64 {
    let tz = FixedOffset::east_opt(offset_secs)
        .unwrap_or_else(|| FixedOffset::east_opt(0).expect("0 is a valid offset"));
    let local = t.with_timezone(&tz);
    i64::from(local.weekday().num_days_from_monday()) * 86_400
        + i64::from(local.num_seconds_from_midnight())
}

impl Floor {
    /// Whether any instant of `[from, to]` falls in one of this floor's windows.
    pub fn overlaps(&self, from: DateTime<Utc>, to: DateTime<Utc>, offset_secs: i32) -> bool {
        let span = (to - from).num_seconds().clamp(0, WEEK_SECS);
        let s = second_of_week(from, offset_secs);
        let len = i64::from(self.length_min) * 60;
        (0..7).filter(|d| self.days[*d]).any(|d| {
            let ws = d as i64 * 86_400 + i64::from(self.start_min) * 60;
            (s - ws).rem_euclid(WEEK_SECS) < len || (ws - s).rem_euclid(WEEK_SECS) <= span
        })
    }
}

/// The highest floor any of whose windows meets `[from, from + ahead]`, with the floor itself;
/// the first declared wins a tie.
pub fn highest(
    floors: &[Floor],
    from: DateTime<Utc>,
    ahead: Duration,
    offset_secs: i32,
) -> Option<&Floor> {
    floors
        .iter()
        .filter(|f| f.overlaps(from, from + ahead, offset_secs))
        .fold(None, |best: Option<&Floor>, f| match best {
            Some(b) if b.min >= f.min => Some(b),
            _ => Some(f),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_grammar() {
        struct Case {
            name: &'static str,
            raw: &'static str,
            days: &'static str,
            start: u32,
            length: u32,
            min: u32,
        }
        let cases = [
            Case {
                name: "one day",
                raw: "fri 19:45-22:30 min=8",
                days: "fri",
                start: 19 * 60 + 45,
                length: 165,
                min: 8,
            },
            Case {
                name: "range",
                raw: "mon-fri 08:50-10:00 min=4",
                days: "mon,tue,wed,thu,fri",
                start: 530,
                length: 70,
                min: 4,
            },
            Case {
                name: "range over the weekend",
                raw: "sat-mon 00:00-24:00 min=3",
                days: "mon,sat,sun",
                start: 0,
                length: 1440,
                min: 3,
            },
            Case {
                name: "list and case",
                raw: "  SAT,Sun   10:00-12:00   MIN=5 ",
                days: "sat,sun",
                start: 600,
                length: 120,
                min: 5,
            },
            Case {
                name: "daily",
                raw: "daily 09:00-17:00 min=3",
                days: "mon,tue,wed,thu,fri,sat,sun",
                start: 540,
                length: 480,
                min: 3,
            },
            Case {
                name: "past midnight",
                raw: "fri 22:00-02:00 min=6",
                days: "fri",
                start: 1320,
                length: 240,
                min: 6,
            },
        ];
        for c in cases {
            let f = parse_floors(c.raw).unwrap_or_else(|e| panic!("case {}: {e}", c.name));
            assert_eq!(f.len(), 1, "case {}", c.name);
            let days: Vec<&str> = (0..7)
                .filter(|d| f[0].days[*d])
                .map(|d| DAY_NAMES[d])
                .collect();
            assert_eq!(days.join(","), c.days, "case {}", c.name);
            assert_eq!(
                (f[0].start_min, f[0].length_min, f[0].min),
                (c.start, c.length, c.min),
                "case {}",
                c.name
            );
        }
        let two = parse_floors("fri 19:45-22:30 min=8; mon-fri 08:50-10:00 min=4;").unwrap();
        assert_eq!(two.len(), 2);
        assert_eq!(two[1].to_string(), "mon-fri 08:50-10:00 min=4");
        assert_eq!(parse_floors("  ").unwrap(), vec![]);
    }

    #[test]
    fn the_errors_say_what_is_wrong() {
        let cases = [
            (
                "missing part",
                "fri 19:45-22:30",
                "is not a floor: write DAYS HH:MM-HH:MM min=N",
            ),
            ("bad day", "fry 19:45-22:30 min=8", "'fry' is not a day"),
            (
                "bad range end",
                "mon-fro 19:45-22:30 min=8",
                "'fro' is not a day",
            ),
            ("no dash", "fri 19:45 min=8", "'19:45' is not a window"),
            ("bad hour", "fri 25:00-26:00 min=8", "'25:00' is not a time"),
            (
                "bad minute",
                "fri 19:60-22:00 min=8",
                "'19:60' is not a time",
            ),
            ("one digit", "fri 9:00-10:00 min=8", "'9:00' is not a time"),
            ("empty window", "fri 10:00-10:00 min=8", "is empty"),
            (
                "starts at 24:00",
                "fri 24:00-01:00 min=8",
                "starts at 24:00",
            ),
            ("no min=", "fri 10:00-11:00 8", "'8' is not min=N"),
            (
                "min not a number",
                "fri 10:00-11:00 min=x",
                "'min=x' is not min=N",
            ),
            ("zero", "fri 10:00-11:00 min=0", "keeps nothing"),
        ];
        for (name, raw, want) in cases {
            let err = parse_floors(raw).expect_err(name);
            assert!(err.contains(want), "case {name}: {err}");
        }
    }

    #[test]
    fn offsets() {
        let cases = [
            ("UTC", Ok(0)),
            ("+06:00", Ok(21_600)),
            ("-05:30", Ok(-19_800)),
            ("Z", Ok(0)),
        ];
        for (raw, want) in cases {
            assert_eq!(parse_utc_offset(raw), want, "case {raw}");
        }
        for raw in ["Asia/Dhaka", "+6", "+15:00", "06:00"] {
            let err = parse_utc_offset(raw).expect_err(raw);
            assert!(err.contains("is not a UTC offset"), "case {raw}: {err}");
        }
    }

    #[test]
    fn windows_meet_an_interval_in_local_time() {
        let floors =
            parse_floors("fri 19:45-22:30 min=8; fri 22:00-02:00 min=6; mon-fri 08:50-10:00 min=4")
                .unwrap();
        let dhaka = 6 * 3600;
        // 2026-11-27 is a Friday.
        let local = |d: u32, h: u32, m: u32| {
            FixedOffset::east_opt(dhaka)
                .unwrap()
                .with_ymd_and_hms(2026, 11, d, h, m, 0)
                .unwrap()
                .with_timezone(&Utc)
        };
        let cases = [
            ("inside", local(27, 20, 0), 0, Some(8)),
            ("lead reaches the start", local(27, 19, 42), 3, Some(8)),
            ("lead short of the start", local(27, 19, 40), 3, None),
            ("morning, no lead", local(27, 9, 0), 0, Some(4)),
            ("overlap of two: the higher", local(27, 22, 10), 0, Some(8)),
            ("past midnight into Saturday", local(28, 1, 0), 0, Some(6)),
            ("ended", local(28, 2, 0), 0, None),
            ("weekend morning", local(28, 9, 0), 0, None),
        ];
        for (name, at, lead_min, want) in cases {
            let got = highest(&floors, at, Duration::minutes(lead_min), dhaka).map(|f| f.min);
            assert_eq!(got, want, "case {name}");
        }
    }
}
