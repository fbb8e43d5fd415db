//! End-to-end: the built binary on the built-in scenarios and on bad input.

use std::process::Command;

fn smartscale(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_smartscale"))
        .args(args)
        .output()
        .expect("the binary runs")
}

#[test]
fn flash_sale_json_has_one_object_per_policy() {
    let out = smartscale(&["simulate", "--scenario", "flash-sale", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    // The five policies, and the bound at the Karpenter model's floor (0, below MIN_NODES).
    assert_eq!(
        lines.len(),
        smartscale_sim::policy::PolicyKind::ALL.len() + 1
    );
    let karpenter = lines.iter().find(|l| l["policy"] == "karpenter-model");
    assert_eq!(karpenter.unwrap()["bound"], "oracle-low-floor");
    for key in [
        "scenario",
        "policy",
        "duration_hours",
        "node_hours",
        "cost_usd",
        "savings_pct",
        "pending_pod_minutes",
        "max_pending_seconds",
        "overload_minutes",
        "unserved_cpu_pct",
        "scale_ups",
        "scale_downs",
        "nodes_min",
        "nodes_max",
    ] {
        for l in &lines {
            assert!(l.get(key).is_some(), "{key} missing in {l}");
        }
    }
    let baseline = lines.iter().find(|l| l["policy"] == "baseline").unwrap();
    assert_eq!(baseline["savings_pct"], 0.0);
    // The baseline's cost is nodes × hours × price.
    let cost = baseline["cost_usd"].as_f64().unwrap();
    assert!((cost - 5.0 * 4.0 * 0.0208).abs() < 1e-9, "{cost}");
}

#[test]
fn bad_input_exits_non_zero_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &str, &str)] = &[
        // (name, toml, csv, expected in stderr)
        (
            "unknown key",
            "[scenario]\ntrace = \"t.csv\"\nbogus = 1\n",
            "time,rps\n0,1\n60,2\n",
            "s.toml:3: unknown key `bogus`",
        ),
        (
            "bad header",
            "[scenario]\ntrace = \"t.csv\"\n",
            "t,r\n0,1\n",
            "t.csv:1: bad header",
        ),
        (
            "non-monotonic time",
            "[scenario]\ntrace = \"t.csv\"\n",
            "time,rps\n0,1\n60,2\n30,3\n",
            "t.csv:4: time `30` is not after",
        ),
        (
            "negative rps",
            "[scenario]\ntrace = \"t.csv\"\n",
            "time,rps\n0,1\n60,-2\n",
            "t.csv:3: rps -2",
        ),
        (
            "missing trace",
            "[scenario]\ntrace = \"nope.csv\"\n",
            "",
            "nope.csv: cannot read the trace",
        ),
        ("malformed toml", "[scenario\n", "", "s.toml:1:"),
        (
            "policy validated by core",
            "[scenario]\ntrace = \"t.csv\"\n[policy]\nMIN_NODES = 0\n",
            "time,rps\n0,1\n60,2\n",
            "s.toml:4: [policy] MIN_NODES: must be at least 1",
        ),
        (
            "unknown policy setting",
            "[scenario]\ntrace = \"t.csv\"\n[policy]\nMIN_NODE = 3\n",
            "time,rps\n0,1\n60,2\n",
            "s.toml:4: unknown policy setting `MIN_NODE`",
        ),
        (
            "an ICE period without its start",
            "[scenario]\ntrace = \"t.csv\"\n[spot]\nice = [{ instance_type = \"t3.small\", duration = \"1h\" }]\n",
            "time,rps\n0,1\n60,2\n",
            "s.toml:4: ice: each period needs instance_type, start and duration",
        ),
        (
            "a Spot discount of 100 %",
            "[scenario]\ntrace = \"t.csv\"\n[pricing]\nspot_discount = 100\n",
            "time,rps\n0,1\n60,2\n",
            "s.toml:4: spot_discount: 100 must be below 100",
        ),
        (
            "an interruption rate above 100 %",
            "[scenario]\ntrace = \"t.csv\"\n[spot]\ninterruption_rate = \"120%\"\n",
            "time,rps\n0,1\n60,2\n",
            "s.toml:4: interruption_rate: 120 is outside 0-100",
        ),
        (
            "a launchable type without a price",
            "[scenario]\ntrace = \"t.csv\"\n[policy]\nWORKER_INSTANCE_TYPES = \"m9.huge\"\n",
            "time,rps\n0,1\n60,2\n",
            "no price for m9.huge in us-east-1",
        ),
    ];
    for (name, toml, csv, want) in cases {
        std::fs::write(dir.path().join("s.toml"), toml).unwrap();
        std::fs::write(dir.path().join("t.csv"), csv).unwrap();
        let path = dir.path().join("s.toml");
        let out = smartscale(&["simulate", "--scenario", path.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "case {name}: {err}");
        assert!(err.contains(want), "case {name}: {err:?} lacks {want:?}");
    }
    let out = smartscale(&["simulate", "--scenario", "no-such-scenario"]);
    assert_eq!(out.status.code(), Some(2));
}
