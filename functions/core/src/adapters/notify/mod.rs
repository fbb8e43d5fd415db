//! The [`crate::seams::Notifier`] adapters: Slack incoming webhook and SNS topic. Payloads come
//! from the pure builders in [`crate::notify`].

pub mod slack;
pub mod sns;

pub use slack::SlackWebhook;
pub use sns::SnsTopic;
