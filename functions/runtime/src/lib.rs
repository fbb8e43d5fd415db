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

use chrono::{DateTime, Utc};
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde::Serialize;
use serde_json::Value;
use smartscale_core::adapters::dynamodb::DynamoStateStore;
use smartscale_core::adapters::ec2::Ec2Provisioner;
use smartscale_core::adapters::notify::{SlackWebhook, SnsTopic};
use smartscale_core::adapters::prometheus::{
    BasicAuth as PromBasicAuth, PrometheusClient, PrometheusSettings,
};
use smartscale_core::adapters::secrets::SecretsManagerSecrets;
use smartscale_core::seams::{Notifier, Secrets};
use smartscale_core::steps::document::ExecutionDocument;
use smartscale_core::steps::Deps;
use smartscale_core::{telemetry, Config, Error};
use std::future::Future;
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

pub mod deps_cell;

/// The error type `main` returns (start-up failures only; step errors go to the caller).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Which seams a step uses; [`build_deps`] builds only those (the rest stay
/// [`smartscale_core::steps::Unwired`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Needs(u8);

impl Needs {
    /// No seam.
    pub const NONE: Needs = Needs(0);
    /// The DynamoDB state table.
    pub const STORE: Needs = Needs(1);
    /// EC2.
    pub const EC2: Needs = Needs(2);
    /// The Kubernetes API.
    pub const CLUSTER: Needs = Needs(4);
    /// Prometheus.
    pub const METRICS: Needs = Needs(8);
    /// Slack and SNS.
    pub const NOTIFY: Needs = Needs(16);

    /// True when every seam of `other` is in `self`.
    pub fn has(self, other: Needs) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }
}

