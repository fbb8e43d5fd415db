//! Local mode of the one binary (`bootstrap <step> --event FILE`, the `sam local invoke`-style
//! single run): the step named by argument or by `SMARTSCALE_STEP`, the result or the typed error
//! on stdout, and the exit codes scripts rely on (0 done, 1 step error, 2 bad command line).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn events() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

/// Runs the binary with `args`, `extra` environment, `stdin`, and nothing else of the caller's
/// environment (no Runtime API, no endpoints, no notifiers).
fn run(args: &[&str], extra: &[(&str, &str)], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bootstrap"))
        .args(args)
        .env_clear()
        .envs([
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "local"),
            ("AWS_SECRET_ACCESS_KEY", "local"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ])
        .envs(extra.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn last_json(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn local_mode_runs_the_named_step_once() {
    let sample = events().join("notify.scale-up.json");
    let sample = sample.to_str().unwrap();
    struct Case<'a> {
        name: &'a str,
        args: Vec<&'a str>,
        env: Vec<(&'a str, &'a str)>,
        stdin: &'a str,
        code: i32,
        stdout_has: &'a str,
        stderr_has: &'a str,
    }
    let cases = [
        Case {
            name: "step argument and event file",
            args: vec!["notify", "--event", sample],
            env: vec![],
            stdin: "",
            code: 0,
            stdout_has: "{",
            stderr_has: "step finished",
        },
        Case {
            name: "step from SMARTSCALE_STEP, event on stdin",
            args: vec!["--event", "-"],
            env: vec![("SMARTSCALE_STEP", "notify")],
            stdin: r#"{"cluster_id":"c1","execution_id":"arn:aws:states:us-east-1:1:execution:m:x"}"#,
            code: 0,
            stdout_has: "{",
            stderr_has: r#""step":"notify""#,
        },
        Case {
            name: "bad document is the step's Fatal error",
            args: vec!["notify"],
            env: vec![],
            stdin: "{}",
            code: 1,
            stdout_has: r#""errorType":"Fatal""#,
            stderr_has: "",
        },
        Case {
            name: "unknown step",
            args: vec!["launch", "--event", sample],
            env: vec![],
            stdin: "",
            code: 2,
            stdout_has: "",
            stderr_has: "unknown step `launch`",
        },
        Case {
            name: "no step",
            args: vec!["--event", sample],
            env: vec![],
            stdin: "",
            code: 2,
            stdout_has: "",
            stderr_has: "no step named",
        },
    ];
    for c in cases {
        let out = run(&c.args, &c.env, c.stdin);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(c.code), "case {}: {stderr}", c.name);
        if c.code != 2 {
            let v = last_json(&out);
            assert!(v.to_string().contains(c.stdout_has), "case {}: {v}", c.name);
        }
        assert!(stderr.contains(c.stderr_has), "case {}: {stderr}", c.name);
    }
}
