//! Counterparts for the two-step sign-in tests, all started by the tests themselves: an SMTP
//! server (the `mailin` crate's SMTP state machine on a tokio socket, in plain text, with
//! STARTTLS or in TLS from the first byte, under a certificate authority made for the test),
//! an SMS webhook (a small actix-web server), an RFC 6238 code generator written
//! independently of the server's, and a server start that sets the mail and SMS options.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use cloudsync::domain::Role;
use hmac::{Hmac, KeyInit, Mac};
use mailin::{Action, AuthMechanism, Handler, Response, SessionBuilder, response};
use reqwest::StatusCode;
use serde_json::Value;
use sha1::Sha1;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::PrivateKeyDer;

use crate::helpers::TestApp;

/// How long a test waits for a mail or text that should arrive.
const ARRIVAL: Duration = Duration::from_secs(10);

impl TestApp {
    /// Stores a user whose password is `<username>-password` and whose second step is `mode`,
    /// with the given contact fields and authenticator secret. Returns the user id.
    pub fn seed_two_step_user(
        &self,
        username: &str,
        mode: &str,
        email: Option<&str>,
        mobile_phone: Option<&str>,
        totp_secret: Option<&str>,
    ) -> i64 {
        let id = self.seed_user(username, &format!("{username}-password"), Role::User, true);
        self.database()
            .execute(
                "UPDATE users SET two_step_mode = ?2, email = ?3, mobile_phone = ?4,
                     totp_secret = ?5
                 WHERE id = ?1",
                (id, mode, email, mobile_phone, totp_secret),
            )
            .unwrap();
        id
    }

    /// `POST /1/auth/` with `<username>-password` and, when given, an `auth_code`.
    pub async fn sign_in_step(&self, username: &str, auth_code: Option<&str>) -> reqwest::Response {
        let password = format!("{username}-password");
        let mut form = vec![("username", username), ("password", password.as_str())];
        if let Some(code) = auth_code {
            form.push(("auth_code", code));
        }
        self.client.post(self.url("/1/auth/")).form(&form).send().await.expect("request sent")
    }

    /// Sets one policy straight in the database.
    pub fn set_policy(&self, column: &str, value: i64) {
        self.database().execute(&format!("UPDATE policies SET {column} = ?1"), [value]).unwrap();
    }

    /// The `auth.*` activity entries, oldest first, as (action, details).
    pub fn auth_activity(&self) -> Vec<(String, Value)> {
        self.database()
            .prepare("SELECT action, details FROM activity WHERE action LIKE 'auth.%' ORDER BY id")
            .unwrap()
            .query_map([], |row| {
                let details: String = row.get(1)?;
                Ok((row.get(0)?, serde_json::from_str(&details).unwrap()))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// How many one-time codes are stored.
    pub fn stored_code_count(&self) -> i64 {
        self.database().query_row("SELECT COUNT(*) FROM auth_codes", [], |r| r.get(0)).unwrap()
    }

    /// The files in the outbox folder, sorted by name (which is time order).
    pub fn outbox_files(&self) -> Vec<std::path::PathBuf> {
        let dir = self.data_dir.path().join("outbox");
        let mut files: Vec<_> = match std::fs::read_dir(dir) {
            Ok(entries) => entries.map(|entry| entry.unwrap().path()).collect(),
            Err(_) => Vec::new(),
        };
        files.sort();
        files
    }
}

/// Asserts a 401 asking for the second step in the given mode, with the exact wire shape.
pub async fn assert_code_requested(response: reqwest::Response, mode: &str) {
    let body = crate::helpers::json_with_status(response, StatusCode::UNAUTHORIZED).await;
    assert_eq!(
        body,
        serde_json::json!({
            "success": false,
            "error": "access_denied",
            "message": "Missing auth_code parameter",
            "two_step_mode": mode,
        })
    );
}

/// The six digits after "sign-in code is: " in a message.
pub fn code_in(text: &str) -> String {
    let marker = "sign-in code is: ";
    let start = text.find(marker).unwrap_or_else(|| panic!("no code in: {text}")) + marker.len();
    let code = &text[start..start + 6];
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "not six digits: {code:?} in {text}");
    code.to_string()
}

/// A port on which nothing listens.
pub async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

// ---- SMTP -------------------------------------------------------------------------------

/// One mail as the SMTP server received it.
#[derive(Debug)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
    /// Whether the mail came over TLS.
    pub over_tls: bool,
}

/// A certificate authority made for one test, and a server certificate it signed for
/// `127.0.0.1` and `localhost`.
pub struct TestAuthority {
    /// The authority's certificate, as a client must trust it.
    pub ca_pem: String,
    acceptor: TlsAcceptor,
}

impl TestAuthority {
    pub fn new() -> TestAuthority {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "CloudSync test authority");
        let ca =
            rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
                .unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
        let certificate =
            rcgen::CertificateParams::new(names).unwrap().signed_by(&key, &ca).unwrap();
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![certificate.der().clone()],
                PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .unwrap();
        TestAuthority { ca_pem: ca.pem(), acceptor: TlsAcceptor::from(Arc::new(config)) }
    }
}

