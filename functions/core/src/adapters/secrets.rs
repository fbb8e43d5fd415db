//! [`Secrets`] on AWS Secrets Manager, cached for [`SECRET_CACHE_TTL`], and the typed secrets
//! SmartScale reads: the K3s join token, the Slack webhook URL and the Prometheus secret (basic-auth
//! pair and the CA certificate of its TLS endpoint).
//! (The Kubernetes API credentials are parsed by [`crate::adapters::kubernetes::K8sCredentials`].)
//!
//! Secret values never appear in errors, logs or `Debug` output.

use crate::adapters::sdk_error::{by_status, classify_with, fault_of};
use crate::error::{Error, Result};
use crate::seams::Secrets;
use async_trait::async_trait;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// How long a value read from Secrets Manager is served from the cache: a rotated token, a
/// replaced master's credentials or a placeholder filled in after the first deploy reach a warm
/// container within this time at the latest ([`Secrets::forget`] drops a refused value sooner).
pub const SECRET_CACHE_TTL: Duration = Duration::from_secs(300);

/// A value and when it was read.
struct Cached {
    read_at: Instant,
    value: String,
}

/// The class of a Secrets Manager failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The secret does not exist, or is scheduled for deletion: create or restore it.
    Missing,
    /// Throttling, 5xx, timeouts: retry.
    Transient,
    /// Anything else: permissions, decryption (KMS). Not retryable.
    Fatal,
}

/// Classifies an error by its code and HTTP status (`None` for both: no answer at all).
pub fn classify(code: Option<&str>, http_status: Option<u16>) -> Fault {
    match code {
        Some("ResourceNotFoundException") => Fault::Missing,
        Some("ThrottlingException" | "InternalServiceError" | "RequestLimitExceeded") => {
            Fault::Transient
        }
        other => by_status(other.is_some(), http_status, Fault::Transient, Fault::Fatal),
    }
}

classify_with!(Fault, classify, Fault::Fatal);

/// Secrets Manager, each secret fetched at most once per time to live (concurrent reads of one
/// id share one request). Failures are not cached: the next call asks again.
pub struct SecretsManagerSecrets {
    client: aws_sdk_secretsmanager::Client,
    cache: Mutex<HashMap<String, Arc<OnceCell<Cached>>>>,
    ttl: Duration,
}

impl fmt::Debug for SecretsManagerSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cached = self.cache.lock().map(|c| c.len()).unwrap_or(0);
        f.debug_struct("SecretsManagerSecrets")
            .field("cached", &cached)
            .finish_non_exhaustive()
    }
}

impl SecretsManagerSecrets {
    /// A cache in front of `client` with [`SECRET_CACHE_TTL`].
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        Self::with_ttl(client, SECRET_CACHE_TTL)
    }

    /// A cache in front of `client` that serves a value for `ttl` after reading it.
    pub fn with_ttl(client: aws_sdk_secretsmanager::Client, ttl: Duration) -> Self {
        SecretsManagerSecrets {
            client,
            cache: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    async fn fetch(&self, id: &str) -> Result<String> {
        let context = format!("reading secret {id}");
        let out = self
            .client
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| {
                let (fault, detail) = fault_of(&e);
                match fault {
                    Fault::Missing => Error::SecretMissing {
                        name: id.to_owned(),
                        detail,
                    },
                    Fault::Transient => Error::Transient { context, detail },
                    Fault::Fatal => Error::Fatal { context, detail },
                }
            })?;
        match out.secret_string {
            Some(v) if !v.trim().is_empty() => Ok(v),
            _ => Err(Error::SecretMissing {
                name: id.to_owned(),
                detail: "the secret has no string value".into(),
            }),
        }
    }
}

#[async_trait]
impl Secrets for SecretsManagerSecrets {
    async fn get(&self, id: &str) -> Result<String> {
        let now = Instant::now();
        let cell = {
            let mut cache = self
                .cache
                .lock()
                .map_err(|_| Error::fatal(format!("reading secret {id}"), "cache poisoned"))?;
            let entry = cache.entry(id.to_owned()).or_default();
            if entry
                .get()
                .is_some_and(|c| now.duration_since(c.read_at) >= self.ttl)
            {
                *entry = Arc::default();
            }
            Arc::clone(entry)
        };
        cell.get_or_try_init(|| async {
            Ok(Cached {
                read_at: now,
                value: self.fetch(id).await?,
            })
        })
        .await
        .map(|c| c.value.clone())
    }

    fn forget(&self, id: &str) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(id);
        }
    }
}

