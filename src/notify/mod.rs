//! Delivering messages to people: mail over SMTP, texts through an SMS webhook, or files in
//! the outbox folder when neither is configured.
//!
//! The [`Notifier`] is built once from the configuration at start, where a malformed
//! `--smtp-url` or `--sms-webhook` stops the server with a sentence naming the problem, and
//! is shared by all requests. Every delivery has a short time limit, so a mail server or
//! gateway that does not answer fails the request instead of hanging it. What to write in a
//! message is the caller's business; this module only carries it.

pub mod mail;
pub mod outbox;
pub mod sms;

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::notify::mail::Mailer;
use crate::notify::outbox::Outbox;
use crate::notify::sms::SmsSender;

/// Why a message was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The address or number cannot receive anything; retrying will not help.
    #[error("{0}")]
    Recipient(String),
    /// The mail server, the gateway or the outbox failed or did not answer in time.
    #[error("{0}")]
    Failed(String),
}

/// The server's ways of reaching people.
pub struct Notifier {
    mail: Mailer,
    sms: SmsSender,
}

impl Notifier {
    /// Checks the mail and SMS settings and prepares both channels. Nothing is contacted
    /// yet: a mail server that is down at start only fails the deliveries that need it.
    pub fn from_config(config: &Config) -> anyhow::Result<Notifier> {
        let outbox = Outbox::new(config.data_dir.join("outbox"));
        let timeout = Duration::from_secs(config.delivery_timeout_seconds);
        let mail = Mailer::from_config(
            config.smtp_url.as_deref(),
            config.smtp_ca_file.as_deref(),
            &config.mail_from,
            timeout,
            outbox.clone(),
        )?;
        let sms = SmsSender::from_config(config.sms_webhook.as_deref(), timeout, outbox)?;
        Ok(Notifier { mail, sms })
    }

    /// One sentence per channel saying where its messages go, for the start-up log. Holds no
    /// credentials.
    pub fn describe(&self) -> [String; 2] {
        [self.mail.describe(), self.sms.describe()]
    }

    /// Sends a plain-text mail.
    pub async fn send_mail(
        &self,
        to: &str,
        subject: &str,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DeliveryError> {
        self.mail.send(to, subject, body, now).await
    }

    /// Sends a text message.
    pub async fn send_sms(
        &self,
        to: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DeliveryError> {
        self.sms.send(to, text, now).await
    }
}
