//! The one exception to "TLS everywhere" that the adapters share: plain `http://` is allowed only
//! to a loopback host, which is where the local stand-ins listen (the cluster emulator, the test
//! Prometheus, the Slack listener). Anything else would send a credential in clear text.

/// True when `url` names a loopback host: `localhost`, `127.0.0.0/8` or `::1`.
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_table() {
        let cases = [
            ("IPv4 loopback", "http://127.0.0.1:9090", true),
            ("another 127/8 address", "http://127.3.2.1", true),
            ("IPv6 loopback", "http://[::1]:9090", true),
            ("localhost", "http://LocalHost:9090", true),
            ("private address", "http://10.0.1.10:30090", false),
            (
                "a name that starts like localhost",
                "http://localhost.example.com",
                false,
            ),
            (
                "cluster DNS",
                "http://prometheus.monitoring.svc:9090",
                false,
            ),
        ];
        for (name, url, want) in cases {
            assert_eq!(
                is_loopback(&url::Url::parse(url).unwrap()),
                want,
                "case {name}"
            );
        }
    }
}
