//! Typed values out of one TOML section, with every problem recorded at its line.

use super::error::Located;
use smartscale_engine::config::units::{parse_cpu_millis, parse_duration_secs, parse_memory_bytes};
use std::collections::BTreeMap;
use toml::{Spanned, Value};

/// One section's keys and values, with their places in the text.
pub(crate) type Entries = BTreeMap<Spanned<String>, Spanned<Value>>;

pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The line of `key = …` inside `[section]`, by a plain scan (for problems found after parsing).
pub(crate) fn line_of_key_in(text: &str, section: &str, key: &str) -> Option<usize> {
    let mut current = String::new();
    for (i, l) in text.lines().enumerate() {
        let l = l.trim();
        if let Some(s) = l.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            current = s.trim().to_owned();
        } else if current == section
            && l.split('=').next().map(str::trim) == Some(key)
            && l.contains('=')
        {
            return Some(i + 1);
        }
    }
    None
}

/// Reads typed values out of one section, recording problems with their lines.
pub(crate) struct Reader<'a> {
    pub(crate) text: &'a str,
    pub(crate) file: &'a str,
    pub(crate) problems: Vec<Located>,
    /// Keys the readers of the current section asked for.
    pub(crate) known: Vec<String>,
}

impl Reader<'_> {
    pub(crate) fn bad(&mut self, line: usize, message: String) {
        self.problems.push(Located {
            file: self.file.to_owned(),
            line: Some(line),
            message,
        });
    }

    pub(crate) fn line_of_key(&self, entries: &Entries, key: &str, fallback: usize) -> usize {
        entries
            .keys()
            .find(|k| k.get_ref() == key)
            .map_or(fallback, |k| line_of(self.text, k.span().start))
    }

    pub(crate) fn take(&mut self, entries: &Entries, key: &str) -> Option<(usize, Value)> {
        self.known.push(key.to_owned());
        let (_, v) = entries.iter().find(|(k, _)| k.get_ref() == key)?;
        Some((line_of(self.text, v.span().start), v.get_ref().clone()))
    }

    fn scalar_text(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Integer(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            _ => None,
        }
    }

    fn parsed<T>(
        &mut self,
        entries: &Entries,
        key: &str,
        default: T,
        what: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> T {
        let Some((line, v)) = self.take(entries, key) else {
            return default;
        };
        match Self::scalar_text(&v) {
            None => {
                self.bad(line, format!("{key}: a {} is not {what}", v.type_str()));
                default
            }
            Some(s) => parse(&s).unwrap_or_else(|e| {
                self.bad(line, format!("{key}: {e}"));
                default
            }),
        }
    }

    pub(crate) fn duration(&mut self, e: &Entries, key: &str, default: u64) -> u64 {
        self.parsed(e, key, default, "a duration (90s, 5m)", parse_duration_secs)
    }

    pub(crate) fn cpu(&mut self, e: &Entries, key: &str, default: u64) -> u64 {
        self.parsed(
            e,
            key,
            default,
            "a CPU quantity (200m, 2)",
            parse_cpu_millis,
        )
    }

    pub(crate) fn memory(&mut self, e: &Entries, key: &str, default: u64) -> u64 {
        self.parsed(
            e,
            key,
            default,
            "a memory quantity (256Mi)",
            parse_memory_bytes,
        )
    }

    pub(crate) fn number(&mut self, e: &Entries, key: &str, default: f64) -> f64 {
        self.parsed(e, key, default, "a number", |s| match s.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
            _ => Err(format!("`{s}` is not a number >= 0")),
        })
    }

    pub(crate) fn count(&mut self, e: &Entries, key: &str, default: u32) -> u32 {
        self.parsed(e, key, default, "a whole number", |s| {
            s.parse::<u32>()
                .map_err(|_| format!("`{s}` is not a whole number >= 0"))
        })
    }

    pub(crate) fn opt_string(&mut self, e: &Entries, key: &str) -> Option<String> {
        let (line, v) = self.take(e, key)?;
        match v {
            Value::String(s) => Some(s),
            other => {
                self.bad(
                    line,
                    format!("{key}: a {} is not a string", other.type_str()),
                );
                None
            }
        }
    }

    pub(crate) fn string(&mut self, e: &Entries, key: &str, default: &str) -> String {
        self.opt_string(e, key)
            .unwrap_or_else(|| default.to_owned())
    }

    pub(crate) fn boolean(&mut self, e: &Entries, key: &str, default: bool) -> bool {
        match self.take(e, key) {
            None => default,
            Some((_, Value::Boolean(b))) => b,
            Some((line, other)) => {
                self.bad(
                    line,
                    format!("{key}: a {} is not true or false", other.type_str()),
                );
                default
            }
        }
    }

    pub(crate) fn string_list(
        &mut self,
        e: &Entries,
        key: &str,
        default: &[String],
    ) -> Vec<String> {
        match self.take(e, key) {
            None => default.to_vec(),
            Some((line, Value::Array(items))) => {
                let list: Option<Vec<String>> = items
                    .iter()
                    .map(|i| i.as_str().map(str::to_owned))
                    .collect();
                match list {
                    Some(l) if !l.is_empty() => l,
                    _ => {
                        self.bad(line, format!("{key}: must be a non-empty list of strings"));
                        default.to_vec()
                    }
                }
            }
            Some((line, other)) => {
                self.bad(
                    line,
                    format!("{key}: a {} is not a list of strings", other.type_str()),
                );
                default.to_vec()
            }
        }
    }

    /// Reports every key of `section` that no reader asked for, then starts a new section.
    pub(crate) fn finish(&mut self, entries: Entries, section: &str) {
        let known = std::mem::take(&mut self.known);
        for k in entries.keys() {
            if !known.contains(k.get_ref()) {
                let line = line_of(self.text, k.span().start);
                self.bad(
                    line,
                    format!(
                        "unknown key `{}` in [{section}]: expected one of {}",
                        k.get_ref(),
                        known.join(", ")
                    ),
                );
            }
        }
    }
}
