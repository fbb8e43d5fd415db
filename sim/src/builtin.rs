//! The built-in scenarios. Their TOML is the committed example under `sim/scenarios/`; their
//! traces are generated here, deterministically (a fixed-seed hash, no randomness from outside),
//! and the committed CSVs are checked against the generator by a test.

use crate::scenario::{self, Scenario, ScenarioError};
use chrono::{DateTime, Duration, FixedOffset};
use std::fmt::Write as _;
use std::path::Path;

/// Names of the built-in scenarios.
pub const NAMES: [&str; 4] = [
    "techflow-week",
    "techflow-two-weeks",
    "flash-sale",
    "flash-sale-floor",
];

/// The TOML of built-in scenario `name`, or `None` for an unknown name.
pub fn toml(name: &str) -> Option<&'static str> {
    match name {
        "techflow-week" => Some(include_str!("../scenarios/techflow-week.toml")),
        "techflow-two-weeks" => Some(include_str!("../scenarios/techflow-two-weeks.toml")),
        "flash-sale" => Some(include_str!("../scenarios/flash-sale.toml")),
        "flash-sale-floor" => Some(include_str!("../scenarios/flash-sale-floor.toml")),
        _ => None,
    }
}

/// The generated trace CSV of built-in scenario `name`, or `None` for an unknown name.
pub fn trace_csv(name: &str) -> Option<String> {
    match name {
        "techflow-week" => Some(techflow_weeks(1)),
        "techflow-two-weeks" => Some(techflow_weeks(2)),
        "flash-sale" | "flash-sale-floor" => Some(flash_sale()),
        _ => None,
    }
}

/// Built-in scenario `name`, parsed and validated like a file.
///
/// Errors: an unknown name (listing the built-ins); a parse error would be a bug caught by tests.
pub fn scenario(name: &str) -> Result<Scenario, ScenarioError> {
    let (Some(text), Some(csv)) = (toml(name), trace_csv(name)) else {
        return Err(ScenarioError::one(
            name,
            None,
            format!(
                "no such built-in scenario and no such file: built-ins are {}",
                NAMES.join(", ")
            ),
        ));
    };
    scenario::parse(text, &format!("<built-in {name}>.toml"), |_| {
        Ok((csv.clone(), format!("<built-in {name}>.csv")))
    })
}

/// Writes `<name>.toml` and `<name>.csv` of every built-in scenario into `dir`.
///
/// Errors: the directory or a file cannot be written.
pub fn write_all(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for name in NAMES {
        std::fs::write(
            dir.join(format!("{name}.toml")),
            toml(name).unwrap_or_default(),
        )?;
        std::fs::write(
            dir.join(format!("{name}.csv")),
            trace_csv(name).unwrap_or_default(),
        )?;
    }
    Ok(())
}

