//! The `smartscale` command-line tool. Each subcommand is one variant of [`Command`] and one
//! function; add a subcommand by adding both.

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use smartscale_sim::scenario::{self, Scenario, ScenarioError};
use smartscale_sim::{builtin, chart, family, report, run, suite, tune, tune_backtest};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "smartscale",
    version,
    about = "SmartScale's planning and testing tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replays a traffic scenario against SmartScale, the fixed-size baseline, the Cluster
    /// Autoscaler and Karpenter models and the clairvoyant oracle, and compares cost and risk;
    /// or, with --suite, every policy over many generated weeks.
    Simulate(SimulateArgs),
    /// Lists the built-in scenarios and families, or writes them (or one family week) as TOML +
    /// CSV files.
    Scenarios(ScenariosArgs),
    /// Searches SmartScale's settings for the cheapest configuration that meets an SLO on a
    /// scenario (your own trace), and prints it next to the current settings, with the Pareto
    /// front of cost against pending pod-minutes.
    Tune(TuneArgs),
    /// Backtests SmartScale's forecast on a scenario: the forecast off, forecast-only and on
    /// (and the seed's rules), against the CA model and the oracle, with the forecast's error per
    /// hour of the week.
    Backtest(BacktestArgs),
    /// Runs the cluster emulator (Kubernetes API subset, nodes following EC2, /metrics).
    #[cfg(feature = "emulator")]
    Emulate(smartscale_emulator::cli::EmulateArgs),
    /// What SmartScale is doing: the lease, the last action, the cooldown, the operation in
    /// flight, the capacity alert, the fleet with its Nodes, the last executions.
    #[cfg(feature = "ops")]
    Status(smartscale_ops::cli::StatusArgs),
    /// What SmartScale would do now and why: a dry run of Evaluate (no lease, nothing written).
    #[cfg(feature = "ops")]
    Explain(smartscale_ops::cli::ExplainArgs),
}

#[derive(clap::Args)]
struct SimulateArgs {
    /// A built-in scenario (techflow-week, flash-sale) or the path of a scenario TOML file.
    #[arg(long, default_value = "techflow-week")]
    scenario: String,
    /// Print one JSON object per policy, one per line, instead of the table.
    #[arg(long)]
    json: bool,
    /// Write per policy a timeline CSV, an SVG chart and the event list, plus a comparison chart,
    /// into this directory.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Run every policy over generated weeks of this family (techflow, volatile) instead of one
    /// scenario, and print each policy's median and worst figures.
    #[arg(long, value_name = "FAMILY", conflicts_with = "out")]
    suite: Option<String>,
    /// Weeks in the suite.
    #[arg(long, default_value_t = 100, requires = "suite")]
    seeds: u64,
    /// Seed of the suite's first week.
    #[arg(long, default_value_t = 1, requires = "suite")]
    first_seed: u64,
    /// Weeks simulated at once (default: the CPUs available).
    #[arg(long, requires = "suite")]
    jobs: Option<usize>,
    /// Only these policies (comma-separated labels: smartscale, baseline,
    /// cluster-autoscaler-model, karpenter-model, oracle); × oracle needs the oracle among them.
    #[arg(long, value_delimiter = ',', requires = "suite")]
    policies: Vec<String>,
    /// SmartScale settings over the scenario's `[policy]` (or each suite week's), by their
    /// environment variable names: `--set ON_DEMAND_PERCENTAGE_ABOVE_BASE=0`. Repeatable. With
    /// Spot in the settings, every peer gets the same offers.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = setting)]
    settings: Vec<(String, String)>,
}

/// One `--set KEY=VALUE`.
fn setting(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
        _ => Err(format!("`{raw}` is not KEY=VALUE")),
    }
}

#[derive(clap::Args)]
struct BacktestArgs {
    /// A built-in scenario or the path of a scenario TOML file.
    #[arg(long, default_value = "techflow-two-weeks")]
    scenario: String,
}

#[derive(clap::Args)]
struct TuneArgs {
    /// A built-in scenario or the path of a scenario TOML file.
    #[arg(long, default_value = "techflow-week")]
    scenario: String,
    /// No pod Pending longer than this, seconds.
    #[arg(long, default_value_t = 180.0)]
    max_pending_seconds: f64,
    /// Overload minutes allowed.
    #[arg(long, default_value_t = 0.0)]
    max_overload_minutes: f64,
    /// Write the Pareto chart (tune-pareto.svg) into this directory.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

#[derive(clap::Args)]
struct ScenariosArgs {
    /// Write every built-in scenario's TOML and CSV (or, with --family, that week's) into this
    /// directory.
    #[arg(long, value_name = "DIR")]
    write: Option<PathBuf>,
    /// A generated week of this family (techflow, volatile) instead of the built-ins.
    #[arg(long, value_name = "NAME")]
    family: Option<String>,
    /// Which week of the family.
    #[arg(long, default_value_t = 1, requires = "family")]
    seed: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Simulate(args) => simulate(args),
        Command::Scenarios(args) => scenarios(args),
        Command::Tune(args) => with_scenario("tune", &args.scenario, |s| tune_cmd(&args, &s)),
        Command::Backtest(args) => with_scenario("backtest", &args.scenario, |s| backtest(&s)),
        #[cfg(feature = "emulator")]
        Command::Emulate(args) => emulate(args),
        #[cfg(feature = "ops")]
        Command::Status(args) => smartscale_ops::cli::status(args),
        #[cfg(feature = "ops")]
        Command::Explain(args) => smartscale_ops::cli::explain(args),
    }
}

