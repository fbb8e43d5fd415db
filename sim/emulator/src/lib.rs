//! The cluster emulator: a Kubernetes API server subset with a scheduler, controllers,
//! PDB-enforcing evictions and emulated kubelets, whose nodes follow EC2 (moto) and whose load
//! comes from the shared workload model. kube-rs and Debian's kubectl talk to it unchanged.
//! See docs/EMULATOR.md for what it implements and what it does not.

pub mod api;
pub mod cli;
pub mod control;
pub mod controllers;
pub mod ec2;
pub mod eviction;
pub mod kubelet;
pub mod metrics;
pub mod patch;
pub mod scheduler;
pub mod seed;
pub mod selector;
pub mod status;
pub mod store;
pub mod table;
pub mod watch;

use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::Store;

/// How the emulator runs.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// The EC2 endpoint (moto server) to follow; no EC2 following when `None`.
    pub ec2_endpoint: Option<String>,
    /// AWS region of that endpoint.
    pub region: String,
    /// The `Cluster` tag value of this cluster's instances.
    pub cluster_id: String,
    /// How long after an instance is first seen running its node registers.
    pub boot_delay: Duration,
    /// How long a bound pod takes to become Running.
    pub pod_startup: Duration,
    /// How often controllers, scheduler and kubelets run.
    pub tick: Duration,
    /// How often EC2 is polled.
    pub ec2_poll: Duration,
    /// The initial cluster.
    pub seed: seed::Seed,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            ec2_endpoint: None,
            region: "us-east-1".into(),
            cluster_id: "smartscale-dev".into(),
            boot_delay: Duration::from_secs(20),
            pod_startup: Duration::from_secs(2),
            tick: Duration::from_millis(250),
            ec2_poll: Duration::from_secs(2),
            seed: seed::Seed::default(),
        }
    }
}

/// State shared by the HTTP handlers and the background loops.
#[derive(Debug)]
pub struct Shared {
    /// The objects.
    pub store: Mutex<Store>,
    /// Traffic and the counters `/metrics` reports.
    pub load: Mutex<metrics::Load>,
    /// The configuration it was started with.
    pub config: EmulatorConfig,
}

/// What axum handlers receive.
pub type AppState = Arc<Shared>;

/// One pass of every control loop at `now`, on an already locked store: controllers, scheduler,
/// kubelets, budget status.
pub fn tick_locked(store: &mut Store, now: DateTime<Utc>) {
    controllers::step(store, now);
    scheduler::step(store, now);
    kubelet::step(store, now);
    eviction::refresh_budgets(store);
}

/// Builds the shared state from `config`, loading its seed.
///
/// Errors: a message naming the malformed seed entry.
pub fn build(config: EmulatorConfig) -> Result<AppState, String> {
    let now = Utc::now();
    let mut store = Store::default();
    store.pod_startup = chrono::Duration::from_std(config.pod_startup).unwrap_or_default();
    seed::load(&mut store, &config.seed, now)?;
    tick_locked(&mut store, now);
    Ok(Arc::new(Shared {
        store: Mutex::new(store),
        load: Mutex::new(metrics::Load::default()),
        config,
    }))
}

/// The whole HTTP surface: Kubernetes API, `/metrics` and `/control/*`.
pub fn router(state: AppState) -> axum::Router {
    api::router()
        .merge(control::router())
        .merge(metrics::router())
        .with_state(state)
}

/// Serves the emulator on `listener` until the process ends, running the control loops and, when
/// configured, the EC2 follower.
///
/// Errors: the seed is malformed, or the server fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: EmulatorConfig,
) -> anyhow::Result<()> {
    let state = build(config).map_err(|e| anyhow::anyhow!("loading the seed: {e}"))?;
    let ticker = state.clone();
    tokio::spawn(async move {
        let mut last = Utc::now();
        loop {
            tokio::time::sleep(ticker.config.tick).await;
            let now = Utc::now();
            {
                let mut store = ticker.store.lock().unwrap_or_else(|p| p.into_inner());
                tick_locked(&mut store, now);
                let mut load = ticker.load.lock().unwrap_or_else(|p| p.into_inner());
                load.advance(&store, last, now);
                load.scale(&mut store, now);
            }
            last = now;
        }
    });
    if let Some(endpoint) = state.config.ec2_endpoint.clone() {
        let client = ec2::client(&endpoint, &state.config.region);
        tokio::spawn(ec2::follow(state.clone(), client, state.config.ec2_poll));
    }
    axum::serve(listener, router(state)).await?;
    Ok(())
}