/// A deterministic value in [-1, 1] for `i` (SplitMix64 of a fixed seed plus `i`).
fn noise(i: u64) -> f64 {
    let mut z = 0x5EED_5CA1_E000_0000u64.wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

fn smoothstep(x: f64) -> f64 {
    let x = x.clamp(0.0, 1.0);
    x * x * (3.0 - 2.0 * x)
}

/// Off-peak traffic at local hour `h`: 1100 rps at 4 AM, 1600 at 4 PM (20-30% CPU on 5 workers).
fn off_peak(h: f64) -> f64 {
    1350.0 + 250.0 * (2.0 * std::f64::consts::PI * (h - 16.0) / 24.0).cos()
}

/// Peak traffic at local hour `h` in 9..21: 5700 rps at the edges, 6300 at 3 PM (70-80% CPU on
/// 5 workers with the built-in workload).
fn peak(h: f64) -> f64 {
    5700.0 + 600.0 * (std::f64::consts::PI * (h - 9.0) / 12.0).sin()
}

/// TechFlow's day without the flash sale, at local hour `h` (0..24).
fn techflow_day(h: f64) -> f64 {
    match h {
        h if (9.0..21.0).contains(&h) => peak(h),
        h if (8.0..9.0).contains(&h) => {
            off_peak(h) + (peak(9.0) - off_peak(h)) * smoothstep(h - 8.0)
        }
        h if (21.0..22.0).contains(&h) => {
            peak(21.0) + (off_peak(h) - peak(21.0)) * smoothstep(h - 21.0)
        }
        h => off_peak(h),
    }
}

/// One row a minute for `weeks` weeks from Monday 00:00 Asia/Dhaka; every Friday 20:00 traffic
/// triples within 2 minutes, holds for an hour, and returns to normal over 10 minutes. Noise
/// ±1.5% (each minute its own, so the second week is not a copy of the first).
fn techflow_weeks(weeks: u64) -> String {
    let mut out = String::from("time,rps\n");
    let minutes = weeks * 7 * 24 * 60;
    let friday = 4.0 * 24.0;
    for m in 0..=minutes {
        let hours = m as f64 / 60.0;
        let h = hours % 24.0;
        let since_sale = hours % (7.0 * 24.0) - (friday + 20.0);
        let factor = if (0.0..1.0).contains(&since_sale) {
            1.0 + 2.0 * (since_sale * 30.0).min(1.0)
        } else if (1.0..1.0 + 1.0 / 6.0).contains(&since_sale) {
            3.0 - 2.0 * (since_sale - 1.0) * 6.0
        } else {
            1.0
        };
        let rps = techflow_day(h) * factor * (1.0 + 0.015 * noise(m));
        let _ = writeln!(out, "{},{:.1}", m * 60, rps);
    }
    out
}

/// Four hours from Friday 19:00 Asia/Dhaka, RFC 3339 times, one row a minute: 1500 rps (±2%)
/// for an hour, ×4 within 2 minutes, held for 2 hours, back within 2 minutes.
fn flash_sale() -> String {
    let start: DateTime<FixedOffset> =
        DateTime::parse_from_rfc3339("2026-11-27T19:00:00+06:00").expect("a valid constant");
    let mut out = String::from("time,rps\n");
    for m in 0..=240i64 {
        let factor = match m {
            0..=60 => 1.0,
            61 => 2.5,
            62..=180 => 4.0,
            181 => 2.5,
            _ => 1.0,
        };
        let rps = 1500.0 * factor * (1.0 + 0.02 * noise(1_000_000 + m as u64));
        let at = start + Duration::minutes(m);
        let _ = writeln!(out, "{},{:.1}", at.to_rfc3339(), rps);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_ins_parse_and_match_the_committed_files() {
        for name in NAMES {
            let s = scenario(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(s.name, name);
            let committed = std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.csv")),
            )
            .unwrap_or_else(|e| panic!("{name}.csv: {e}"));
            assert!(
                committed == trace_csv(name).unwrap(),
                "sim/scenarios/{name}.csv differs from the generator: run `smartscale scenarios --write sim/scenarios`"
            );
        }
        assert!(scenario("nope").is_err());
    }

    #[test]
    fn techflow_week_has_the_promised_shape() {
        let s = scenario("techflow-week").unwrap();
        assert_eq!(s.trace.duration_secs(), 7.0 * 86_400.0);
        assert_eq!(s.start.offset().local_minus_utc(), 6 * 3600);
        let at = |day: f64, hour: f64| {
            let i = ((day * 24.0 + hour) * 60.0) as usize;
            s.trace.points[i].1
        };
        for day in 0..7 {
            let d = day as f64;
            for h in [9.5, 12.0, 15.0, 20.5] {
                if day == 4 && h == 20.5 {
                    continue;
                }
                let r = at(d, h);
                assert!((5500.0..6500.0).contains(&r), "day {day} {h}h: {r}");
            }
            for h in [0.0, 4.0, 7.0, 23.0] {
                let r = at(d, h);
                assert!((1000.0..1700.0).contains(&r), "day {day} {h}h: {r}");
            }
        }
        let sale = at(4.0, 20.5);
        assert!((16_000.0..19_500.0).contains(&sale), "flash sale {sale}");
    }

    #[test]
    fn flash_sale_steps_four_times_within_two_minutes() {
        let s = scenario("flash-sale").unwrap();
        let p = &s.trace.points;
        assert_eq!(s.trace.duration_secs(), 4.0 * 3600.0);
        assert!(p[60].1 < 1600.0 && p[62].1 > 5800.0, "{:?}", &p[59..64]);
        assert_eq!(p[62].0 - p[60].0, 120.0);
    }
}