#[cfg(feature = "emulator")]
fn emulate(args: smartscale_emulator::cli::EmulateArgs) -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    match smartscale_emulator::cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smartscale emulate: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Runs subcommand `cmd` on the scenario [`resolve`] finds for `name`, or prints why there is
/// none (exit code 2).
fn with_scenario(cmd: &str, name: &str, run: impl FnOnce(Scenario) -> ExitCode) -> ExitCode {
    match resolve(name) {
        Ok(s) => run(s),
        Err(e) => {
            eprintln!("smartscale {cmd}: bad scenario\n{e}");
            ExitCode::from(2)
        }
    }
}

fn backtest(scenario: &Scenario) -> ExitCode {
    match tune_backtest::run(scenario) {
        Ok(b) => {
            print!("{}", b.table(scenario));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("smartscale backtest: {e}");
            ExitCode::from(2)
        }
    }
}

fn tune_cmd(args: &TuneArgs, scenario: &Scenario) -> ExitCode {
    let slo = tune::Slo {
        max_pending_secs: args.max_pending_seconds,
        max_overload_minutes: args.max_overload_minutes,
    };
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    if std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::stderr());
    }
    let trials = tune::search(scenario, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    });
    bar.finish_and_clear();
    print!("{}", tune::report(scenario, &trials, slo));
    if let Some(dir) = &args.out {
        let path = dir.join("tune-pareto.svg");
        let written = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(&path, tune::chart_svg(&trials, slo)));
        if let Err(e) = written {
            eprintln!("smartscale tune: writing {}: {e}", path.display());
            return ExitCode::from(1);
        }
        println!("chart written to {}", path.display());
    }
    ExitCode::SUCCESS
}

/// A built-in name (unless a file of that name exists), else a path.
fn resolve(name: &str) -> Result<Scenario, ScenarioError> {
    let path = Path::new(name);
    if builtin::toml(name).is_some() && !path.exists() {
        builtin::scenario(name)
    } else if path.exists() || name.ends_with(".toml") || name.contains('/') {
        scenario::load(path)
    } else {
        builtin::scenario(name)
    }
}

fn simulate(args: SimulateArgs) -> ExitCode {
    if let Some(name) = &args.suite {
        return simulate_suite(name, &args);
    }
    let scenario = match resolve(&args.scenario) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("smartscale simulate: bad scenario\n{e}");
            return ExitCode::from(2);
        }
    };
    let scenario = match tune::with_settings(&scenario, &args.settings) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("smartscale simulate: bad --set\n{e}");
            return ExitCode::from(2);
        }
    };
    let total = scenario.trace.duration_secs().ceil() as u64 * 3;
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template("{spinner} simulating {msg} [{bar:30}] {percent}% ({eta})")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message(scenario.name.clone());
    let started = Instant::now();
    let mut shown = false;
    let tty = std::io::stderr().is_terminal();
    let results = run::run_all(&scenario, &mut |done| {
        if !shown && tty && started.elapsed() > Duration::from_secs(1) {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            shown = true;
        }
        bar.set_position(done);
    });
    bar.finish_and_clear();

    if args.json {
        print!("{}", report::json_lines(&results));
    } else {
        print!("{}", report::table(&scenario, &results));
    }
    if let Some(dir) = args.out {
        if let Err(e) = write_outputs(&dir, &scenario, &results) {
            eprintln!("smartscale simulate: writing {}: {e}", dir.display());
            return ExitCode::from(1);
        }
        if !args.json {
            println!("timelines, charts and events written to {}", dir.display());
        }
    }
    ExitCode::SUCCESS
}

