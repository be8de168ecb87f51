//! Mail: SMTP through lettre, or `.eml` files in the outbox.
//!
//! `--smtp-url` takes three forms: `smtp://[user:pass@]host[:port]` starts in plain text and
//! switches to TLS when the server offers STARTTLS (port 587 by default), `smtps://` speaks
//! TLS from the first byte (port 465), and `smtp+plain://host[:port]` never uses TLS, for a
//! relay on the same machine (port 25). User name and password are percent-decoded, so a
//! password holding `@` or `:` is written `%40` or `%3A`. The server's certificate must chain
//! to a public root or to a certificate in `--smtp-ca-file` (an office's own authority).

use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, anyhow, bail};
use chrono::{DateTime, Utc};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use percent_encoding::percent_decode_str;

use crate::notify::DeliveryError;
use crate::notify::outbox::Outbox;

/// How the connection to the mail server is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://`: plain text, upgraded with STARTTLS when the server offers it.
    Opportunistic,
    /// `smtps://`: TLS from the start.
    Tls,
    /// `smtp+plain://`: never TLS.
    Plain,
}

/// A checked `--smtp-url`.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    pub security: SmtpSecurity,
    pub host: String,
    pub port: u16,
    /// User name and password, percent-decoded.
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for SmtpUrl {
    // Hand-written so that the password never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpUrl")
            .field("security", &self.security)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .finish()
    }
}

/// Reads `--smtp-ca-file`: one or more PEM certificates.
fn read_ca_file(path: &Path) -> anyhow::Result<Certificate> {
    let shown = path.display();
    let pem = std::fs::read(path).with_context(|| format!("--smtp-ca-file {shown}"))?;
    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
        bail!("--smtp-ca-file {shown} holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
    }
    Certificate::from_pem(&pem)
        .map_err(|error| anyhow!("--smtp-ca-file {shown} holds an unreadable certificate: {error}"))
}

impl SmtpUrl {
    /// Reads an SMTP URL, answering a sentence that names what is wrong with it.
    pub fn parse(text: &str) -> anyhow::Result<SmtpUrl> {
        let url = url::Url::parse(text.trim())
            .map_err(|error| anyhow!("not a URL ({error}); expected smtp://host[:port]"))?;
        let (security, default_port) = match url.scheme() {
            "smtp" => (SmtpSecurity::Opportunistic, 587),
            "smtps" => (SmtpSecurity::Tls, 465),
            "smtp+plain" => (SmtpSecurity::Plain, 25),
            other => bail!("unknown scheme '{other}'; use smtp://, smtps:// or smtp+plain://"),
        };
        let host = match url.host_str() {
            Some(host) if !host.is_empty() => host.trim_start_matches('[').trim_end_matches(']'),
            _ => bail!("no mail server host name"),
        };
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            bail!(
                "a path, query or fragment has no meaning here; give only [user:pass@]host[:port]"
            );
        }
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            ("", Some(_)) => bail!("a password without a user name"),
            (_, None) => bail!("a user name without a password; write user:password@host"),
            (user, Some(password)) => Some((decode(user)?, decode(password)?)),
        };
        Ok(SmtpUrl {
            security,
            host: host.to_string(),
            port: url.port().unwrap_or(default_port),
            credentials,
        })
    }

    /// Where mail goes, without credentials, for the start-up log.
    pub fn describe(&self) -> String {
        let how = match self.security {
            SmtpSecurity::Opportunistic => "STARTTLS when the server offers it",
            SmtpSecurity::Tls => "TLS",
            SmtpSecurity::Plain => "no TLS",
        };
        let user = match &self.credentials {
            Some((user, _)) => format!(" as {user}"),
            None => String::new(),
        };
        format!("mail is sent through {}:{}{user} ({how})", self.host, self.port)
    }
}

fn decode(part: &str) -> anyhow::Result<String> {
    percent_decode_str(part)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .context("the user name or password is not valid UTF-8 after percent-decoding")
}

/// Sends mail, or writes it to the outbox.
pub enum Mailer {
    /// Through a mail server.
    Smtp {
        transport: Box<AsyncSmtpTransport<Tokio1Executor>>,
        url: SmtpUrl,
        from: Mailbox,
        timeout: Duration,
    },
    /// As `.eml` files in the outbox folder.
    Outbox { outbox: Outbox, from: Mailbox },
}

impl Mailer {
    /// Checks the settings and prepares the transport. `smtp_url` is `None` for the outbox;
    /// `ca_file` holds PEM certificates trusted beside the public roots.
    pub fn from_config(
        smtp_url: Option<&str>,
        ca_file: Option<&Path>,
        mail_from: &str,
        timeout: Duration,
        outbox: Outbox,
    ) -> anyhow::Result<Mailer> {
        let from: Mailbox = mail_from.parse().map_err(|error| {
            anyhow!("--mail-from '{mail_from}' is not a usable mail address: {error}")
        })?;
        let Some(text) = smtp_url.filter(|text| !text.trim().is_empty()) else {
            return Ok(Mailer::Outbox { outbox, from });
        };
        let url = SmtpUrl::parse(text).context("--smtp-url")?;
        let extra_root = ca_file.map(read_ca_file).transpose()?;
        let tls_parameters = || {
            let mut builder = TlsParameters::builder(url.host.clone());
            if let Some(root) = &extra_root {
                builder = builder.add_root_certificate(root.clone());
            }
            builder
                .build()
                .with_context(|| format!("preparing TLS for the mail server {}", url.host))
        };
        let tls = match url.security {
            SmtpSecurity::Opportunistic => Tls::Opportunistic(tls_parameters()?),
            SmtpSecurity::Tls => Tls::Wrapper(tls_parameters()?),
            SmtpSecurity::Plain => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(url.host.clone())
            .port(url.port)
            .tls(tls)
            .timeout(Some(timeout));
        if let Some((user, password)) = &url.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Mailer::Smtp { transport: Box::new(builder.build()), url, from, timeout })
    }

