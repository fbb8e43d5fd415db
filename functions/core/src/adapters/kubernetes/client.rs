//! Building a `kube::Client` from the credentials secret: server URL, CA certificate and
//! service-account token. TLS is required except for a loopback emulator the URL names as
//! `http://`.

use crate::error::{Error, Result};
use base64::Engine as _;
use serde::Deserialize;
use std::fmt;
use std::time::Duration;

/// The Kubernetes credentials SmartScale keeps in Secrets Manager, as JSON
/// `{"server": "https://10.0.1.10:6443", "ca": "-----BEGIN CERTIFICATE-----…", "token": "…"}`.
#[derive(Clone, Deserialize)]
pub struct K8sCredentials {
    /// API server URL: `https://…`, or `http://` with a loopback host (the local emulator).
    pub server: String,
    /// PEM CA bundle (or that PEM base64-encoded, as in a kubeconfig); `None` trusts the
    /// platform roots.
    #[serde(default)]
    pub ca: Option<String>,
    /// Service-account bearer token.
    pub token: String,
}

impl fmt::Debug for K8sCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("K8sCredentials")
            .field("server", &self.server)
            .field("ca", &self.ca.as_ref().map(|_| "<pem>"))
            .field("token", &"<redacted>")
            .finish()
    }
}

impl K8sCredentials {
    /// Parses the secret's JSON value.
    ///
    /// Errors: [`Error::InvalidInput`] when it is not JSON with `server` and `token`.
    pub fn from_json(raw: &str) -> Result<Self> {
        serde_json::from_str(raw).map_err(|e| {
            Error::invalid_input(
                "reading the Kubernetes credentials secret",
                format!("expected JSON with server, ca and token: {e}"),
            )
        })
    }
}

const CONTEXT: &str = "building the Kubernetes client";

/// Why `server` may or may not be used: `Ok(true)` for plain HTTP to loopback, `Ok(false)` for
/// HTTPS. Errors: [`Error::Config`]-like [`Error::InvalidInput`] for anything else.
pub fn check_server(server: &str) -> Result<bool> {
    let url = url::Url::parse(server).map_err(|e| {
        Error::invalid_input(CONTEXT, format!("server {server:?} is not a URL: {e}"))
    })?;
    let loopback = crate::adapters::loopback::is_loopback(&url);
    match url.scheme() {
        "https" => Ok(false),
        "http" if loopback => Ok(true),
        "http" => Err(Error::invalid_input(
            CONTEXT,
            format!(
                "refusing plain HTTP to {server}: only a loopback emulator may be reached without TLS; use https://"
            ),
        )),
        other => Err(Error::invalid_input(
            CONTEXT,
            format!("server {server:?} has scheme {other:?}; use https://"),
        )),
    }
}

/// DER certificates from a PEM bundle, or from that bundle base64-encoded.
///
/// Errors: [`Error::InvalidInput`] when no certificate can be read.
pub fn pem_to_der(ca: &str) -> Result<Vec<Vec<u8>>> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let pem = if ca.contains("-----BEGIN") {
        ca.to_owned()
    } else {
        let compact: String = ca.split_whitespace().collect();
        String::from_utf8(b64.decode(compact).unwrap_or_default()).unwrap_or_default()
    };
    let mut certs = Vec::new();
    let mut current: Option<String> = None;
    for line in pem.lines().map(str::trim) {
        if line.starts_with("-----BEGIN CERTIFICATE") {
            current = Some(String::new());
        } else if line.starts_with("-----END CERTIFICATE") {
            if let Some(body) = current.take() {
                let der = b64.decode(body).map_err(|e| {
                    Error::invalid_input(
                        CONTEXT,
                        format!("the CA certificate is not valid base64: {e}"),
                    )
                })?;
                certs.push(der);
            }
        } else if let Some(body) = current.as_mut() {
            body.push_str(line);
        }
    }
    if certs.is_empty() {
        return Err(Error::invalid_input(
            CONTEXT,
            "the CA holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)",
        ));
    }
    Ok(certs)
}

/// Builds a client for `creds`. Must be called inside a Tokio runtime.
///
/// Errors: [`Error::InvalidInput`] for a URL that is not HTTPS (or HTTP to loopback), or an
/// unreadable CA; [`Error::Fatal`] when the TLS stack cannot be set up.
pub fn build_client(creds: &K8sCredentials) -> Result<kube::Client> {
    check_server(&creds.server)?;
    let mut config =
        kube::Config::new(creds.server.parse().map_err(|e| {
            Error::invalid_input(CONTEXT, format!("server {:?}: {e}", creds.server))
        })?);
    if let Some(ca) = creds.ca.as_deref().filter(|c| !c.trim().is_empty()) {
        config.root_cert = Some(pem_to_der(ca)?);
    }
    // The secret is written from files: a trailing newline is not part of the token.
    config.auth_info = serde_json::from_value(serde_json::json!({ "token": creds.token.trim() }))
        .map_err(|e| Error::fatal(CONTEXT, e))?;
    config.connect_timeout = Some(Duration::from_secs(5));
    config.read_timeout = Some(Duration::from_secs(15));
    config.write_timeout = Some(Duration::from_secs(15));
    // kube-rs retries 429/503/504 by default; a PDB-refused eviction (429) must come back to the
    // drain step as "blocked" at once, and the state machine owns retries and the deadline.
    config.default_retry = false;
    kube::Client::try_from(config).map_err(|e| Error::fatal(CONTEXT, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_may_use_plain_http() {
        let cases = [
            ("https anywhere", "https://10.0.1.10:6443", Some(false)),
            ("http loopback v4", "http://127.0.0.1:8080", Some(true)),
            ("http localhost", "http://localhost:8080", Some(true)),
            ("http loopback v6", "http://[::1]:8080", Some(true)),
            ("http private address", "http://10.0.1.10:6443", None),
            (
                "http lookalike host",
                "http://127.0.0.1.evil.example:80",
                None,
            ),
            ("other scheme", "ftp://127.0.0.1", None),
            ("not a url", "k3s-master:6443", None),
        ];
        for (name, server, want) in cases {
            assert_eq!(check_server(server).ok(), want, "case {name}");
        }
    }

    #[test]
    fn ca_in_pem_or_base64_pem() {
        let pem = "-----BEGIN CERTIFICATE-----\nAAEC\nAwQ=\n-----END CERTIFICATE-----\n";
        let b64 = base64::engine::general_purpose::STANDARD.encode(pem);
        let cases = [
            ("pem", pem.to_owned(), Some(vec![vec![0u8, 1, 2, 3, 4]])),
            ("base64 pem", b64, Some(vec![vec![0u8, 1, 2, 3, 4]])),
            ("garbage", "not a cert".to_owned(), None),
        ];
        for (name, ca, want) in cases {
            assert_eq!(pem_to_der(&ca).ok(), want, "case {name}");
        }
    }

    #[test]
    fn debug_hides_the_token() {
        let c = K8sCredentials::from_json(r#"{"server":"https://x","token":"s3cret"}"#).unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
    }
}
