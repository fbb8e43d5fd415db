//! Parsing of Prometheus `/api/v1/query` answers into the value, sample timestamp and sample
//! count of one SmartScale query (see [`super::query`] for how those arrive in one vector).
//!
//! The parser takes arbitrary bytes and never panics: every malformed input is a
//! [`ParseError`] (a property test feeds it random bytes).

use super::query::{FIELD_LABEL, FIELD_SAMPLES, FIELD_TIMESTAMP};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// One series of an instant vector: labels, value, evaluation timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Labels, `__name__` included when Prometheus kept it.
    pub labels: BTreeMap<String, String>,
    /// The value; may be NaN or ±Inf, which validation rejects later.
    pub value: f64,
}

/// The parts of one query's answer. Every field is `None` when its series was absent.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Answer {
    /// The value series.
    pub value: Option<f64>,
    /// Unix seconds of the newest sample behind the value.
    pub sample_time: Option<f64>,
    /// Samples in the window (window queries only).
    pub samples: Option<f64>,
}

/// Why an answer could not be read. Each variant is a failed query, never "no data".
#[derive(Debug, Clone, PartialEq)]
pub enum ParseError {
    /// The body is not the JSON Prometheus sends.
    Malformed(String),
    /// Prometheus answered `status: error` (bad query, execution timeout, …).
    Prometheus {
        /// `errorType`, for example `bad_data` or `timeout`.
        error_type: String,
        /// `error`, Prometheus's message.
        error: String,
    },
    /// The result is not an instant vector.
    UnexpectedResultType(String),
    /// A value is not a number Prometheus would send.
    BadNumber(String),
    /// More than one series for the same part (the query must aggregate to one series).
    Ambiguous(String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Malformed(m) => write!(f, "malformed response: {m}"),
            ParseError::Prometheus { error_type, error } => {
                write!(f, "prometheus error {error_type}: {error}")
            }
            ParseError::UnexpectedResultType(t) => write!(f, "expected a vector result, got {t}"),
            ParseError::BadNumber(v) => write!(f, "not a number: {v:?}"),
            ParseError::Ambiguous(what) => write!(f, "more than one series for {what}"),
        }
    }
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(rename = "errorType", default)]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct VectorItem {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    value: (serde_json::Value, String),
}

/// Parses a number as Prometheus writes it (`"0.8"`, `"NaN"`, `"+Inf"`, `"-Inf"`, `"1e3"`).
pub fn parse_number(text: &str) -> Result<f64, ParseError> {
    match text {
        "NaN" => Ok(f64::NAN),
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => {
            let ok = !text.is_empty()
                && text
                    .chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
            if !ok {
                return Err(ParseError::BadNumber(text.chars().take(40).collect()));
            }
            text.parse::<f64>()
                .map_err(|_| ParseError::BadNumber(text.chars().take(40).collect()))
        }
    }
}

/// The `data` of a successful answer (instant or range): its `resultType` and `result`.
///
/// Errors: a body that is not Prometheus's JSON, or Prometheus's own error.
pub(super) fn success_data(body: &[u8]) -> Result<(String, serde_json::Value), ParseError> {
    let env: Envelope =
        serde_json::from_slice(body).map_err(|e| ParseError::Malformed(e.to_string()))?;
    if env.status != "success" {
        return Err(ParseError::Prometheus {
            error_type: env.error_type.unwrap_or_else(|| env.status.clone()),
            error: env.error.unwrap_or_default(),
        });
    }
    let data = env
        .data
        .ok_or_else(|| ParseError::Malformed("status success without data".into()))?;
    Ok((data.result_type, data.result))
}

/// Parses an instant-query body into its series.
pub fn parse_vector(body: &[u8]) -> Result<Vec<Sample>, ParseError> {
    let (result_type, result) = success_data(body)?;
    if result_type != "vector" {
        return Err(ParseError::UnexpectedResultType(
            result_type.chars().take(40).collect(),
        ));
    }
    let items: Vec<VectorItem> =
        serde_json::from_value(result).map_err(|e| ParseError::Malformed(e.to_string()))?;
    items
        .into_iter()
        .map(|item| {
            Ok(Sample {
                labels: item.metric,
                value: parse_number(&item.value.1)?,
            })
        })
        .collect()
}

