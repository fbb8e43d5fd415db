//! The glue every SmartScale Lambda shares, so each `main.rs` only names its step and the seams
//! it needs:
//! - JSON-lines logs (tracing) carrying `step` and `execution_id`;
//! - [`run_step`]: under the Lambda runtime when `AWS_LAMBDA_RUNTIME_API` is set, otherwise local
//!   mode — the event from `--event FILE` (or stdin), the step run once against the endpoints in
//!   the environment, the result JSON printed on stdout;
//! - the mapping of [`smartscale_core::Error`] to the Lambda error whose `errorType` is
//!   [`smartscale_core::Error::kind`], which the state machine's `Retry`/`Catch` match;
//! - the construction of clients and adapters from [`Config`] ([`build_deps`]); AWS clients come
//!   from `aws_config::defaults(BehaviorVersion::latest())`, which honours `AWS_ENDPOINT_URL`
//!   (moto in tests);
//! - the CloudWatch EMF lines of [`smartscale_core::telemetry`] for every invocation.

pub mod contract;
pub mod steps;

pub use contract::{Needs, Seam};
pub use steps::Step;

use chrono::Utc;
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::Value;
use smartscale_core::adapters::cloudwatch::CloudWatchHistory;
use smartscale_core::adapters::dynamodb::DynamoStateStore;
use smartscale_core::adapters::ec2::Ec2Provisioner;
use smartscale_core::adapters::notify::{SlackWebhook, SnsTopic};
use smartscale_core::adapters::prometheus::{http_client, PrometheusClient, PrometheusSettings};
use smartscale_core::adapters::secrets::{PrometheusSecret, SecretsManagerSecrets};
use smartscale_core::seams::{Notifier, Secrets};
use smartscale_core::steps::document::ExecutionDocument;
use smartscale_core::steps::Deps;
use smartscale_core::{telemetry, Config, Error};
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

pub mod deps_cell;

/// The error type `main` returns (start-up failures only; step errors go to the caller).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The Lambda error for a core error: `errorType` = [`Error::kind`], `errorMessage` = its text.
pub fn diagnostic(e: &Error) -> Diagnostic {
    Diagnostic {
        error_type: e.kind().to_string(),
        error_message: e.to_string(),
    }
}

/// Starts JSON-lines logging to `writer` (stdout under Lambda, stderr in local mode) with the
/// level from `RUST_LOG` (default `info`). Span fields (`step`, `execution_id`) are flattened into
/// every line.
fn init_tracing(local: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false);
    let _ = if local {
        builder.with_writer(std::io::stderr).try_init()
    } else {
        builder.with_writer(std::io::stdout).try_init()
    };
}

/// Builds the seams `needs` names from `config`: the DynamoDB state store, the EC2 provisioner,
/// the Prometheus client (basic auth and the CA it trusts over TLS from `PROMETHEUS_AUTH_SECRET_ARN`
/// when set), the Kubernetes
/// client (credentials from `K8S_CREDENTIALS_SECRET_ARN`), and the
/// notifiers (Slack when `SLACK_WEBHOOK_SECRET_ARN` is set, SNS when `SNS_TOPIC_ARN` is set).
/// HTTP and AWS clients are built once here and shared.
///
/// Errors: [`Error::Config`] when a needed variable is missing or malformed (`PROMETHEUS_URL`),
/// the Secrets adapter's errors when the Prometheus credentials cannot be read.
pub async fn build_deps(config: &Config, needs: &Needs) -> Result<Deps, Error> {
    let mut deps = Deps::unwired(config.clone());
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let http = reqwest::Client::builder()
        .build()
        .map_err(|e| Error::fatal("building the HTTP client", e))?;
    let secrets: Arc<dyn Secrets> = Arc::new(SecretsManagerSecrets::new(
        aws_sdk_secretsmanager::Client::new(&aws),
    ));
    if needs.has(Seam::Store) {
        deps.store = Arc::new(DynamoStateStore::from_config(
            aws_sdk_dynamodb::Client::new(&aws),
            config,
        ));
    }
    if needs.has(Seam::Ec2) {
        deps.provisioner = Arc::new(Ec2Provisioner::new(aws_sdk_ec2::Client::new(&aws), config));
    }
    if needs.has(Seam::Metrics) {
        let access = match &config.prometheus_auth_secret_arn {
            Some(id) => Some(PrometheusSecret::read(secrets.as_ref(), id).await?),
            None => None,
        };
        let (auth, ca) = match access {
            Some(a) => (Some(a.basic_auth), a.ca_pem),
            None => (None, None),
        };
        let settings = PrometheusSettings::from_config(config, auth)?;
        let prometheus_http = http_client(&settings.base_url, ca.as_deref())?;
        deps.metrics = Arc::new(PrometheusClient::new(prometheus_http, settings));
    }
    if needs.has(Seam::Cluster) {
        use smartscale_core::adapters::kubernetes::{build_client, K8sCredentials, KubeCluster};
        let id = config.require_k8s_credentials_secret()?;
        let creds = K8sCredentials::from_json(&secrets.get(id).await?)?;
        deps.cluster = Arc::new(KubeCluster::new(build_client(&creds)?));
    }
    if needs.has(Seam::History) {
        deps.history = Arc::new(CloudWatchHistory::new(
            aws_sdk_cloudwatch::Client::new(&aws),
            &config.policy.cluster_id,
        ));
    }
    if needs.has(Seam::Notify) {
        let mut notifiers: Vec<Arc<dyn Notifier>> = Vec::new();
        if let Some(id) = &config.slack_webhook_secret_arn {
            notifiers.push(Arc::new(SlackWebhook::new(
                http.clone(),
                secrets.clone(),
                id.clone(),
                config.clone(),
            )));
        }
        if let Some(topic) = &config.sns_topic_arn {
            notifiers.push(Arc::new(SnsTopic::new(
                aws_sdk_sns::Client::new(&aws),
                topic.clone(),
                config.clone(),
            )));
        }
        deps.notifiers = notifiers;
    }
    Ok(deps)
}

