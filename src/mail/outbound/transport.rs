//! Transport: hand a built message to the mailbox's SMTP server (TLS, STARTTLS or none)
//! or the local sendmail binary, and say whether a failure is worth retrying.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, AsyncTokioStream, Certificate, CertificateStore, TlsParameters,
};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, SendmailTransport, Transport};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::compose::Composed;
use crate::crypto::Secrets;
use crate::db::types::{MailSecurity, OutMethod};
use crate::models::mailbox::OutboundSettings;

/// How long connecting (TCP, TLS, greeting, EHLO, AUTH) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one message (MAIL FROM to the answer after the final ".") may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(120);
/// A kept connection idle longer than this is checked with NOOP before it is used again.
const CHECK_AFTER: Duration = Duration::from_secs(2);
/// A kept connection idle longer than this is closed (servers drop idle clients anyway).
const CLOSE_AFTER: Duration = Duration::from_secs(60);

/// A failed send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// True for 5xx answers and problems no retry can fix.
    pub permanent: bool,
    /// The server's answer or the local error.
    pub message: String,
}

impl SendError {
    fn permanent(message: impl Into<String>) -> Self {
        SendError {
            permanent: true,
            message: message.into(),
        }
    }

    fn temporary(message: impl Into<String>) -> Self {
        SendError {
            permanent: false,
            message: message.into(),
        }
    }

    fn smtp(e: &lettre::transport::smtp::Error) -> Self {
        SendError {
            permanent: e.is_permanent(),
            message: describe(e),
        }
    }
}

/// An open SMTP session kept between messages.
struct Kept {
    conn: AsyncSmtpConnection,
    last_used: Instant,
}

/// One sending thread's SMTP sessions, one per distinct mailbox configuration, kept open
/// between messages (a session per configuration, reused while it works, dropped after a
/// failure).
#[derive(Default)]
pub struct Transports {
    runtime: Option<tokio::runtime::Runtime>,
    smtp: HashMap<String, Kept>,
}

impl Transports {
    /// Sends `message` through `mailbox`'s server; returns the server's answer.
    pub fn send(
        &mut self,
        mailbox: &OutboundSettings,
        secrets: &Secrets,
        message: &Composed,
    ) -> Result<String, SendError> {
        let from = message
            .from
            .parse::<Address>()
            .map_err(|_| SendError::permanent(format!("invalid sender {:?}", message.from)))?;
        let to: Vec<Address> = message
            .to
            .iter()
            .map(|a| {
                a.parse::<Address>()
                    .map_err(|_| SendError::permanent(format!("invalid recipient {a:?}")))
            })
            .collect::<Result<_, _>>()?;
        let envelope =
            Envelope::new(Some(from), to).map_err(|e| SendError::permanent(e.to_string()))?;
        if OutMethod::from_i16(mailbox.out_method) == Some(OutMethod::Sendmail) {
            return SendmailTransport::new()
                .send_raw(&envelope, &message.mime)
                .map(|()| "accepted by sendmail".to_string())
                .map_err(|e| SendError::temporary(format!("sendmail: {e}")));
        }
        let key = format!(
            "{}|{}|{}|{}|{}",
            mailbox.out_host,
            mailbox.out_port,
            mailbox.out_security,
            mailbox.out_username,
            mailbox.out_password
        );
        let kept = self.smtp.remove(&key);
        let runtime = self.runtime()?;
        let (answer, conn) = runtime.block_on(async {
            let reusable = match kept {
                Some(k) if k.conn.has_broken() => None,
                Some(k) if k.last_used.elapsed() < CHECK_AFTER => Some(k.conn),
                Some(mut k) => k.conn.test_connected().await.then_some(k.conn),
                None => None,
            };
            let mut conn = match reusable {
                Some(conn) => conn,
                None => connect(mailbox, secrets).await?,
            };
            let answer =
                match tokio::time::timeout(SEND_TIMEOUT, conn.send(&envelope, &message.mime)).await
                {
                    Ok(Ok(response)) => format!(
                        "{} {}",
                        response.code(),
                        response.message().collect::<Vec<_>>().join(" ")
                    ),
                    // The session is dropped after any failure; the next message opens a
                    // new one.
                    Ok(Err(e)) => return Err(SendError::smtp(&e)),
                    Err(_) => {
                        return Err(SendError::temporary(format!(
                            "{}:{}: no answer within {} s",
                            mailbox.out_host,
                            mailbox.out_port,
                            SEND_TIMEOUT.as_secs()
                        )));
                    }
                };
            Ok((answer, conn))
        })?;
        self.smtp.insert(
            key,
            Kept {
                conn,
                last_used: Instant::now(),
            },
        );
        Ok(answer)
    }

    /// Says goodbye to sessions idle longer than a minute.
    pub fn close_idle(&mut self) {
        let idle: Vec<String> = self
            .smtp
            .iter()
            .filter(|(_, k)| k.last_used.elapsed() > CLOSE_AFTER)
            .map(|(key, _)| key.clone())
            .collect();
        if idle.is_empty() {
            return;
        }
        let mut closing: Vec<Kept> = idle.iter().filter_map(|k| self.smtp.remove(k)).collect();
        let Ok(runtime) = self.runtime() else { return };
        runtime.block_on(async {
            for k in &mut closing {
                let _ = tokio::time::timeout(Duration::from_secs(5), k.conn.quit()).await;
            }
        });
    }

    fn runtime(&mut self) -> Result<&tokio::runtime::Runtime, SendError> {
        if self.runtime.is_none() {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| SendError::temporary(format!("cannot start the SMTP client: {e}")))?;
            self.runtime = Some(rt);
        }
        self.runtime
            .as_ref()
            .ok_or_else(|| SendError::temporary("the SMTP client is not running"))
    }
}

