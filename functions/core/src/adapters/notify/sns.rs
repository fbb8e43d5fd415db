//! SNS: publishes the subject and plain-text message to the alerts topic, with the message
//! attributes of [`sns::message_attributes`] for subscription filters.

use crate::error::{Error, Result};
use crate::notify::weekly::{self, WeeklyReport};
use crate::notify::{sns, Notification};
use crate::seams::Notifier;
use crate::Config;
use async_trait::async_trait;
use aws_sdk_sns::error::ProvideErrorMetadata;
use aws_sdk_sns::types::MessageAttributeValue;

/// Publishes notifications to one SNS topic.
pub struct SnsTopic {
    client: aws_sdk_sns::Client,
    topic_arn: String,
    config: Config,
}

impl SnsTopic {
    /// A publisher to `topic_arn` through `client` (built by the caller, honouring
    /// `AWS_ENDPOINT_URL`).
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>, config: Config) -> Self {
        SnsTopic {
            client,
            topic_arn: topic_arn.into(),
            config,
        }
    }
}

/// SNS error codes a retry can fix.
fn retryable_code(code: &str) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "InternalError"
            | "InternalFailure"
            | "ServiceUnavailable"
            | "KMSThrottling"
    )
}

#[async_trait]
impl Notifier for SnsTopic {
    fn channel(&self) -> &'static str {
        "sns"
    }

    async fn send(&self, n: &Notification) -> Result<()> {
        let (subject, message) = sns::subject_and_message(n, &self.config.presentation());
        self.publish(subject, message, sns::message_attributes(n))
            .await
    }

    async fn send_report(&self, report: &WeeklyReport) -> Result<()> {
        let (subject, message) =
            weekly::sns_subject_and_message(report, &self.config.presentation());
        self.publish(subject, message, weekly::sns_attributes(report))
            .await
    }
}

impl SnsTopic {
    /// Publishes one message with its filter attributes; the errors of [`Notifier::send`].
    async fn publish(
        &self,
        subject: String,
        message: String,
        attributes: Vec<(&'static str, String)>,
    ) -> Result<()> {
        let context = format!("publishing to SNS topic {}", self.topic_arn);
        let mut req = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject)
            .message(message);
        for (name, value) in attributes {
            let attr = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| Error::fatal(context.clone(), e.to_string()))?;
            req = req.message_attributes(name, attr);
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let code = e.code().unwrap_or("").to_string();
                let detail = match e.message() {
                    Some(m) => format!("{code}: {m}"),
                    None => format!(
                        "{code}: {}",
                        aws_smithy_types::error::display::DisplayErrorContext(&e)
                    ),
                };
                let is_service_error = e.as_service_error().is_some();
                if !is_service_error || retryable_code(&code) {
                    Err(Error::transient(context, detail))
                } else if code == "NotFound" {
                    Err(Error::NotFound {
                        context,
                        what: format!("topic {}", self.topic_arn),
                    })
                } else {
                    Err(Error::fatal(context, detail))
                }
            }
        }
    }
}