/// Runs one invocation: reads the document, runs `step` at `now`, logs the outcome and prints
/// the EMF lines (invocation, execution time, and those of the step's part,
/// [`telemetry::StepMetrics`]).
async fn invoke(
    step: &Step,
    payload: Value,
    deps: Arc<Deps>,
    emit: fn(&Value),
) -> Result<Value, Error> {
    let now = Utc::now();
    let started = Instant::now();
    let doc = ExecutionDocument::from_value(payload)?;
    let name = step.name;
    let span = tracing::info_span!("step", step = name, execution_id = %doc.execution_id);
    async move {
        emit(&telemetry::invocation(&doc.cluster_id, name, now));
        let result = step.run(&doc, &deps, now).await;
        let millis = started.elapsed().as_millis() as u64;
        emit(&telemetry::execution_time(
            &doc.cluster_id,
            name,
            millis,
            now,
        ));
        match result {
            Ok(steps::Output { value, metrics }) => {
                for line in &metrics {
                    emit(line);
                }
                tracing::info!(result = %value, millis, "step finished");
                Ok(value)
            }
            Err(e) => {
                tracing::error!(error = %e, error_type = e.kind(), millis, "step failed");
                Err(e)
            }
        }
    }
    .instrument(span)
    .await
}

fn emit_stdout(v: &Value) {
    println!("{v}");
}

fn emit_stderr(v: &Value) {
    eprintln!("{v}");
}

/// The variable naming the step a function runs; the CDK sets it on every function, since all
/// of them share one `bootstrap`.
pub const STEP_VARIABLE: &str = "SMARTSCALE_STEP";

const USAGE: &str = "usage: bootstrap [<step>] [--event FILE|-]
  <step>  the step to run (default: $SMARTSCALE_STEP, then the name this binary was called by)
  --event FILE  local mode: the execution document (`-` or no flag: stdin)
Under Lambda (AWS_LAMBDA_RUNTIME_API set) the step serves invocations until the runtime stops.";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The step named on the command line, in `SMARTSCALE_STEP`, or by argv\[0\].
    pub step: String,
    /// The local-mode event file (`-` for stdin, or `None`: stdin as well).
    pub event: Option<String>,
}

impl Invocation {
    /// Parses `args` (argv without argv\[0\]) with `program` (argv\[0\]) and the value of
    /// [`STEP_VARIABLE`]. Errors: a usage message when the step is missing or an argument is not
    /// understood.
    pub fn parse(
        program: &str,
        args: &[String],
        step_variable: Option<&str>,
    ) -> Result<Invocation, String> {
        let mut step = None;
        let mut event = None;
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            match arg.as_str() {
                "--event" => {
                    let file = rest
                        .next()
                        .ok_or_else(|| format!("--event needs a file\n{USAGE}"))?;
                    event = Some(file.clone());
                }
                "--step" => {
                    let name = rest
                        .next()
                        .ok_or_else(|| format!("--step needs a name\n{USAGE}"))?;
                    step = Some(name.clone());
                }
                a if !a.starts_with('-') && step.is_none() => step = Some(a.to_string()),
                a => return Err(format!("unexpected argument `{a}`\n{USAGE}")),
            }
        }
        let called_as = std::path::Path::new(program)
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| steps::NAMES.contains(n));
        let step = step
            .or_else(|| step_variable.filter(|s| !s.is_empty()).map(str::to_string))
            .or_else(|| called_as.map(str::to_string))
            .ok_or_else(|| {
                format!("no step named (argument, {STEP_VARIABLE} or program name)\n{USAGE}")
            })?;
        Ok(Invocation { step, event })
    }
}

