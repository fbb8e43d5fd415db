//! Slack incoming webhook: POSTs the Block Kit payload to the URL kept in Secrets Manager.
//!
//! The webhook URL is a credential: it is read through [`Secrets`] on each send (the secrets
//! adapter caches it for the life of the process), never logged, and removed from every error.

use crate::error::{Error, Result};
use crate::notify::weekly::{self, WeeklyReport};
use crate::notify::{slack, Notification};
use crate::seams::{Notifier, Secrets};
use crate::Config;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// How long one POST may take; the notify Lambda must stay well under its 30 s budget.
const POST_TIMEOUT: Duration = Duration::from_secs(5);

/// Sends notifications to a Slack incoming webhook.
pub struct SlackWebhook {
    http: reqwest::Client,
    secrets: Arc<dyn Secrets>,
    secret_id: String,
    config: Config,
}

impl SlackWebhook {
    /// A webhook whose URL is the value of secret `secret_id` (either the URL itself or a JSON
    /// object with a `url` or `webhook_url` field). `http` is built by the caller.
    pub fn new(
        http: reqwest::Client,
        secrets: Arc<dyn Secrets>,
        secret_id: impl Into<String>,
        config: Config,
    ) -> Self {
        SlackWebhook {
            http,
            secrets,
            secret_id: secret_id.into(),
            config,
        }
    }

    async fn url(&self) -> Result<String> {
        let raw = self.secrets.get(&self.secret_id).await?;
        let raw = raw.trim();
        let url = if raw.starts_with('{') {
            serde_json::from_str::<serde_json::Value>(raw)
                .ok()
                .and_then(|v| {
                    v.get("url")
                        .or_else(|| v.get("webhook_url"))
                        .and_then(|u| u.as_str())
                        .map(str::to_owned)
                })
                .unwrap_or_default()
        } else {
            raw.to_string()
        };
        if webhook_url_allowed(&url) {
            Ok(url)
        } else {
            // A value that is not a usable URL may be a placeholder replaced soon: read it again.
            self.secrets.forget(&self.secret_id);
            Err(Error::SecretMissing {
                name: self.secret_id.clone(),
                detail: "the value is not an https:// webhook URL (nor JSON with `url`)".into(),
            })
        }
    }
}

/// True for an `https://` URL, and for `http://` only to a loopback host (the local stand-ins): a
/// webhook URL is a credential and the notification names the cluster, so neither travels in
/// clear text.
pub fn webhook_url_allowed(url: &str) -> bool {
    match url::Url::parse(url) {
        Ok(u) if u.scheme() == "https" => u.host().is_some(),
        Ok(u) if u.scheme() == "http" => crate::adapters::loopback::is_loopback(&u),
        _ => false,
    }
}

#[async_trait]
impl Notifier for SlackWebhook {
    fn channel(&self) -> &'static str {
        "slack"
    }

    async fn send(&self, n: &Notification) -> Result<()> {
        self.post(&slack::payload(n, &self.config.presentation()))
            .await
    }

    async fn send_report(&self, report: &WeeklyReport) -> Result<()> {
        self.post(&weekly::slack_payload(report, &self.config.presentation()))
            .await
    }
}

