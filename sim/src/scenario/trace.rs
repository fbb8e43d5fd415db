//! Traffic traces: a `time,rps` CSV, read at increasing times.

use super::error::{Located, ScenarioError};
use chrono::{DateTime, FixedOffset};

/// How traffic between two trace rows is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpolation {
    /// Straight line between rows.
    Linear,
    /// A row's value holds until the next row.
    Step,
}

/// Traffic over time: `(seconds since the start, requests/s)`, strictly increasing in time.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// The rows. The first is at or after 0; traffic before it is the first row's.
    pub points: Vec<(f64, f64)>,
    /// The wall time of second 0, when the trace used RFC 3339 times.
    pub start: Option<DateTime<FixedOffset>>,
}

impl Trace {
    /// The run's length in seconds: the last row's time.
    pub fn duration_secs(&self) -> f64 {
        self.points.last().map_or(0.0, |p| p.0)
    }

    /// A reader for times that only move forward (constant time per call).
    pub fn cursor(&self, interpolation: Interpolation) -> TraceCursor<'_> {
        TraceCursor {
            trace: self,
            next: 0,
            interpolation,
        }
    }
}

/// Reads a [`Trace`] at non-decreasing times.
#[derive(Debug, Clone)]
pub struct TraceCursor<'a> {
    trace: &'a Trace,
    next: usize,
    interpolation: Interpolation,
}

impl TraceCursor<'_> {
    /// Requests/s at `t` seconds. Calls must not go back in time.
    pub fn rps_at(&mut self, t: f64) -> f64 {
        let p = &self.trace.points;
        while self.next < p.len() && p[self.next].0 <= t {
            self.next += 1;
        }
        match (self.next, self.interpolation) {
            (0, _) => p.first().map_or(0.0, |x| x.1),
            (n, _) if n == p.len() => p[n - 1].1,
            (n, Interpolation::Step) => p[n - 1].1,
            (n, Interpolation::Linear) => {
                let (t0, r0) = p[n - 1];
                let (t1, r1) = p[n];
                r0 + (r1 - r0) * (t - t0) / (t1 - t0)
            }
        }
    }
}