/// Sorts the series of one answer into value, sample time and sample count.
pub fn parse_answer(body: &[u8]) -> Result<Answer, ParseError> {
    let mut answer = Answer::default();
    for sample in parse_vector(body)? {
        let (slot, what) = match sample.labels.get(FIELD_LABEL).map(String::as_str) {
            None => (&mut answer.value, "the value"),
            Some(FIELD_TIMESTAMP) => (&mut answer.sample_time, "the sample timestamp"),
            Some(FIELD_SAMPLES) => (&mut answer.samples, "the sample count"),
            Some(other) => {
                return Err(ParseError::Malformed(format!(
                    "unknown {FIELD_LABEL} {other:?}"
                )))
            }
        };
        if slot.replace(sample.value).is_some() {
            return Err(ParseError::Ambiguous(what.into()));
        }
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(result: &str) -> String {
        format!(r#"{{"status":"success","data":{{"resultType":"vector","result":[{result}]}}}}"#)
    }

    #[test]
    fn answers_table() {
        let value = r#"{"metric":{"__name__":"smartscale:cpu_utilisation:min_3m"},"value":[1735689600,"0.8"]}"#;
        let ts =
            r#"{"metric":{"smartscale_field":"timestamp"},"value":[1735689600,"1735689586.765"]}"#;
        let samples = r#"{"metric":{"__name__":"smartscale:cpu_utilisation:samples_3m","smartscale_field":"samples"},"value":[1735689600,"12"]}"#;
        let nan = r#"{"metric":{},"value":[1735689600,"NaN"]}"#;
        let cases: Vec<(&str, String, Result<Answer, ParseError>)> = vec![
            (
                "value, timestamp and samples",
                ok(&format!("{value},{ts},{samples}")),
                Ok(Answer {
                    value: Some(0.8),
                    sample_time: Some(1735689586.765),
                    samples: Some(12.0),
                }),
            ),
            ("no series at all", ok(""), Ok(Answer::default())),
            (
                "timestamp only: the value series is absent",
                ok(ts),
                Ok(Answer {
                    value: None,
                    sample_time: Some(1735689586.765),
                    samples: None,
                }),
            ),
            (
                "two value series",
                ok(&format!("{value},{value}")),
                Err(ParseError::Ambiguous("the value".into())),
            ),
            (
                "prometheus error",
                r#"{"status":"error","errorType":"bad_data","error":"parse error at char 3"}"#
                    .into(),
                Err(ParseError::Prometheus {
                    error_type: "bad_data".into(),
                    error: "parse error at char 3".into(),
                }),
            ),
            (
                "scalar result",
                r#"{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}"#.into(),
                Err(ParseError::UnexpectedResultType("scalar".into())),
            ),
            (
                "garbage number",
                ok(r#"{"metric":{},"value":[1,"0x10"]}"#),
                Err(ParseError::BadNumber("0x10".into())),
            ),
            (
                "html from a proxy",
                "<html>502 Bad Gateway</html>".into(),
                Err(ParseError::Malformed(String::new())),
            ),
            (
                "success without data",
                r#"{"status":"success"}"#.into(),
                Err(ParseError::Malformed(String::new())),
            ),
            (
                "value not a pair",
                ok(r#"{"metric":{},"value":"1"}"#),
                Err(ParseError::Malformed(String::new())),
            ),
        ];
        for (name, body, want) in cases {
            let got = parse_answer(body.as_bytes());
            match (&got, &want) {
                // Malformed messages come from serde; the variant is what matters.
                (Err(ParseError::Malformed(_)), Err(ParseError::Malformed(_))) => {}
                _ => assert_eq!(got, want, "case {name}"),
            }
        }
        let nan = parse_answer(ok(nan).as_bytes()).unwrap();
        assert!(
            nan.value.unwrap().is_nan(),
            "NaN is parsed, and rejected later by validation"
        );
    }

    #[test]
    fn numbers_table() {
        let cases: [(&str, &str, Option<f64>); 9] = [
            ("decimal", "0.75", Some(0.75)),
            ("integer", "12", Some(12.0)),
            ("exponent", "1.5e3", Some(1500.0)),
            ("negative", "-1", Some(-1.0)),
            ("plus infinity", "+Inf", Some(f64::INFINITY)),
            ("minus infinity", "-Inf", Some(f64::NEG_INFINITY)),
            ("empty", "", None),
            ("word", "infinity", None),
            ("hex", "0x1p3", None),
        ];
        for (name, text, want) in cases {
            assert_eq!(parse_number(text).ok(), want, "case {name}");
        }
        assert!(parse_number("NaN").unwrap().is_nan());
    }

    proptest! {
        #[test]
        fn parser_never_panics_on_arbitrary_bytes(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_answer(&body);
        }

        #[test]
        fn parser_never_panics_on_almost_valid_json(
            status in "(success|error|)",
            rtype in "(vector|matrix|scalar|string|x)",
            field in "(timestamp|samples|other|)",
            num in "[-+0-9.eEaInNf]{0,12}",
            ts in "(1735689600|\"x\"|null|-1e400)",
        ) {
            let metric = if field.is_empty() { String::new() } else { format!(r#""smartscale_field":"{field}""#) };
            let body = format!(
                r#"{{"status":"{status}","data":{{"resultType":"{rtype}","result":[{{"metric":{{{metric}}},"value":[{ts},"{num}"]}}]}}}}"#
            );
            let _ = parse_answer(body.as_bytes());
        }
    }
}