/// How the test SMTP server offers TLS.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum MailTls {
    /// Plain text only.
    None,
    /// Plain text, upgraded after `STARTTLS`.
    StartTls,
    /// TLS from the first byte.
    Wrapper,
}

/// A real SMTP server on a free port that keeps what it receives.
pub struct MailServer {
    pub port: u16,
    received: UnboundedReceiver<ReceivedMail>,
}

impl MailServer {
    /// A server that takes mail from anyone.
    pub async fn start() -> MailServer {
        MailServer::start_with(None).await
    }

    /// A server that requires `AUTH PLAIN` with this user name and password (offered without
    /// TLS, as a relay on the same machine may).
    pub async fn start_with(login: Option<(&str, &str)>) -> MailServer {
        MailServer::start_secured(login, MailTls::None, None).await
    }

    /// A server that offers TLS as `tls` says, under a certificate of `authority`.
    pub async fn start_secured(
        login: Option<(&str, &str)>,
        tls: MailTls,
        authority: Option<&TestAuthority>,
    ) -> MailServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (sender, received) = unbounded_channel();
        let mut builder = SessionBuilder::new("smtp.test");
        if login.is_some() {
            builder.enable_auth(AuthMechanism::Plain);
            if tls == MailTls::None {
                builder.insecure_enable_plaintext_auth();
            }
        }
        if tls == MailTls::StartTls {
            builder.enable_start_tls();
        }
        let acceptor = authority.map(|authority| authority.acceptor.clone());
        assert_eq!(acceptor.is_some(), tls != MailTls::None, "TLS needs a certificate");
        let login = login.map(|(user, password)| (user.to_string(), password.to_string()));
        tokio::spawn(async move {
            while let Ok((stream, peer)) = listener.accept().await {
                let over_tls = Arc::new(AtomicBool::new(false));
                let handler = Collector {
                    sender: sender.clone(),
                    login: login.clone(),
                    authenticated: false,
                    over_tls: over_tls.clone(),
                    from: String::new(),
                    to: Vec::new(),
                    data: Vec::new(),
                };
                let session = builder.build(peer.ip(), handler);
                tokio::spawn(serve_smtp(stream, session, over_tls, tls, acceptor.clone()));
            }
        });
        MailServer { port, received }
    }

    /// The `--smtp-url` reaching this server without TLS.
    pub fn plain_url(&self) -> String {
        self.url("smtp+plain")
    }

    /// The `--smtp-url` with `scheme` (`smtp` or `smtps`).
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The next mail, failing the test when none arrives in time.
    pub async fn next_mail(&mut self) -> ReceivedMail {
        tokio::time::timeout(ARRIVAL, self.received.recv())
            .await
            .expect("a mail arrives in time")
            .expect("the SMTP server runs")
    }

    /// Whether a mail arrived that was not read yet.
    pub fn has_unread_mail(&mut self) -> bool {
        !self.received.is_empty()
    }
}

/// Collects one session's mail for the channel; checks credentials when a login is set.
struct Collector {
    sender: UnboundedSender<ReceivedMail>,
    login: Option<(String, String)>,
    authenticated: bool,
    /// Set once the session runs over TLS.
    over_tls: Arc<AtomicBool>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Collector {
    fn mail(&mut self, _ip: IpAddr, _domain: &str, from: &str) -> Response {
        if self.login.is_some() && !self.authenticated {
            return response::AUTHENTICATION_REQUIRED;
        }
        self.from = from.to_string();
        response::OK
    }

    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let mail = ReceivedMail {
            from: std::mem::take(&mut self.from),
            to: std::mem::take(&mut self.to),
            data: String::from_utf8_lossy(&std::mem::take(&mut self.data)).into_owned(),
            over_tls: self.over_tls.load(Ordering::SeqCst),
        };
        let _ = self.sender.send(mail);
        response::OK
    }

