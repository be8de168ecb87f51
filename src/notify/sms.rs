//! Text messages: a `POST` of JSON `{"to", "text"}` to the configured webhook, or
//! `.sms.json` files in the outbox.
//!
//! The webhook is the bridge to whatever SMS gateway the office uses; any 2xx answer counts
//! as delivered. The HTTP call blocks (ureq), so it runs on tokio's blocking threads.
//! Redirects are not followed: a gateway that moved is a setting to fix, not something to
//! chase with a message in hand.

use std::time::Duration;

use anyhow::{anyhow, bail};
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::notify::DeliveryError;
use crate::notify::outbox::Outbox;

/// Sends text messages, or writes them to the outbox.
pub enum SmsSender {
    /// Through the webhook.
    Webhook { url: String, agent: ureq::Agent, timeout: Duration },
    /// As `.sms.json` files in the outbox folder.
    Outbox(Outbox),
}

impl SmsSender {
    /// Checks the webhook URL and prepares the client. `webhook` is `None` for the outbox.
    pub fn from_config(
        webhook: Option<&str>,
        timeout: Duration,
        outbox: Outbox,
    ) -> anyhow::Result<SmsSender> {
        let Some(text) = webhook.map(str::trim).filter(|text| !text.is_empty()) else {
            return Ok(SmsSender::Outbox(outbox));
        };
        let url =
            url::Url::parse(text).map_err(|error| anyhow!("--sms-webhook: not a URL ({error})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            bail!("--sms-webhook: unknown scheme '{}'; use http:// or https://", url.scheme());
        }
        if url.host_str().is_none_or(str::is_empty) {
            bail!("--sms-webhook: no host name");
        }
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .max_redirects(0)
            .http_status_as_error(true)
            .build()
            .new_agent();
        Ok(SmsSender::Webhook { url: url.to_string(), agent, timeout })
    }

    /// Where texts go, for the start-up log. Only the webhook's scheme and host are shown:
    /// its path or query often carries the gateway's access key.
    pub fn describe(&self) -> String {
        match self {
            SmsSender::Webhook { url, .. } => match url::Url::parse(url) {
                Ok(url) => format!(
                    "SMS texts are posted to the webhook at {}://{}",
                    url.scheme(),
                    url.host_str().unwrap_or_default()
                ),
                Err(_) => "SMS texts are posted to the webhook".to_string(),
            },
            SmsSender::Outbox(outbox) => format!(
                "no SMS webhook configured (--sms-webhook): texts are written as .sms.json files \
                 to {}",
                outbox.dir().display()
            ),
        }
    }

    /// Sends one text message.
    pub async fn send(
        &self,
        to: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DeliveryError> {
        if !crate::domain::two_step::is_phone_number(to) {
            return Err(DeliveryError::Recipient(format!("'{to}' is not a usable phone number")));
        }
        let body = json!({"to": to.trim(), "text": text});
        match self {
            SmsSender::Webhook { url, agent, timeout } => {
                let (url, agent, timeout) = (url.clone(), agent.clone(), *timeout);
                let call = tokio::task::spawn_blocking(move || {
                    agent.post(&url).send_json(&body).map(|_response| ())
                });
                // ureq's own limit covers the whole exchange; this one is a second guard.
                match tokio::time::timeout(timeout + Duration::from_secs(1), call).await {
                    Ok(Ok(Ok(()))) => Ok(()),
                    Ok(Ok(Err(ureq::Error::StatusCode(status)))) => Err(DeliveryError::Failed(
                        format!("the SMS webhook answered HTTP {status}"),
                    )),
                    Ok(Ok(Err(error))) => {
                        Err(DeliveryError::Failed(format!("the SMS webhook failed: {error}")))
                    }
                    Ok(Err(join)) => {
                        Err(DeliveryError::Failed(format!("the SMS webhook call failed: {join}")))
                    }
                    Err(_elapsed) => Err(DeliveryError::Failed(format!(
                        "the SMS webhook did not answer within {} seconds",
                        timeout.as_secs()
                    ))),
                }
            }
            SmsSender::Outbox(outbox) => {
                let mut contents = serde_json::to_vec_pretty(&body).map_err(|error| {
                    DeliveryError::Failed(format!("encoding the text: {error}"))
                })?;
                contents.push(b'\n');
                outbox.write("sms.json", &contents, now).await.map(|_| ()).map_err(|error| {
                    DeliveryError::Failed(format!("writing to the outbox: {error}"))
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> String {
        let outbox = Outbox::new("outbox".into());
        match SmsSender::from_config(Some(text), Duration::from_secs(1), outbox) {
            Ok(_) => panic!("{text} was accepted"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn webhook_urls_are_checked_and_their_secrets_kept_out_of_the_log() {
        assert!(refused("gateway.example.com/send").contains("not a URL"));
        assert!(refused("ftp://gateway.example.com/send").contains("unknown scheme 'ftp'"));
        let outbox = Outbox::new("outbox".into());
        let sender = SmsSender::from_config(
            Some("https://gateway.example.com/send?key=s3cret"),
            Duration::from_secs(1),
            outbox,
        )
        .unwrap();
        let described = sender.describe();
        assert!(described.contains("https://gateway.example.com"), "{described}");
        assert!(!described.contains("s3cret"), "{described}");
    }
}