/// Parses a `time,rps` CSV. `file` names it in errors.
///
/// Errors: a missing or wrong header, a row without exactly two fields, a time that is neither
/// seconds ≥ 0 nor RFC 3339, a mix of the two, a time not after the previous row's, a negative or
/// non-numeric rate, or fewer than two rows (no time covered).
pub fn parse_trace(text: &str, file: &str) -> Result<Trace, ScenarioError> {
    let mut problems = Vec::new();
    let mut bad = |line: usize, message: String| {
        problems.push(Located {
            file: file.to_owned(),
            line: Some(line),
            message,
        })
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim()));
    let header = lines.find(|(_, l)| !l.is_empty());
    match header {
        None => {
            return Err(ScenarioError::one(
                file,
                None,
                "the trace is empty: it needs the header `time,rps` and at least two rows",
            ))
        }
        Some((n, h)) => {
            let cols: Vec<String> = h
                .split(',')
                .map(|c| c.trim().to_ascii_lowercase())
                .collect();
            if cols != ["time", "rps"] {
                bad(
                    n,
                    format!("bad header `{h}`: the first line must be `time,rps`"),
                );
                return Err(ScenarioError { problems });
            }
        }
    }
    let mut points: Vec<(f64, f64)> = Vec::new();
    let mut start: Option<DateTime<FixedOffset>> = None;
    let mut rfc3339: Option<bool> = None;
    let mut prev_line = 0;
    for (n, l) in lines {
        if l.is_empty() {
            continue;
        }
        let fields: Vec<&str> = l.split(',').map(str::trim).collect();
        if fields.len() != 2 {
            bad(
                n,
                format!("expected 2 fields (time,rps), found {}", fields.len()),
            );
            continue;
        }
        let (raw_t, raw_r) = (fields[0], fields[1]);
        let parsed_t = match raw_t.parse::<f64>() {
            Ok(s) if s.is_finite() && s >= 0.0 => Some((false, s)),
            Ok(s) => {
                bad(n, format!("time {s} must be seconds >= 0"));
                None
            }
            Err(_) => match DateTime::parse_from_rfc3339(raw_t) {
                Ok(at) => {
                    let s0 = *start.get_or_insert(at);
                    Some((true, (at - s0).num_milliseconds() as f64 / 1000.0))
                }
                Err(_) => {
                    bad(
                        n,
                        format!(
                            "time `{raw_t}` is neither seconds from the start nor RFC 3339 (2026-11-23T09:00:00+06:00)"
                        ),
                    );
                    None
                }
            },
        };
        let rps = match raw_r.parse::<f64>() {
            Ok(r) if r.is_finite() && r >= 0.0 => Some(r),
            Ok(r) => {
                bad(
                    n,
                    format!("rps {r} is negative or not finite: it must be >= 0"),
                );
                None
            }
            Err(_) => {
                bad(n, format!("rps `{raw_r}` is not a number"));
                None
            }
        };
        let (Some((is_rfc, t)), Some(rps)) = (parsed_t, rps) else {
            continue;
        };
        match rfc3339 {
            Some(kind) if kind != is_rfc => {
                bad(
                    n,
                    "mixes seconds and RFC 3339 times: use one kind for the whole trace".into(),
                );
                continue;
            }
            _ => rfc3339 = Some(is_rfc),
        }
        if let Some(&(pt, _)) = points.last() {
            if t <= pt {
                bad(
                    n,
                    format!(
                        "time `{raw_t}` is not after the previous row's (line {prev_line}): times must increase"
                    ),
                );
                continue;
            }
        }
        points.push((t, rps));
        prev_line = n;
    }
    if problems.is_empty() && (points.len() < 2 || points.last().map(|p| p.0) == Some(0.0)) {
        problems.push(Located {
            file: file.to_owned(),
            line: None,
            message: "the trace covers no time: it needs at least two rows".into(),
        });
    }
    if problems.is_empty() {
        Ok(Trace { points, start })
    } else {
        Err(ScenarioError { problems })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_errors_name_the_line() {
        let cases = [
            ("empty file", "", "t.csv: the trace is empty"),
            ("bad header", "when,rps\n0,1\n", "t.csv:1: bad header"),
            (
                "three fields",
                "time,rps\n0,1,2\n60,1\n",
                "t.csv:2: expected 2 fields",
            ),
            (
                "time not a number",
                "time,rps\n0,1\nsoon,1\n",
                "t.csv:3: time `soon`",
            ),
            (
                "negative time",
                "time,rps\n-5,1\n60,1\n",
                "t.csv:2: time -5",
            ),
            (
                "equal times",
                "time,rps\n0,1\n0,2\n",
                "t.csv:3: time `0` is not after",
            ),
            ("negative rps", "time,rps\n0,1\n60,-1\n", "t.csv:3: rps -1"),
            (
                "rps not a number",
                "time,rps\n0,x\n60,1\n",
                "t.csv:2: rps `x`",
            ),
            (
                "mixed kinds",
                "time,rps\n2026-11-23T00:00:00Z,1\n60,1\n",
                "t.csv:3: mixes seconds and RFC 3339",
            ),
            (
                "one row",
                "time,rps\n0,1\n",
                "t.csv: the trace covers no time",
            ),
        ];
        for (name, text, want) in cases {
            let err = parse_trace(text, "t.csv").unwrap_err().to_string();
            assert!(err.contains(want), "case {name}: {err}");
        }
    }

    #[test]
    fn traces_read_in_seconds_or_rfc3339() {
        let t = parse_trace(
            "time,rps\n2026-11-23T09:00:00+06:00,100\n2026-11-23T09:02:00+06:00,500\n",
            "t.csv",
        )
        .unwrap();
        assert_eq!(t.points, [(0.0, 100.0), (120.0, 500.0)]);
        assert_eq!(t.start.unwrap().to_rfc3339(), "2026-11-23T09:00:00+06:00");
        let mut lin = t.cursor(Interpolation::Linear);
        assert_eq!(lin.rps_at(60.0), 300.0);
        assert_eq!(lin.rps_at(500.0), 500.0);
        let mut step = t.cursor(Interpolation::Step);
        assert_eq!(step.rps_at(119.0), 100.0);
        let s = parse_trace("time,rps\n0,1\n60,2\n", "t.csv").unwrap();
        assert_eq!(s.duration_secs(), 60.0);
    }
}