fn simulate_suite(name: &str, args: &SimulateArgs) -> ExitCode {
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let seeds = args.first_seed..args.first_seed.saturating_add(args.seeds);
    let bar = ProgressBar::with_draw_target(Some(args.seeds), ProgressDrawTarget::hidden());
    if std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::stderr());
    }
    let started = Instant::now();
    let mut chosen = Vec::new();
    for label in &args.policies {
        match smartscale_sim::policy::PolicyKind::ALL
            .into_iter()
            .find(|k| k.label() == label)
        {
            Some(k) => chosen.push(k),
            None => {
                eprintln!("smartscale simulate: unknown policy {label}");
                return ExitCode::from(2);
            }
        }
    }
    if chosen.is_empty() {
        chosen = smartscale_sim::policy::PolicyKind::ALL.to_vec();
    }
    let first = family::scenario(name, args.first_seed).map_err(|e| e.to_string());
    if let Err(e) = first.and_then(|s| tune::with_settings(&s, &args.settings)) {
        eprintln!("smartscale simulate: bad suite or --set\n{e}");
        return ExitCode::from(2);
    }
    let adjust = |s: &mut Scenario| {
        if let Ok(set) = tune::with_settings(s, &args.settings) {
            *s = set;
        }
    };
    let result = suite::run_policies(name, seeds, &chosen, jobs, &adjust, &|done| {
        bar.set_position(done as u64)
    });
    bar.finish_and_clear();
    let suite = match result {
        Ok(s) => s,
        Err(e) => {
            eprintln!("smartscale simulate: bad suite\n{e}");
            return ExitCode::from(2);
        }
    };
    if args.json {
        print!("{}", suite.json_lines());
    } else {
        print!("{}", suite.table());
    }
    let wall = started.elapsed().as_secs_f64();
    eprintln!(
        "{:.0} simulated hours in {wall:.1} s wall on {jobs} thread(s)",
        suite.simulated_hours()
    );
    ExitCode::SUCCESS
}

fn write_outputs(
    dir: &Path,
    scenario: &Scenario,
    results: &[run::RunResult],
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for r in results {
        let base = format!("{}-{}", scenario.name, r.summary.policy);
        std::fs::write(
            dir.join(format!("{base}.csv")),
            report::timeline_csv(scenario, r),
        )?;
        std::fs::write(dir.join(format!("{base}.svg")), chart::single(scenario, r))?;
        std::fs::write(
            dir.join(format!("{base}-events.txt")),
            report::events_text(scenario, r),
        )?;
    }
    std::fs::write(
        dir.join(format!("{}-compare.svg", scenario.name)),
        chart::compare(scenario, results),
    )?;
    std::fs::write(
        dir.join(format!("{}.jsonl", scenario.name)),
        report::json_lines(results),
    )
}

fn scenarios(args: ScenariosArgs) -> ExitCode {
    if let Some(name) = &args.family {
        return family_week(name, args.seed, args.write.as_deref());
    }
    match args.write {
        None => {
            for name in builtin::NAMES {
                let desc = builtin::scenario(name)
                    .map(|s| s.description)
                    .unwrap_or_default();
                println!("{name:<15} {desc}");
            }
            for f in &family::FAMILIES {
                println!("--family {:<6} {}", f.name, f.description);
            }
            ExitCode::SUCCESS
        }
        Some(dir) => match builtin::write_all(&dir) {
            Ok(()) => {
                println!("wrote {} into {}", builtin::NAMES.join(", "), dir.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("smartscale scenarios: writing {}: {e}", dir.display());
                ExitCode::from(1)
            }
        },
    }
}

/// Prints week `seed` of family `name`'s parameters, or writes its TOML and CSV into `dir`.
fn family_week(name: &str, seed: u64, dir: Option<&Path>) -> ExitCode {
    let Some(f) = family::family(name) else {
        let names: Vec<&str> = family::FAMILIES.iter().map(|f| f.name).collect();
        eprintln!(
            "smartscale scenarios: no such family `{name}`: the families are {}",
            names.join(", ")
        );
        return ExitCode::from(2);
    };
    let week = family::Week::draw(f, seed);
    let Some(dir) = dir else {
        println!("{}: {}", week.name, week.description);
        println!(
            "night {:.0} rps; noise ±{:.1} %",
            week.night_rps,
            week.noise * 100.0
        );
        for (d, day) in ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
            .iter()
            .enumerate()
        {
            let (rs, rl) = week.ramps[d];
            let (ds, dl) = week.declines[d];
            println!(
                "{day}: peak {:.0} rps; ramp from {rs:.2} h over {rl:.2} h; decline from {ds:.2} h over {dl:.2} h",
                week.peaks[d]
            );
        }
        for s in &week.sales {
            println!(
                "flash sale at {:.2} h (day {}, {:.2} h): ×{:.2} for {:.0} min",
                s.start_hour,
                (s.start_hour / 24.0).floor() as u32 + 1,
                s.start_hour % 24.0,
                s.factor,
                s.minutes
            );
        }
        return ExitCode::SUCCESS;
    };
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join(format!("{}.toml", week.name)), week.toml())?;
        std::fs::write(dir.join(format!("{}.csv", week.name)), week.trace_csv())
    };
    match write() {
        Ok(()) => {
            println!(
                "wrote {0}.toml and {0}.csv into {1}",
                week.name,
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("smartscale scenarios: writing {}: {e}", dir.display());
            ExitCode::from(1)
        }
    }
}