/// Prometheus basic auth: the JSON secret `{"username","password"}`.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicAuth {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl BasicAuth {
    /// Parses the JSON value of secret `name`. Errors: [`Error::InvalidInput`] naming the key.
    pub fn parse(name: &str, json: &str) -> Result<Self> {
        let mut keys = JsonKeys::parse(name, json)?;
        Ok(BasicAuth {
            username: keys.take("username")?,
            password: keys.take("password")?,
        })
    }
}

/// What the Lambdas need to reach the cluster's Prometheus, from one JSON secret
/// `{"username","password","ca"}`: the basic-auth pair (generated by the stack) and the PEM
/// certificate of the CA that signed Prometheus's TLS certificate (made and written by the master
/// at boot, see `cdk/userdata/master.sh`; absent until then). The CA certificate is public; the
/// secret only keeps who may write it to the master.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrometheusSecret {
    /// Basic-auth credentials.
    pub basic_auth: BasicAuth,
    /// PEM CA certificate to trust for `https://`; `None` before the master has written it.
    pub ca_pem: Option<String>,
}

impl PrometheusSecret {
    /// Parses the JSON value of secret `name`. Errors: [`Error::InvalidInput`] naming the key
    /// (`username` and `password` required, `ca` a non-empty string when present).
    pub fn parse(name: &str, json: &str) -> Result<Self> {
        let mut keys = JsonKeys::parse(name, json)?;
        Ok(PrometheusSecret {
            basic_auth: BasicAuth {
                username: keys.take("username")?,
                password: keys.take("password")?,
            },
            ca_pem: keys.take_optional("ca")?,
        })
    }

    /// Reads and parses secret `id` through `secrets`. Errors: as [`Secrets::get`] and
    /// [`PrometheusSecret::parse`].
    pub async fn read(secrets: &dyn Secrets, id: &str) -> Result<Self> {
        PrometheusSecret::parse(id, &secrets.get(id).await?)
    }
}

/// The K3s join token (plain string secret), trimmed. Errors: as [`Secrets::get`].
pub async fn k3s_join_token(secrets: &dyn Secrets, id: &str) -> Result<String> {
    Ok(secrets.get(id).await?.trim().to_owned())
}

/// The Slack incoming-webhook URL (plain string secret).
///
/// Errors: as [`Secrets::get`]; [`Error::InvalidInput`] naming the secret when the value is not an
/// `https://` URL (the value itself is not printed: the URL is the credential).
pub async fn slack_webhook_url(secrets: &dyn Secrets, id: &str) -> Result<String> {
    let v = secrets.get(id).await?.trim().to_owned();
    match url::Url::parse(&v) {
        Ok(u) if u.scheme() == "https" => Ok(v),
        _ => Err(Error::invalid_input(
            format!("reading secret {id}"),
            "the Slack webhook secret must hold an https:// URL",
        )),
    }
}

/// The string fields of a JSON object secret, taken one by one with errors naming the key.
struct JsonKeys<'a> {
    name: &'a str,
    map: serde_json::Map<String, serde_json::Value>,
}

impl<'a> JsonKeys<'a> {
    fn parse(name: &'a str, json: &str) -> Result<Self> {
        match serde_json::from_str::<serde_json::Value>(json) {
            Ok(serde_json::Value::Object(map)) => Ok(JsonKeys { name, map }),
            _ => Err(Error::invalid_input(
                format!("reading secret {name}"),
                "the value is not a JSON object",
            )),
        }
    }

    fn take(&mut self, key: &str) -> Result<String> {
        match self.map.remove(key) {
            Some(serde_json::Value::String(v)) if !v.trim().is_empty() => Ok(v),
            Some(serde_json::Value::String(_)) => Err(self.bad(key, "is empty")),
            Some(_) => Err(self.bad(key, "is not a string")),
            None => Err(self.bad(key, "is missing")),
        }
    }

    fn take_optional(&mut self, key: &str) -> Result<Option<String>> {
        if self.map.contains_key(key) {
            self.take(key).map(Some)
        } else {
            Ok(None)
        }
    }

