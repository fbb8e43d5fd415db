//! The stored form of a [`DemandHistory`]: one short text, so the whole week fits one DynamoDB
//! item with room to spare (a full week is about 10 KB against the item limit of 400 KB; the test
//! below checks it) and a tick reads and writes a few capacity units, not a hundred.
//!
//! Needs are kept in thousandths of a worker. A bucket is stored by its place in the week and how
//! many weeks before the newest bucket's week it was recorded; the rest as numbers. The layout is
//! versioned (`v`); a text of another version is an error, and the caller starts afresh (the
//! Prometheus backfill refills the week, docs/SCALING_ALGORITHM.md "Forecast history").

use super::{Bucket, DemandHistory, HourError, BUCKETS, BUCKET_SECS, WEEK_SECS};
use serde::{Deserialize, Serialize};

/// The layout written by [`encode`].
const VERSION: u8 = 1;

#[derive(Serialize, Deserialize)]
struct Stored {
    v: u8,
    /// Start of the week (bucket 0) of the newest bucket, Unix seconds.
    w: i64,
    /// Per bucket, `<weeks before w>:<milli-workers>` or empty, joined by `,`.
    b: String,
    /// Forecasts issued: (bucket start, milli-workers).
    i: Vec<(i64, i64)>,
    /// Per hour of the week, `<count>:<abs milli>:<bias milli>` or empty, joined by `,`.
    e: String,
    /// The last need recorded: (Unix seconds, milli-workers).
    l: Option<(i64, i64)>,
    /// Boot-to-Ready seconds.
    r: Option<u64>,
}

fn milli(x: f64) -> i64 {
    (x * 1000.0).round() as i64
}

fn unmilli(x: i64) -> f64 {
    x as f64 / 1000.0
}

/// The stored text of `h`.
pub fn encode(h: &DemandHistory) -> String {
    let week_of = |i: usize, b: &Bucket| b.start - i as i64 * BUCKET_SECS;
    let w = h
        .buckets
        .iter()
        .enumerate()
        .filter_map(|(i, b)| b.as_ref().map(|b| week_of(i, b)))
        .max()
        .unwrap_or(0);
    let b = h
        .buckets
        .iter()
        .enumerate()
        .map(|(i, b)| match b {
            Some(b) if (w - week_of(i, b)) % WEEK_SECS == 0 => {
                format!("{}:{}", (w - week_of(i, b)) / WEEK_SECS, milli(b.need))
            }
            _ => String::new(),
        })
        .collect::<Vec<_>>()
        .join(",");
    let e = h
        .errors
        .iter()
        .map(|e| match e.count {
            0 => String::new(),
            n => format!("{n}:{}:{}", milli(e.abs_sum), milli(e.bias_sum)),
        })
        .collect::<Vec<_>>()
        .join(",");
    let stored = Stored {
        v: VERSION,
        w,
        b,
        i: h.issued.iter().map(|&(s, f)| (s, milli(f))).collect(),
        e,
        l: h.latest.map(|(t, n)| (t, milli(n))),
        r: h.boot_to_ready_secs,
    };
    serde_json::to_string(&stored).unwrap_or_default()
}

