//! The `smartscale` command-line tool.

use clap::{Parser, Subcommand};

/// SmartScale's planning and testing tools.
#[derive(Debug, Parser)]
#[command(name = "smartscale", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the cluster emulator (Kubernetes API subset, nodes following EC2, /metrics).
    Emulate(smartscale_sim::emulator::cli::EmulateArgs),
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Emulate(args) => smartscale_sim::emulator::cli::run(args),
    }
}
