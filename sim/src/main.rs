//! The `smartscale` command-line tool. Each subcommand is one variant of [`Command`] and one
//! function; add a subcommand by adding both.

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use smartscale_sim::scenario::{self, Scenario, ScenarioError};
use smartscale_sim::{builtin, chart, report, run};
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
    /// Replays a traffic scenario against SmartScale, a fixed-size baseline and a Cluster
    /// Autoscaler model, and compares cost and risk.
    Simulate(SimulateArgs),
    /// Lists the built-in scenarios, or writes them as TOML + CSV files.
    Scenarios(ScenariosArgs),
    /// Runs the cluster emulator (Kubernetes API subset, nodes following EC2, /metrics).
    Emulate(smartscale_emulator::cli::EmulateArgs),
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
}

#[derive(clap::Args)]
struct ScenariosArgs {
    /// Write every built-in scenario's TOML and CSV into this directory.
    #[arg(long, value_name = "DIR")]
    write: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Simulate(args) => simulate(args),
        Command::Scenarios(args) => scenarios(args),
        Command::Emulate(args) => emulate(args),
    }
}

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
    let scenario = match resolve(&args.scenario) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("smartscale simulate: bad scenario\n{e}");
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
    match args.write {
        None => {
            for name in builtin::NAMES {
                let desc = builtin::scenario(name)
                    .map(|s| s.description)
                    .unwrap_or_default();
                println!("{name:<15} {desc}");
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