impl SlackWebhook {
    /// POSTs `body` to the webhook; the errors of [`Notifier::send`].
    async fn post(&self, body: &serde_json::Value) -> Result<()> {
        const CONTEXT: &str = "posting to the Slack webhook";
        let url = self.url().await?;
        let resp = self
            .http
            .post(url)
            .timeout(POST_TIMEOUT)
            .json(body)
            .send()
            .await
            .map_err(|e| Error::transient(CONTEXT, e.without_url()))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let text: String = resp
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect();
        let detail = format!("HTTP {}: {text}", status.as_u16());
        if status.is_server_error() || status.as_u16() == 429 {
            Err(Error::transient(CONTEXT, detail))
        } else {
            // A 4xx means a revoked or rotated webhook: the next send reads the secret again.
            self.secrets.forget(&self.secret_id);
            Err(Error::fatal(CONTEXT, detail))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::NotificationKind;
    use chrono::TimeZone;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    struct OneSecret(String);

    #[async_trait]
    impl Secrets for OneSecret {
        async fn get(&self, id: &str) -> Result<String> {
            if id == "slack" {
                Ok(self.0.clone())
            } else {
                Err(Error::SecretMissing {
                    name: id.into(),
                    detail: "ResourceNotFoundException".into(),
                })
            }
        }
    }

    /// A loopback HTTP listener answering every request with `status`, handing back each
    /// request's path and body.
    async fn listener(status: u16) -> (String, tokio::sync::mpsc::Receiver<(String, String)>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = l.accept().await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_end, len) = loop {
                    let n = sock.read(&mut chunk).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..pos]).to_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map(|v| v.trim().parse::<usize>().unwrap())
                            .unwrap_or(0);
                        break (pos + 4, len);
                    }
                };
                while buf.len() < head_end + len {
                    let n = sock.read(&mut chunk).await.unwrap();
                    buf.extend_from_slice(&chunk[..n]);
                }
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).to_string();
                tx.send((path, body)).await.unwrap();
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                );
                sock.write_all(reply.as_bytes()).await.unwrap();
            }
        });
        (format!("http://{addr}"), rx)
    }

    fn notification() -> Notification {
        Notification {
            kind: NotificationKind::ScaleUpCompleted,
            cluster_id: "c1".into(),
            reason: "2 pod(s) Pending for over 3m".into(),
            action: "Added 2 node(s): i-a, i-b".into(),
            nodes_before: Some(3),
            nodes_after: Some(5),
            recommendation: None,
            recovered: false,
            time: chrono::Utc
                .with_ymd_and_hms(2026, 11, 23, 20, 5, 0)
                .unwrap(),
            execution_arn: Some("arn:aws:states:us-east-1:1:execution:m:x".into()),
        }
    }

    #[tokio::test]
    async fn posts_block_kit_to_the_webhook_from_the_secret() {
        // (name, listener status, secret value shape, want Ok or error kind)
        let cases: Vec<(&str, u16, bool, std::result::Result<(), &str>)> = vec![
            ("200, plain URL secret", 200, false, Ok(())),
            ("200, JSON secret", 200, true, Ok(())),
            ("500 is retryable", 500, false, Err("Retryable")),
            ("404 is fatal", 404, false, Err("Fatal")),
        ];
        for (name, status, json_secret, want) in cases {
            let (base, mut rx) = listener(status).await;
            let url = format!("{base}/services/T000/B000/SECRETPART");
            let secret = if json_secret {
                serde_json::json!({ "url": url }).to_string()
            } else {
                url.clone()
            };
            let hook = SlackWebhook::new(
                reqwest::Client::new(),
                Arc::new(OneSecret(secret)),
                "slack",
                Config::default(),
            );
            let got = hook.send(&notification()).await;
            let (path, body) = rx.recv().await.unwrap();
            assert_eq!(path, "/services/T000/B000/SECRETPART", "case {name}");
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(
                v,
                slack::payload(&notification(), &Config::default().presentation()),
                "case {name}"
            );
            assert_eq!(
                v["blocks"][0]["text"]["text"], ":large_green_circle: Scale-Up Completed",
                "case {name}"
            );
            match (got, want) {
                (Ok(()), Ok(())) => {}
                (Err(e), Err(kind)) => {
                    assert_eq!(e.kind(), kind, "case {name}");
                    assert!(
                        !e.to_string().contains("SECRETPART"),
                        "case {name}: URL leaked: {e}"
                    );
                }
                (got, want) => panic!("case {name}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[tokio::test]
    async fn unreachable_missing_or_malformed_secret() {
        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let a = l.local_addr().unwrap();
            drop(l);
            format!("http://{a}/services/SECRETPART")
        };
        let cases: Vec<(&str, &str, &str, &str)> = vec![
            ("connection refused", "slack", closed.as_str(), "Retryable"),
            ("secret missing", "other", "", "Fatal"),
            ("not a URL", "slack", "hunter2", "Fatal"),
            (
                "plain http to a remote host",
                "slack",
                "http://hooks.slack.com/services/SECRETPART",
                "Fatal",
            ),
        ];
        for (name, id, value, kind) in cases {
            let hook = SlackWebhook::new(
                reqwest::Client::new(),
                Arc::new(OneSecret(value.into())),
                id,
                Config::default(),
            );
            let e = hook.send(&notification()).await.unwrap_err();
            assert_eq!(e.kind(), kind, "case {name}");
            assert!(
                !e.to_string().contains("SECRETPART") && !e.to_string().contains("hunter2"),
                "case {name}: {e}"
            );
        }
    }
}
