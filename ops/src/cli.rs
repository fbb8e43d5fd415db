//! The `status` and `explain` subcommands as the `smartscale` binary links them: their
//! arguments and the functions that run them (each builds its own runtime and clients).

use crate::executions::{self, machine_name};
use crate::{explain, settings, status, OpsError};
use chrono::Utc;
use smartscale_runtime::{build_deps, Needs, Seam};
use std::path::PathBuf;
use std::process::ExitCode;

/// What both commands take.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// The cluster id (the stack's `clusterId`).
    #[arg(long)]
    pub cluster: String,
    /// A JSON object of the functions' variables (`aws lambda get-function-configuration
    /// --function-name smartscale-<id>-evaluate --query Environment.Variables`); the process
    /// environment fills in what it lacks.
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// Print one JSON object instead of the tables.
    #[arg(long)]
    pub json: bool,
}

/// `smartscale status`.
#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    target: Target,
    /// How many of the last executions to show.
    #[arg(long, default_value_t = 10)]
    executions: usize,
    /// The scaling state machine's ARN (default: the one named smartscale-<cluster>-scaling).
    #[arg(long, value_name = "ARN")]
    state_machine: Option<String>,
}

/// `smartscale explain`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    target: Target,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn finish(what: &str, r: Result<String, OpsError>) -> ExitCode {
    match r {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("smartscale {what}: {e}");
            ExitCode::from(1)
        }
    }
}

fn config(t: &Target) -> Result<smartscale_core::Config, OpsError> {
    settings::load(&t.cluster, t.env_file.as_deref(), |n| std::env::var(n).ok())
}

fn json<T: serde::Serialize>(v: &T) -> String {
    format!(
        "{}\n",
        serde_json::to_string_pretty(v).expect("status and explanations serialise")
    )
}

/// Runs `smartscale status`: exit 0 with the status printed, 1 with the error on stderr.
/// The Nodes and the executions are best effort (their errors are shown in the status); the
/// state item and EC2 are not.
pub fn status(args: StatusArgs) -> ExitCode {
    finish("status", runtime().block_on(status_text(args)))
}

async fn status_text(args: StatusArgs) -> Result<String, OpsError> {
    let cfg = config(&args.target)?;
    let deps = build_deps(&cfg, &Needs::of([Seam::Store, Seam::Ec2])).await?;
    let state = deps.store.load().await?;
    let instances = deps.provisioner.describe_managed().await?;
    let nodes = match build_deps(&cfg, &Needs::of([Seam::Cluster])).await {
        Ok(d) => d.cluster.nodes().await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let sfn = aws_sdk_sfn::Client::new(&aws);
    let machine = match &args.state_machine {
        Some(arn) => Ok(arn.clone()),
        None => executions::find_machine(&sfn, &machine_name(&cfg.cluster_id)).await,
    };
    let listed = match &machine {
        Ok(arn) => executions::recent(&sfn, arn, args.executions).await,
        Err(e) => Err(OpsError::StepFunctions(e.to_string())),
    };
    let holder = match &state.lease {
        Some(l) => match listed
            .as_ref()
            .ok()
            .and_then(|l2| l2.iter().find(|e| e.arn == l.owner))
        {
            Some(e) => Some(e.clone()),
            None => executions::describe(&sfn, &l.owner).await.ok(),
        },
        None => None,
    };
    let gathered = status::Gathered {
        state,
        instances,
        nodes,
        executions: listed.map_err(|e| e.to_string()),
        holder,
    };
    let s = status::assemble(gathered, &cfg, Utc::now());
    Ok(if args.target.json {
        json(&s)
    } else {
        status::render(&s)
    })
}

/// Runs `smartscale explain`: exit 0 with the explanation printed, 1 with the error on stderr.
pub fn explain(args: ExplainArgs) -> ExitCode {
    finish("explain", runtime().block_on(explain_text(args)))
}

async fn explain_text(args: ExplainArgs) -> Result<String, OpsError> {
    let cfg = config(&args.target)?;
    let deps = build_deps(
        &cfg,
        &Needs::of([Seam::Store, Seam::Ec2, Seam::Cluster, Seam::Metrics]),
    )
    .await?;
    let d = explain::dry_run(&deps, Utc::now()).await?;
    Ok(if args.target.json {
        json(&d)
    } else {
        explain::render(&d)
    })
}