/// The entry of the `bootstrap` binary: resolves the step from the command line and the
/// environment ([`Invocation::parse`]), then [`run_step`]. Exits 2 with the usage on a bad
/// command line or an unknown step.
///
/// Errors: those of [`run_step`].
pub async fn main() -> Result<(), BoxError> {
    let mut argv = std::env::args();
    let program = argv.next().unwrap_or_default();
    let args: Vec<String> = argv.collect();
    let step_variable = std::env::var(STEP_VARIABLE).ok();
    let step = Invocation::parse(&program, &args, step_variable.as_deref())
        .and_then(|inv| Ok((Step::named(&inv.step)?, inv.event)));
    match step {
        Ok((step, event)) => run_step(step, event).await,
        Err(usage) => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}

/// Runs `step` for ever under the Lambda runtime, or once in local mode with the event from
/// `event` (a file, `-` or `None` for stdin). The seams built are those of the step's contract
/// entry.
///
/// Local mode prints the result JSON on stdout and exits 0, or prints
/// `{"errorType", "errorMessage"}` and exits 1.
///
/// An invalid configuration, or a client that cannot be built, is returned as the step's error
/// (kind `Fatal` for configuration) on every invocation.
///
/// Errors (start-up only): unreadable event file, Lambda runtime failure.
pub async fn run_step(step: Step, event: Option<String>) -> Result<(), BoxError> {
    let local = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none();
    init_tracing(local);
    // A bad configuration is reported as this step's Fatal error (naming the variable and what to
    // do) on every invocation, rather than by exiting: Step Functions then shows it in the
    // execution and the Catch to Cleanup applies, instead of an opaque Runtime.ExitError.
    let deps = match Config::from_env() {
        Ok(config) => build_deps(&config, &step.needs).await.map(Arc::new),
        Err(e) => Err(e),
    }
    .map_err(|e| {
        tracing::error!(error = %e, step = step.name, "cannot start the step");
        diagnostic(&e)
    });

    if local {
        let payload = read_local_event(event.as_deref())?;
        let out = match deps {
            Ok(deps) => invoke(&step, payload, deps, emit_stderr)
                .await
                .map_err(|e| diagnostic(&e)),
            Err(d) => Err(d),
        };
        let mut stdout = std::io::stdout().lock();
        return match out {
            Ok(v) => {
                writeln!(stdout, "{v}")?;
                Ok(())
            }
            Err(d) => {
                writeln!(
                    stdout,
                    "{}",
                    serde_json::json!({"errorType": d.error_type, "errorMessage": d.error_message})
                )?;
                stdout.flush()?;
                std::process::exit(1);
            }
        };
    }

    // Warm containers keep the dependencies only while they are young and trusted
    // (`deps_cell`): a failed construction or invocation is retried with fresh ones.
    let config = Config::from_env().map_err(|e| diagnostic(&e));
    let cell = Arc::new(deps_cell::Rebuilding::new(deps_cell::DEPS_MAX_AGE));
    if let Ok(d) = deps {
        let seeded = cell
            .get(Instant::now(), || async {
                Ok::<_, Error>(Arc::unwrap_or_clone(d))
            })
            .await;
        debug_assert!(seeded.is_ok());
    }
    let step = Arc::new(step);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let config = config.clone();
        let cell = cell.clone();
        let step = step.clone();
        async move {
            let config = config?;
            let deps = cell
                .get(Instant::now(), || build_deps(&config, &step.needs))
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, step = step.name, "cannot build the step's dependencies");
                    diagnostic(&e)
                })?;
            let out = invoke(&step, event.payload, deps, emit_stdout).await;
            if out.is_err() {
                cell.invalidate().await;
            }
            out.map_err(|e| diagnostic(&e))
        }
    }))
    .await
}

/// The local-mode event: the file `path` (`-` or `None` for stdin).
fn read_local_event(path: Option<&str>) -> Result<Value, BoxError> {
    let text = match path {
        None | Some("-") => read_stdin()?,
        Some(path) => {
            std::fs::read_to_string(path).map_err(|e| format!("reading event file {path}: {e}"))?
        }
    };
    Ok(serde_json::from_str(&text).map_err(|e| format!("the event is not JSON: {e}"))?)
}