/// Opens an SMTP session with the mailbox's settings: TCP with `TCP_NODELAY`, TLS from the
/// first byte or STARTTLS as configured, EHLO, AUTH.
async fn connect(
    m: &OutboundSettings,
    secrets: &Secrets,
) -> Result<AsyncSmtpConnection, SendError> {
    if m.out_host.trim().is_empty() {
        return Err(SendError::permanent(format!(
            "mailbox {} has no outgoing (SMTP) server configured",
            m.id
        )));
    }
    let port = u16::try_from(m.out_port)
        .map_err(|_| SendError::permanent("the SMTP port must be 1-65535"))?;
    let host = m.out_host.trim();
    let security = MailSecurity::from_i16(m.out_security).unwrap_or(MailSecurity::StartTls);
    let credentials = if m.out_username.is_empty() {
        None
    } else {
        let password = secrets
            .decrypt(&m.out_password)
            .map_err(|e| SendError::permanent(e.to_string()))?;
        Some(Credentials::new(m.out_username.clone(), password))
    };
    let session = async {
        let tcp = TcpStream::connect((host, port))
            .await
            .map_err(|e| SendError::temporary(format!("cannot connect to {host}:{port}: {e}")))?;
        // The point of this function: see Cargo.toml on lettre.
        tcp.set_nodelay(true)
            .map_err(|e| SendError::temporary(format!("{host}:{port}: {e}")))?;
        let hello = ClientId::default();
        let mut conn = match security {
            MailSecurity::Tls => {
                let name = rustls::pki_types::ServerName::try_from(host.to_string())
                    .map_err(|e| SendError::permanent(format!("TLS: {host}: {e}")))?;
                let tls = tokio_rustls::TlsConnector::from(client_config()?)
                    .connect(name, tcp)
                    .await
                    .map_err(|e| SendError::temporary(format!("TLS with {host}:{port}: {e}")))?;
                AsyncSmtpConnection::connect_with_transport(Box::new(TlsTcp(tls)), &hello)
                    .await
                    .map_err(|e| SendError::smtp(&e))?
            }
            MailSecurity::StartTls => {
                let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &hello)
                    .await
                    .map_err(|e| SendError::smtp(&e))?;
                if !conn.can_starttls() {
                    return Err(SendError::temporary(format!(
                        "{host}:{port} does not offer STARTTLS; choose TLS or none for this mailbox"
                    )));
                }
                conn.starttls(tls_parameters(host)?, &hello)
                    .await
                    .map_err(|e| SendError::smtp(&e))?;
                conn
            }
            MailSecurity::None => {
                AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &hello)
                    .await
                    .map_err(|e| SendError::smtp(&e))?
            }
        };
        if let Some(credentials) = &credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(|e| SendError::smtp(&e))?;
        }
        Ok(conn)
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, session).await {
        Ok(result) => result,
        Err(_) => Err(SendError::temporary(format!(
            "{host}:{port}: no SMTP session within {} s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// The trusted CA certificates: the system's store (honouring `SSL_CERT_FILE` and
/// `SSL_CERT_DIR`), or the built-in Mozilla roots where the system has none.
fn native_roots() -> &'static [rustls::pki_types::CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<rustls::pki_types::CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

fn client_config() -> Result<Arc<rustls::ClientConfig>, SendError> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            if native_roots().is_empty() {
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            } else {
                roots.add_parsable_certificates(native_roots().iter().cloned());
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| SendError::permanent(format!("TLS setup: {e}")))
}

/// lettre's TLS settings for STARTTLS, trusting the same roots as [`client_config`].
fn tls_parameters(host: &str) -> Result<TlsParameters, SendError> {
    let mut builder = TlsParameters::builder(host.to_string());
    if native_roots().is_empty() {
        builder = builder.certificate_store(CertificateStore::WebpkiRoots);
    } else {
        builder = builder.certificate_store(CertificateStore::None);
        for cert in native_roots() {
            if let Ok(cert) = Certificate::from_der(cert.to_vec()) {
                builder = builder.add_root_certificate(cert);
            }
        }
    }
    builder
        .build_rustls()
        .map_err(|e| SendError::permanent(format!("TLS setup: {e}")))
}

/// A TLS-from-the-first-byte stream handed to lettre (lettre's own would not set
/// `TCP_NODELAY`).
#[derive(Debug)]
struct TlsTcp(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncRead for TlsTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for TlsTcp {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

/// lettre's error with its cause chain (the server's words are in the chain).
fn describe(e: &lettre::transport::smtp::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// Sends a test message to `to` through the mailbox's server: the "send test email" answer.
pub fn send_test(
    mailbox: &OutboundSettings,
    secrets: &Secrets,
    to: &str,
) -> Result<String, SendError> {
    let message = lettre::Message::builder()
        .from(lettre::message::Mailbox::new(
            Some(mailbox.name.clone()),
            mailbox
                .email
                .parse()
                .map_err(|_| SendError::permanent("invalid mailbox address"))?,
        ))
        .to(lettre::message::Mailbox::new(
            None,
            to.parse()
                .map_err(|_| SendError::permanent(format!("invalid address {to:?}")))?,
        ))
        .subject("Postdesk test message")
        .body(format!(
            "This is a test message from the Postdesk mailbox {}.",
            mailbox.name
        ))
        .map_err(|e| SendError::permanent(e.to_string()))?;
    let composed = Composed {
        mime: message.formatted(),
        from: mailbox.email.clone(),
        to: vec![to.to_string()],
    };
    Transports::default().send(mailbox, secrets, &composed)
}