/// The history stored as `text` by [`encode`].
///
/// Errors: a text that is not this layout (another version, a bucket or hour list of the wrong
/// length, a number that does not parse), saying which part.
pub fn decode(text: &str) -> Result<DemandHistory, String> {
    let s: Stored =
        serde_json::from_str(text).map_err(|e| format!("not a stored demand history: {e}"))?;
    if s.v != VERSION {
        return Err(format!(
            "stored demand history has layout {}, this build reads {VERSION}",
            s.v
        ));
    }
    let pair = |part: &str, what: &str| -> Result<(i64, i64), String> {
        let (a, b) = part
            .split_once(':')
            .ok_or_else(|| format!("{what} '{part}' is not a:b"))?;
        let n = |x: &str| {
            x.parse::<i64>()
                .map_err(|_| format!("{what} '{part}' holds a non-number"))
        };
        Ok((n(a)?, n(b)?))
    };
    let parts: Vec<&str> = s.b.split(',').collect();
    if parts.len() != BUCKETS {
        return Err(format!(
            "stored demand history has {} buckets, not {BUCKETS}",
            parts.len()
        ));
    }
    let mut buckets = Vec::with_capacity(BUCKETS);
    for (i, part) in parts.into_iter().enumerate() {
        buckets.push(match part {
            "" => None,
            p => {
                let (weeks, need) = pair(p, "bucket")?;
                Some(Bucket {
                    start: s.w - weeks * WEEK_SECS + i as i64 * BUCKET_SECS,
                    need: unmilli(need),
                })
            }
        });
    }
    let hours: Vec<&str> = s.e.split(',').collect();
    if hours.len() != 168 {
        return Err(format!(
            "stored demand history has {} hours of errors, not 168",
            hours.len()
        ));
    }
    let mut errors = Vec::with_capacity(168);
    for part in hours {
        errors.push(match part {
            "" => HourError::default(),
            p => {
                let (count, rest) = p
                    .split_once(':')
                    .ok_or_else(|| format!("hour error '{p}' is not count:abs:bias"))?;
                let (abs, bias) = pair(rest, "hour error")?;
                HourError {
                    count: count
                        .parse()
                        .map_err(|_| format!("hour error '{p}' holds a non-number"))?,
                    abs_sum: unmilli(abs),
                    bias_sum: unmilli(bias),
                }
            }
        });
    }
    Ok(DemandHistory {
        buckets,
        issued: s.i.into_iter().map(|(t, f)| (t, unmilli(f))).collect(),
        errors,
        latest: s.l.map(|(t, n)| (t, unmilli(n))),
        boot_to_ready_secs: s.r,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::{at, cfg};
    use super::*;

    /// Two full weeks at a tick every 2 minutes, with needs of many digits, forecasts issued and
    /// errors in every hour: the fullest history a deployment keeps.
    fn full() -> DemandHistory {
        let c = cfg();
        let mut h = DemandHistory::default();
        for m in (0..14 * 1440).step_by(2) {
            let now = at(m);
            h.record(
                now,
                2.0 + (m % 977) as f64 / 97.3,
                c.cluster_utc_offset_secs,
            );
            h.issue(
                now + chrono::Duration::minutes(15),
                3.0 + (m % 13) as f64 / 7.0,
                c.cluster_utc_offset_secs,
            );
        }
        h.boot_to_ready_secs = Some(95);
        h
    }

    /// Needs compared at the stored precision.
    fn rounded(h: &DemandHistory) -> DemandHistory {
        let r = |x: f64| unmilli(milli(x));
        DemandHistory {
            buckets: h
                .buckets
                .iter()
                .map(|b| {
                    b.map(|b| Bucket {
                        start: b.start,
                        need: r(b.need),
                    })
                })
                .collect(),
            issued: h.issued.iter().map(|&(s, f)| (s, r(f))).collect(),
            errors: h
                .errors
                .iter()
                .map(|e| HourError {
                    count: e.count,
                    abs_sum: r(e.abs_sum),
                    bias_sum: r(e.bias_sum),
                })
                .collect(),
            latest: h.latest.map(|(t, n)| (t, r(n))),
            boot_to_ready_secs: h.boot_to_ready_secs,
        }
    }

    #[test]
    fn a_full_week_fits_one_item_and_round_trips() {
        let h = full();
        assert!(h.buckets.iter().all(Option::is_some));
        assert!(h.errors.iter().all(|e| e.count > 0));
        let text = encode(&h);
        // DynamoDB's item limit is 400 KB for names and values together; the item also holds the
        // key and a few small attributes.
        assert!(text.len() < 16_000, "{} bytes", text.len());
        assert_eq!(decode(&text).unwrap(), rounded(&h));
    }

    #[test]
    fn round_trips() {
        struct Case {
            name: &'static str,
            history: DemandHistory,
        }
        let c = cfg();
        let mut two_weeks_apart = DemandHistory::default();
        two_weeks_apart.record(at(10), 3.5, c.cluster_utc_offset_secs);
        two_weeks_apart.record(at(2 * 7 * 1440 + 600), 4.25, c.cluster_utc_offset_secs);
        let cases = [
            Case {
                name: "empty",
                history: DemandHistory::default(),
            },
            Case {
                name: "buckets from different weeks",
                history: two_weeks_apart,
            },
        ];
        for case in cases {
            let text = encode(&case.history);
            assert_eq!(
                decode(&text).as_ref(),
                Ok(&rounded(&case.history)),
                "case {}",
                case.name
            );
        }
    }

    #[test]
    fn bad_texts_say_what_is_wrong() {
        let good: serde_json::Value = serde_json::from_str(&encode(&full())).unwrap();
        let with = |key: &str, value: serde_json::Value| {
            let mut v = good.clone();
            v[key] = value;
            v.to_string()
        };
        let cases = [
            ("not json", "{".to_string(), "not a stored demand history"),
            ("other version", with("v", 9.into()), "layout 9"),
            ("short bucket list", with("b", "1:2,".into()), "2 buckets"),
            ("short hour list", with("e", "".into()), "1 hours"),
            (
                "a bucket without its week",
                with("b", [""; BUCKETS].join(",").replacen("", "7", 1).into()),
                "bucket '7' is not a:b",
            ),
        ];
        for (name, text, want) in cases {
            let err = decode(&text).unwrap_err();
            assert!(err.contains(want), "case {name}: {err}");
        }
    }
}