fn read_stdin() -> Result<String, BoxError> {
    let mut s = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_the_state_machine_names() {
        let cases: Vec<(&str, Error, &str)> = vec![
            ("transient", Error::transient("x", "throttled"), "Retryable"),
            (
                "lock",
                Error::LockHeld {
                    owner: "o".into(),
                    expires_at: Utc::now(),
                },
                "LockHeld",
            ),
            (
                "lease",
                Error::LeaseLost {
                    context: "renew".into(),
                },
                "LeaseLost",
            ),
            (
                "quota",
                Error::QuotaExceeded {
                    context: "l".into(),
                    detail: "q".into(),
                },
                "QuotaExceeded",
            ),
            ("input", Error::invalid_input("doc", "bad"), "Fatal"),
        ];
        for (name, e, kind) in cases {
            let d = diagnostic(&e);
            assert_eq!(d.error_type, kind, "case {name}");
            assert_eq!(d.error_message, e.to_string(), "case {name}");
        }
    }

    #[tokio::test]
    async fn invoke_reads_the_document_and_reports_bad_input_as_fatal() {
        let deps = Arc::new(Deps::unwired(Config::default()));
        let notify = Step::named("notify").unwrap();
        let ok = invoke(
            &notify,
            serde_json::json!({"cluster_id": "c1", "execution_id": "arn:x"}),
            deps.clone(),
            |_| {},
        )
        .await
        .unwrap();
        assert!(ok.is_object(), "{ok}");
        let bad = invoke(
            &notify,
            serde_json::json!({"cluster_id": 5}),
            deps.clone(),
            |_| {},
        )
        .await
        .unwrap_err();
        assert_eq!(diagnostic(&bad).error_type, "Fatal");
        // A seam the contract does not wire fails loudly rather than doing nothing.
        let release = Step::named("release-lock").unwrap();
        let unwired = invoke(
            &release,
            serde_json::json!({"cluster_id": "c1", "execution_id": "arn:x",
                "lease": {"owner": "arn:x", "token": 1, "expires_at": "2026-01-01T00:00:00Z"}}),
            deps,
            |_| {},
        )
        .await
        .unwrap_err();
        assert!(unwired.to_string().contains("StateStore"), "{unwired}");
    }

    #[test]
    fn the_command_line_names_the_step_and_the_event() {
        let inv = |step: &str, event: Option<&str>| Invocation {
            step: step.into(),
            event: event.map(str::to_string),
        };
        struct Case<'a> {
            name: &'a str,
            program: &'a str,
            args: &'a [&'a str],
            var: Option<&'a str>,
            want: Result<Invocation, &'a str>,
        }
        let cases = [
            Case {
                name: "argument",
                program: "bootstrap",
                args: &["evaluate", "--event", "e.json"],
                var: None,
                want: Ok(inv("evaluate", Some("e.json"))),
            },
            Case {
                name: "flag",
                program: "bootstrap",
                args: &["--step", "notify", "--event", "-"],
                var: Some("evaluate"),
                want: Ok(inv("notify", Some("-"))),
            },
            Case {
                name: "argument wins over the variable",
                program: "bootstrap",
                args: &["notify"],
                var: Some("evaluate"),
                want: Ok(inv("notify", None)),
            },
            Case {
                name: "variable",
                program: "/var/task/bootstrap",
                args: &[],
                var: Some("cleanup"),
                want: Ok(inv("cleanup", None)),
            },
            Case {
                name: "program name",
                program: "/tmp/bin/drain-node",
                args: &["--event", "x"],
                var: None,
                want: Ok(inv("drain-node", Some("x"))),
            },
            Case {
                name: "none",
                program: "bootstrap",
                args: &[],
                var: None,
                want: Err("no step named"),
            },
            Case {
                name: "empty variable",
                program: "bootstrap",
                args: &[],
                var: Some(""),
                want: Err("no step named"),
            },
            Case {
                name: "missing file",
                program: "bootstrap",
                args: &["notify", "--event"],
                var: None,
                want: Err("--event needs a file"),
            },
            Case {
                name: "stray flag",
                program: "bootstrap",
                args: &["notify", "--events", "x"],
                var: None,
                want: Err("unexpected argument `--events`"),
            },
            Case {
                name: "two steps",
                program: "bootstrap",
                args: &["notify", "cleanup"],
                var: None,
                want: Err("unexpected argument `cleanup`"),
            },
        ];
        for Case {
            name,
            program,
            args,
            var,
            want,
        } in cases
        {
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            let got = Invocation::parse(program, &args, var);
            match (got, want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "case {name}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "case {name}: {got}"),
                (got, want) => panic!("case {name}: got {got:?}, want {want:?}"),
            }
        }
    }
}
