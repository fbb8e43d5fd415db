//! `smartscale emulate`: the command-line face of the emulator.

use super::{seed::Seed, EmulatorConfig};
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `smartscale emulate`.
#[derive(Debug, Clone, clap::Args)]
pub struct EmulateArgs {
    /// Address to listen on; loopback only (port 0 picks a free port, printed on stdout).
    #[arg(long, default_value = "127.0.0.1:6443")]
    pub listen: std::net::SocketAddr,
    /// EC2 endpoint to follow (moto server), for example http://127.0.0.1:5000.
    #[arg(long)]
    pub ec2_endpoint: Option<String>,
    /// AWS region of the EC2 endpoint.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// `Cluster` tag value of this cluster's instances.
    #[arg(long, default_value = "smartscale-dev")]
    pub cluster_id: String,
    /// Delay between an instance running and its node registering (`20s`, `500ms`, `1m`).
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub boot_delay: Duration,
    /// Delay between a pod being bound and Running.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub pod_startup: Duration,
    /// How often EC2 is polled.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub ec2_poll: Duration,
    /// How often the controllers, the scheduler and the kubelets run (each pass holds the store
    /// while it runs, so list requests wait behind it; a large seeded cluster may want it longer).
    #[arg(long, default_value = "250ms", value_parser = parse_duration)]
    pub tick: Duration,
    /// JSON seed file with initial nodes and objects.
    #[arg(long)]
    pub seed: Option<PathBuf>,
}

/// Parses `250ms`, `20s`, `5m` or a bare number of seconds.
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let s = raw.trim();
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        (s, 1.0)
    };
    match num.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(Duration::from_secs_f64(v * scale)),
        _ => Err(format!(
            "'{raw}' is not a duration: write for example 20s, 500ms or 1m"
        )),
    }
}

/// Runs the emulator until the process is killed.
///
/// Errors: a non-loopback listen address, an unreadable or malformed seed, or a server failure.
pub fn run(args: EmulateArgs) -> anyhow::Result<()> {
    if !args.listen.ip().is_loopback() {
        anyhow::bail!(
            "refusing to listen on {}: the emulator has no authentication; use 127.0.0.1",
            args.listen
        );
    }
    if args.tick.is_zero() {
        anyhow::bail!("--tick must be longer than 0 (for example 250ms): the control loops would never yield the store");
    }
    let seed: Seed = match &args.seed {
        Some(p) => {
            let raw = std::fs::read_to_string(p)
                .map_err(|e| anyhow::anyhow!("reading seed {}: {e}", p.display()))?;
            serde_json::from_str(&raw)
                .map_err(|e| anyhow::anyhow!("parsing seed {}: {e}", p.display()))?
        }
        None => Seed::default(),
    };
    let config = EmulatorConfig {
        ec2_endpoint: args.ec2_endpoint,
        region: args.region,
        cluster_id: args.cluster_id,
        boot_delay: args.boot_delay,
        pod_startup: args.pod_startup,
        ec2_poll: args.ec2_poll,
        tick: args.tick,
        seed,
    };
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        let addr = listener.local_addr()?;
        println!("smartscale emulator listening on http://{addr}");
        std::io::stdout().flush()?;
        super::serve(listener, config).await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let cases = [
            ("seconds", "20s", Some(20_000)),
            ("millis", "500ms", Some(500)),
            ("minutes", "1m", Some(60_000)),
            ("bare", "3", Some(3_000)),
            ("garbage", "soon", None),
        ];
        for (name, raw, want) in cases {
            let got = parse_duration(raw).ok().map(|d| d.as_millis() as u64);
            assert_eq!(got, want, "case {name}");
        }
    }

    #[test]
    fn a_zero_tick_is_refused_before_anything_starts() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: EmulateArgs,
        }
        let cli = <Cli as clap::Parser>::try_parse_from(["emulate", "--tick", "0s"])
            .expect("the flags parse");
        let err = run(cli.args).expect_err("a zero tick");
        assert!(
            err.to_string().contains("--tick must be longer than 0"),
            "{err}"
        );
    }
}