    fn bad(&self, key: &str, what: &str) -> Error {
        Error::invalid_input(
            format!("reading secret {}", self.name),
            format!("key \"{key}\" {what}"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
    use aws_sdk_secretsmanager::types::error::InternalServiceError;
    use aws_smithy_mocks::{mock, MockResponseInterceptor, RuleMode};

    #[test]
    fn codes_map_to_faults() {
        let cases: &[(&str, Option<&str>, Option<u16>, Fault)] = &[
            (
                "not found",
                Some("ResourceNotFoundException"),
                Some(400),
                Fault::Missing,
            ),
            (
                "throttled",
                Some("ThrottlingException"),
                Some(400),
                Fault::Transient,
            ),
            (
                "internal",
                Some("InternalServiceError"),
                Some(500),
                Fault::Transient,
            ),
            ("kms", Some("DecryptionFailure"), Some(400), Fault::Fatal),
            (
                "denied",
                Some("AccessDeniedException"),
                Some(400),
                Fault::Fatal,
            ),
            (
                "deleted",
                Some("InvalidRequestException"),
                Some(400),
                Fault::Fatal,
            ),
            ("bare 502", None, Some(502), Fault::Transient),
            ("no answer", None, None, Fault::Transient),
        ];
        for (name, code, status, want) in cases {
            assert_eq!(classify(*code, *status), *want, "case {name}");
        }
    }

    #[test]
    fn prometheus_secret_table() {
        /// name, secret JSON, expected CA or error text
        type Case<'a> = (&'a str, &'a str, Result<Option<&'a str>, &'a str>);
        let cases: &[Case] = &[
            (
                "before the master wrote the CA",
                r#"{"username":"u","password":"p"}"#,
                Ok(None),
            ),
            (
                "with the CA",
                r#"{"username":"u","password":"p","ca":"-----BEGIN CERTIFICATE-----"}"#,
                Ok(Some("-----BEGIN CERTIFICATE-----")),
            ),
            (
                "empty CA",
                r#"{"username":"u","password":"p","ca":" "}"#,
                Err(r#"key "ca" is empty"#),
            ),
            (
                "no password",
                r#"{"username":"u","ca":"x"}"#,
                Err(r#"key "password" is missing"#),
            ),
        ];
        for (name, json, want) in cases {
            let got = PrometheusSecret::parse("prom", json);
            match (want, got) {
                (Ok(ca), Ok(s)) => {
                    assert_eq!(s.ca_pem.as_deref(), *ca, "case {name}");
                    assert_eq!(s.basic_auth.username, "u", "case {name}");
                }
                (Err(text), Err(e)) => assert!(e.to_string().contains(text), "case {name}: {e}"),
                (want, got) => panic!("case {name}: want {want:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn debug_redacts_credentials() {
        let auth = BasicAuth::parse("p", r#"{"username":"u","password":"HUNTER2"}"#).unwrap();
        assert!(!format!("{auth:?}").contains("HUNTER2"));
    }

    #[tokio::test]
    async fn service_errors_are_transient_and_not_cached() {
        let fail = mock!(aws_sdk_secretsmanager::Client::get_secret_value).then_error(|| {
            GetSecretValueError::InternalServiceError(
                InternalServiceError::builder()
                    .meta(
                        aws_smithy_types::error::ErrorMetadata::builder()
                            .code("InternalServiceError")
                            .build(),
                    )
                    .build(),
            )
        });
        let ok = mock!(aws_sdk_secretsmanager::Client::get_secret_value).then_output(|| {
            aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput::builder()
                .secret_string("v")
                .build()
        });
        let interceptor = MockResponseInterceptor::new()
            .rule_mode(RuleMode::Sequential)
            .with_rule(&fail)
            .with_rule(&ok);
        let conf = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
            .region(aws_sdk_secretsmanager::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .retry_config(aws_sdk_secretsmanager::config::retry::RetryConfig::disabled())
            .http_client(aws_smithy_mocks::create_mock_http_client())
            .interceptor(interceptor)
            .build();
        let secrets = SecretsManagerSecrets::new(aws_sdk_secretsmanager::Client::from_conf(conf));
        let err = secrets.get("s").await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
        assert!(err.to_string().starts_with("reading secret s"), "{err}");
        assert_eq!(secrets.get("s").await.unwrap(), "v");
        assert_eq!(secrets.get("s").await.unwrap(), "v");
        assert_eq!(ok.num_calls(), 1);
    }

    #[tokio::test]
    async fn slack_url_must_be_https() {
        struct Fixed(&'static str);
        #[async_trait]
        impl Secrets for Fixed {
            async fn get(&self, _id: &str) -> Result<String> {
                Ok(self.0.to_owned())
            }
        }
        let cases = [
            ("https", "https://hooks.slack.com/services/T/B/X\n", true),
            ("http", "http://hooks.slack.com/services/T/B/X", false),
            ("garbage", "not a url", false),
        ];
        for (name, value, ok) in cases {
            let got = slack_webhook_url(&Fixed(value), "slack").await;
            assert_eq!(got.is_ok(), ok, "case {name}: {got:?}");
            if let Err(e) = got {
                assert!(!e.to_string().contains(value.trim()), "case {name}: {e}");
            }
        }
    }
}
