//! The one error of scenario and trace files: every problem, with its file and line.

use std::fmt;

/// One problem in an input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The file (or `<built-in name>` for built-in scenarios).
    pub file: String,
    /// 1-based line, when the problem has one.
    pub line: Option<usize>,
    /// What is wrong and, where possible, what would be right.
    pub message: String,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// A scenario or trace that cannot be used: every problem found, in file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    /// At least one problem.
    pub problems: Vec<Located>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.problems.iter().map(ToString::to_string).collect();
        write!(f, "{}", lines.join("\n"))
    }
}

impl ScenarioError {
    /// The error of one problem in `file` (at `line`, when it has one).
    pub(crate) fn one(file: &str, line: Option<usize>, message: impl Into<String>) -> Self {
        ScenarioError {
            problems: vec![Located {
                file: file.to_owned(),
                line,
                message: message.into(),
            }],
        }
    }
}