    /// Where mail goes, for the start-up log.
    pub fn describe(&self) -> String {
        match self {
            Mailer::Smtp { url, .. } => url.describe(),
            Mailer::Outbox { outbox, .. } => format!(
                "no SMTP server configured (--smtp-url): mail is written as .eml files to {}",
                outbox.dir().display()
            ),
        }
    }

    /// Sends one plain-text mail.
    pub async fn send(
        &self,
        to: &str,
        subject: &str,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DeliveryError> {
        let (Mailer::Smtp { from, .. } | Mailer::Outbox { from, .. }) = self;
        let recipient: Mailbox = to.parse().map_err(|_| {
            DeliveryError::Recipient(format!("'{to}' is not a usable email address"))
        })?;
        let message = Message::builder()
            .from(from.clone())
            .to(recipient)
            .subject(subject)
            .date(SystemTime::from(now))
            .message_id(None)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_string())
            .map_err(|error| DeliveryError::Failed(format!("building the mail: {error}")))?;
        match self {
            Mailer::Smtp { transport, url, timeout, .. } => {
                match tokio::time::timeout(*timeout, transport.send(message)).await {
                    Ok(Ok(_response)) => Ok(()),
                    Ok(Err(error)) => Err(DeliveryError::Failed(format!(
                        "the mail server {}:{} failed: {error}",
                        url.host, url.port
                    ))),
                    Err(_elapsed) => Err(DeliveryError::Failed(format!(
                        "the mail server {}:{} did not answer within {} seconds",
                        url.host,
                        url.port,
                        timeout.as_secs()
                    ))),
                }
            }
            Mailer::Outbox { outbox, .. } => {
                outbox.write("eml", &message.formatted(), now).await.map(|_| ()).map_err(|error| {
                    DeliveryError::Failed(format!("writing to the outbox: {error}"))
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> SmtpUrl {
        SmtpUrl::parse(text).unwrap_or_else(|error| panic!("{text}: {error:#}"))
    }

    fn refused(text: &str) -> String {
        match SmtpUrl::parse(text) {
            Ok(url) => panic!("{text} was accepted as {url:?}"),
            Err(error) => format!("{error:#}"),
        }
    }

    #[test]
    fn the_three_forms_and_their_default_ports() {
        let cases = [
            ("smtp://mail.example.com", SmtpSecurity::Opportunistic, "mail.example.com", 587),
            ("smtp://mail.example.com:2525", SmtpSecurity::Opportunistic, "mail.example.com", 2525),
            ("smtps://mail.example.com", SmtpSecurity::Tls, "mail.example.com", 465),
            ("smtp+plain://127.0.0.1:25", SmtpSecurity::Plain, "127.0.0.1", 25),
            ("smtp+plain://localhost", SmtpSecurity::Plain, "localhost", 25),
            ("smtp+plain://[::1]:2525/", SmtpSecurity::Plain, "::1", 2525),
        ];
        for (text, security, host, port) in cases {
            let url = parsed(text);
            assert_eq!(
                (url.security, url.host.as_str(), url.port),
                (security, host, port),
                "{text}"
            );
            assert_eq!(url.credentials, None, "{text}");
        }
    }

    #[test]
    fn credentials_are_percent_decoded_and_never_shown() {
        let url = parsed("smtps://office%40example.com:p%40ss%3Aword@mail.example.com");
        assert_eq!(
            url.credentials,
            Some(("office@example.com".to_string(), "p@ss:word".to_string()))
        );
        assert!(!format!("{url:?}").contains("p@ss"));
        assert!(!url.describe().contains("p@ss"));
        assert!(url.describe().contains("office@example.com"));
    }

    #[test]
    fn malformed_urls_are_refused_with_a_reason() {
        assert!(refused("mail.example.com").contains("not a URL"));
        assert!(refused("http://mail.example.com").contains("unknown scheme 'http'"));
        assert!(refused("smtp://user@mail.example.com").contains("without a password"));
        assert!(refused("smtp://:secret@mail.example.com").contains("without a user name"));
        assert!(refused("smtp://mail.example.com/inbox").contains("path"));
        assert!(refused("smtp://mail.example.com?tls=none").contains("query"));
        assert!(refused("smtp://mail.example.com:99999").contains("not a URL"));
    }

    #[test]
    fn a_bad_sender_address_stops_the_start() {
        let outbox = Outbox::new("outbox".into());
        let error =
            Mailer::from_config(None, None, "not an address", Duration::from_secs(1), outbox)
                .err()
                .expect("refused");
        assert!(error.to_string().contains("--mail-from"), "{error}");
    }
}