impl std::ops::BitOr for Needs {
    type Output = Needs;
    fn bitor(self, rhs: Needs) -> Needs {
        Needs(self.0 | rhs.0)
    }
}

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
/// the Prometheus client (basic auth from `PROMETHEUS_AUTH_SECRET_ARN` when set), the Kubernetes
/// client (credentials from `K8S_CREDENTIALS_SECRET_ARN`), and the
/// notifiers (Slack when `SLACK_WEBHOOK_SECRET_ARN` is set, SNS when `SNS_TOPIC_ARN` is set).
/// HTTP and AWS clients are built once here and shared.
///
/// Errors: [`Error::Config`] when a needed variable is missing or malformed (`PROMETHEUS_URL`),
/// the Secrets adapter's errors when the Prometheus credentials cannot be read.
pub async fn build_deps(config: &Config, needs: Needs) -> Result<Deps, Error> {
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
    if needs.has(Needs::STORE) {
        deps.store = Arc::new(DynamoStateStore::from_config(
            aws_sdk_dynamodb::Client::new(&aws),
            config,
        ));
    }
    if needs.has(Needs::EC2) {
        deps.provisioner = Arc::new(Ec2Provisioner::new(aws_sdk_ec2::Client::new(&aws), config));
    }
    if needs.has(Needs::METRICS) {
        let auth = match &config.prometheus_auth_secret_arn {
            Some(id) => Some(PromBasicAuth::read(secrets.as_ref(), id).await?),
            None => None,
        };
        deps.metrics = Arc::new(PrometheusClient::new(
            http.clone(),
            PrometheusSettings::from_config(config, auth)?,
        ));
    }
    if needs.has(Needs::CLUSTER) {
        use smartscale_core::adapters::kubernetes::{build_client, K8sCredentials, KubeCluster};
        let id = config.require_k8s_credentials_secret()?;
        let creds = K8sCredentials::from_json(&secrets.get(id).await?)?;
        deps.cluster = Arc::new(KubeCluster::new(build_client(&creds)?));
    }
    if needs.has(Needs::NOTIFY) {
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

/// Runs one invocation: reads the document, runs `handler` at `now`, logs the outcome and prints
/// the EMF lines (invocation, execution time, and what [`telemetry::step_metrics`] derives).
async fn invoke<F, Fut, R>(
    step: &'static str,
    payload: Value,
    deps: Arc<Deps>,
    handler: F,
    emit: fn(&Value),
) -> Result<Value, Error>
where
    F: Fn(ExecutionDocument, Arc<Deps>, DateTime<Utc>) -> Fut,
    Fut: Future<Output = Result<R, Error>>,
    R: Serialize,
{
    let now = Utc::now();
    let started = Instant::now();
    let doc = ExecutionDocument::from_value(payload)?;
    let span = tracing::info_span!("step", step, execution_id = %doc.execution_id);
    let cfg = deps.config.clone();
    async move {
        emit(&telemetry::invocation(&doc.cluster_id, step, now));
        let result = handler(doc.clone(), deps, now).await;
        let millis = started.elapsed().as_millis() as u64;
        emit(&telemetry::execution_time(
            &doc.cluster_id,
            step,
            millis,
            now,
        ));
        match result {
            Ok(r) => {
                let value = serde_json::to_value(r)
                    .map_err(|e| Error::fatal("serialising the step result", e))?;
                for line in telemetry::step_metrics(step, &doc, &value, &cfg, now) {
                    emit(&line);
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

/// Runs step `step` (kebab-case, as the function is named) for ever under the Lambda runtime, or
/// once in local mode. `needs` says which seams to build; `handler` calls the core step.
///
/// Local mode: `<binary> --event FILE` (or the event on stdin, or `--event -`); prints the
/// result JSON on stdout and exits 0, or prints `{"errorType", "errorMessage"}` and exits 1.
///
/// An invalid configuration, or a client that cannot be built, is returned as the step's error
/// (kind `Fatal` for configuration) on every invocation.
///
/// Errors (start-up only): unreadable event file, Lambda runtime failure.
pub async fn run_step<F, Fut, R>(
    step: &'static str,
    needs: Needs,
    handler: F,
) -> Result<(), BoxError>
where
    F: Fn(ExecutionDocument, Arc<Deps>, DateTime<Utc>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<R, Error>> + Send,
    R: Serialize,
{
    let local = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none();
    init_tracing(local);
    // A bad configuration is reported as this step's Fatal error (naming the variable and what to
    // do) on every invocation, rather than by exiting: Step Functions then shows it in the
    // execution and the Catch to Cleanup applies, instead of an opaque Runtime.ExitError.
    let deps = match Config::from_env() {
        Ok(config) => build_deps(&config, needs).await.map(Arc::new),
        Err(e) => Err(e),
    }
    .map_err(|e| {
        tracing::error!(error = %e, step, "cannot start the step");
        diagnostic(&e)
    });

    if local {
        let payload = read_local_event()?;
        let out = match deps {
            Ok(deps) => invoke(step, payload, deps, handler, emit_stderr)
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
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let config = config.clone();
        let cell = cell.clone();
        let handler = handler.clone();
        async move {
            let config = config?;
            let deps = cell
                .get(Instant::now(), || build_deps(&config, needs))
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, step, "cannot build the step's dependencies");
                    diagnostic(&e)
                })?;
            let out = invoke(step, event.payload, deps, handler, emit_stdout).await;
            if out.is_err() {
                cell.invalidate().await;
            }
            out.map_err(|e| diagnostic(&e))
        }
    }))
    .await
}

/// The local-mode event: the file after `--event` (`-` for stdin), or stdin when no argument.
fn read_local_event() -> Result<Value, BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let text = match args.as_slice() {
        [] => read_stdin()?,
        [flag, path] if flag == "--event" && path == "-" => read_stdin()?,
        [flag, path] if flag == "--event" => {
            std::fs::read_to_string(path).map_err(|e| format!("reading event file {path}: {e}"))?
        }
        _ => return Err("usage: <step> [--event FILE|-]  (or the event JSON on stdin)".into()),
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
        assert!((Needs::STORE | Needs::EC2).has(Needs::EC2));
        assert!(!Needs::STORE.has(Needs::EC2));
        assert!(!Needs::STORE.has(Needs::NONE));
    }

    #[tokio::test]
    async fn invoke_reads_the_document_and_reports_bad_input_as_fatal() {
        let deps = Arc::new(Deps::unwired(Config::default()));
        let ok = invoke(
            "release-lock",
            serde_json::json!({"cluster_id": "c1", "execution_id": "arn:x"}),
            deps.clone(),
            |doc: ExecutionDocument, _d, _now| async move { Ok::<_, Error>(doc.cluster_id) },
            |_| {},
        )
        .await
        .unwrap();
        assert_eq!(ok, "c1");
        let bad = invoke(
            "release-lock",
            serde_json::json!({"cluster_id": 5}),
            deps,
            |_doc: ExecutionDocument, _d, _now| async move { Ok::<_, Error>(()) },
            |_| {},
        )
        .await
        .unwrap_err();
        assert_eq!(diagnostic(&bad).error_type, "Fatal");
    }
}