    fn auth_plain(&mut self, _authorization_id: &str, user: &str, password: &str) -> Response {
        let expected = self.login.as_ref().map(|(u, p)| (u.as_str(), p.as_str()));
        if expected == Some((user, password)) {
            self.authenticated = true;
            response::AUTH_OK
        } else {
            response::INVALID_CREDENTIALS
        }
    }
}

type Session = mailin::Session<Collector>;

/// Runs one SMTP session, upgrading it to TLS at the start or after `STARTTLS`.
async fn serve_smtp(
    stream: TcpStream,
    mut session: Session,
    over_tls: Arc<AtomicBool>,
    tls: MailTls,
    acceptor: Option<TlsAcceptor>,
) {
    let secure = |session: &mut Session| {
        session.tls_active();
        over_tls.store(true, Ordering::SeqCst);
    };
    if tls == MailTls::Wrapper {
        let Ok(stream) = acceptor.unwrap().accept(stream).await else { return };
        secure(&mut session);
        converse(stream, &mut session, true).await;
        return;
    }
    let Some(stream) = converse(stream, &mut session, true).await else { return };
    // The client asked for STARTTLS.
    let Ok(stream) = acceptor.unwrap().accept(stream).await else { return };
    secure(&mut session);
    converse(stream, &mut session, false).await;
}

/// Lines in, the state machine's answers out, until the session closes (`None`) or asks for
/// TLS (the stream back, for the upgrade).
async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    session: &mut Session,
    greet: bool,
) -> Option<S> {
    let mut stream = BufReader::new(stream);
    if greet && stream.write_all(&session.greeting().buffer().unwrap()).await.is_err() {
        return None;
    }
    let mut line = Vec::new();
    loop {
        line.clear();
        match stream.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        let answer = session.process(&line);
        match answer.action {
            Action::NoReply => {}
            Action::Reply => {
                if stream.write_all(&answer.buffer().unwrap()).await.is_err() {
                    return None;
                }
            }
            Action::Close => {
                let _ = stream.write_all(&answer.buffer().unwrap()).await;
                return None;
            }
            Action::UpgradeTls => {
                stream.write_all(&answer.buffer().unwrap()).await.ok()?;
                stream.flush().await.ok()?;
                return Some(stream.into_inner());
            }
        }
    }
}

/// A server that accepts connections and never says a word, like a mail server that hangs.
pub async fn silent_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    port
}

// ---- SMS webhook ------------------------------------------------------------------------

/// An HTTP server receiving the SMS webhook's POSTs.
pub struct SmsWebhook {
    pub port: u16,
    received: UnboundedReceiver<Value>,
}

impl SmsWebhook {
    /// Starts a webhook that answers every POST to `/sms` with `status`.
    pub async fn start(status: u16) -> SmsWebhook {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (sender, received) = unbounded_channel::<Value>();
        let server = HttpServer::new(move || {
            let sender = sender.clone();
            App::new().route(
                "/sms",
                web::post().to(move |body: web::Json<Value>| {
                    let sender = sender.clone();
                    async move {
                        let _ = sender.send(body.into_inner());
                        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                            .json(serde_json::json!({"queued": status < 300}))
                    }
                }),
            )
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        SmsWebhook { port, received }
    }

    /// The `--sms-webhook` URL of this server.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/sms", self.port)
    }

    /// The next posted body, failing the test when none arrives in time.
    pub async fn next_text(&mut self) -> Value {
        tokio::time::timeout(ARRIVAL, self.received.recv())
            .await
            .expect("a text arrives in time")
            .expect("the webhook runs")
    }
}

// ---- RFC 6238 ---------------------------------------------------------------------------

/// Decodes RFC 4648 base32 (upper case, no padding).
pub fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut out) = (0u32, 0u32, Vec::new());
    for c in text.trim_end_matches('=').bytes() {
        let index = ALPHABET.iter().position(|&a| a == c).expect("base32 letter") as u32;
        value = (value << 5) | index;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((value >> bits) as u8);
            value &= (1 << bits) - 1;
        }
    }
    out
}

/// The six-digit TOTP code of a base32 secret at a Unix time: HMAC-SHA-1 over the 30-second
/// counter, dynamic truncation, modulo 10^6 (RFC 4226 §5.3, RFC 6238 §4).
pub fn totp(secret_base32: &str, unix_time: i64) -> String {
    let counter = (unix_time / 30) as u64;
    let mut mac = Hmac::<Sha1>::new_from_slice(&base32_decode(secret_base32)).unwrap();
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = (hash[hash.len() - 1] & 0x0f) as usize;
    let binary = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]);
    format!("{:06}", binary % 1_000_000)
}
