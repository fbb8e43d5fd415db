//! Parsing of the values configuration variables hold: durations, percentages, quantities, lists.
//!
//! Each parser returns a sentence saying what is wrong and what a valid value looks like, which
//! [`super::Config`] prefixes with the variable's name.

/// Parses a duration into whole seconds: `300` (seconds), `300s`, `5m`, `1h`, `1500ms` (rounded up).
///
/// Errors name the value and the accepted units; a negative or fractional-second result is refused.
///
/// Errors: not a duration, or longer than [`MAX_DURATION_SECS`] (so no cooldown, window or
/// timeout can overflow the time arithmetic it feeds).
pub fn parse_duration_secs(raw: &str) -> Result<u64, String> {
    let secs = parse_duration_f64(raw)?.ceil();
    if secs > MAX_DURATION_SECS as f64 {
        return Err(format!(
            "'{raw}' is longer than the {MAX_DURATION_SECS}s (30 days) any duration may be"
        ));
    }
    Ok(secs as u64)
}

/// The longest any duration setting may be (30 days): far above every sensible cooldown, window
/// or timeout, and far below what `chrono` can add to a time without overflowing.
pub const MAX_DURATION_SECS: u64 = 30 * 86_400;

/// Parses a duration into seconds with fractions kept: `2`, `2s`, `1500ms`, `0.5m`.
pub fn parse_duration_f64(raw: &str) -> Result<f64, String> {
    let s = raw.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    if num.is_empty() {
        return Err(format!(
            "'{raw}' is not a duration: write a number with an optional unit, for example 300, 300s, 5m or 1h"
        ));
    }
    let value: f64 = num
        .parse()
        .map_err(|_| format!("'{raw}' is not a number: write for example 300 or 5m"))?;
    let factor = match unit.trim() {
        "" | "s" | "sec" | "secs" => 1.0,
        "ms" => 0.001,
        "m" | "min" | "mins" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "unknown unit '{other}' in '{raw}': use ms, s, m or h (for example 300s or 5m)"
            ))
        }
    };
    Ok(value * factor)
}

/// Parses a percentage between 0 and 100: `70` or `70%`.
pub fn parse_percent(raw: &str) -> Result<f64, String> {
    let s = raw.trim().trim_end_matches('%').trim();
    let value: f64 = s
        .parse()
        .map_err(|_| format!("'{raw}' is not a number: write a percentage such as 70"))?;
    if !value.is_finite() || !(0.0..=100.0).contains(&value) {
        return Err(format!(
            "{value} is outside 0-100: write a percentage such as 70"
        ));
    }
    Ok(value)
}

/// Parses a non-negative whole number.
pub fn parse_u32(raw: &str) -> Result<u32, String> {
    raw.trim()
        .parse()
        .map_err(|_| format!("'{raw}' is not a whole number >= 0"))
}

/// Parses a non-negative, finite number.
pub fn parse_non_negative(raw: &str) -> Result<f64, String> {
    match raw.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("'{raw}' is not a number >= 0")),
    }
}

/// Parses a boolean: `true`/`false`, `1`/`0`, `yes`/`no` (any case).
pub fn parse_bool(raw: &str) -> Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err(format!("'{raw}' is not a boolean: write true or false")),
    }
}

/// Parses a comma-separated list, dropping empty items and surrounding blanks.
pub fn parse_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Parses a Kubernetes CPU quantity into millicores: `1800m`, `2`, `0.5`.
pub fn parse_cpu_millis(raw: &str) -> Result<u64, String> {
    let s = raw.trim();
    let (num, factor) = match s.strip_suffix('m') {
        Some(n) => (n, 1.0),
        None => (s, 1000.0),
    };
    match num.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok((v * factor).round() as u64),
        _ => Err(format!(
            "'{raw}' is not a CPU quantity: write for example 1800m or 2"
        )),
    }
}

/// Parses a Kubernetes memory quantity into bytes: `1536Mi`, `1.5Gi`, `2G`, `500000`.
pub fn parse_memory_bytes(raw: &str) -> Result<u64, String> {
    let s = raw.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let factor: f64 = match unit {
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0_f64.powi(4),
        other => {
            return Err(format!(
                "unknown unit '{other}' in '{raw}': use Ki, Mi, Gi, k, M or G (for example 1536Mi)"
            ))
        }
    };
    match num.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok((v * factor).round() as u64),
        _ => Err(format!(
            "'{raw}' is not a memory quantity: write for example 1536Mi"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let cases = [
            ("bare seconds", "300", Ok(300)),
            ("seconds", "300s", Ok(300)),
            ("minutes", "5m", Ok(300)),
            ("hours", "1h", Ok(3600)),
            ("millis round up", "1500ms", Ok(2)),
            ("blank around", " 10m ", Ok(600)),
        ];
        for (name, raw, want) in cases {
            assert_eq!(parse_duration_secs(raw), want, "case {name}");
        }
        let bad = [
            ("unknown unit", "5x", "unknown unit 'x'"),
            ("days are not a unit", "1d", "unknown unit 'd'"),
            ("negative", "-5", "not a duration"),
            ("words", "five", "not a duration"),
            ("empty", "", "not a duration"),
            ("two dots", "1.2.3s", "not a number"),
        ];
        for (name, raw, want) in bad {
            let err = parse_duration_secs(raw).unwrap_err();
            assert!(err.contains(want), "case {name}: {err}");
        }
    }

    #[test]
    fn percents() {
        assert_eq!(parse_percent("70"), Ok(70.0));
        assert_eq!(parse_percent("70%"), Ok(70.0));
        assert_eq!(parse_percent("0"), Ok(0.0));
        assert_eq!(parse_percent("100"), Ok(100.0));
        for (name, raw) in [
            ("above", "100.5"),
            ("below", "-1"),
            ("nan", "NaN"),
            ("word", "high"),
        ] {
            assert!(parse_percent(raw).is_err(), "case {name}");
        }
    }

    #[test]
    fn quantities() {
        assert_eq!(parse_cpu_millis("1800m"), Ok(1800));
        assert_eq!(parse_cpu_millis("2"), Ok(2000));
        assert_eq!(parse_cpu_millis("0.25"), Ok(250));
        assert!(parse_cpu_millis("2 cores").is_err());
        assert_eq!(parse_memory_bytes("256Mi"), Ok(256 * 1024 * 1024));
        assert_eq!(parse_memory_bytes("1.5Gi"), Ok(1536 * 1024 * 1024));
        assert_eq!(parse_memory_bytes("2G"), Ok(2_000_000_000));
        assert!(parse_memory_bytes("2GB")
            .unwrap_err()
            .contains("unknown unit 'GB'"));
    }

    #[test]
    fn booleans_and_lists() {
        assert_eq!(parse_bool("TRUE"), Ok(true));
        assert_eq!(parse_bool("no"), Ok(false));
        assert!(parse_bool("maybe").is_err());
        assert_eq!(
            parse_list(" a, ,b ,"),
            vec!["a".to_string(), "b".to_string()]
        );
    }
}
