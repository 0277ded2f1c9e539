//! Postdesk's own mail to agents (password reset, invitation), sent at once through the
//! system SMTP settings an admin keeps in Settings. Customer mail goes through the outbox.
//! Agent notification mail goes through here too (see `jobs::notifications`).

use lettre::message::Mailbox as Address;
use lettre::message::header::ContentType;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};

use crate::models::system_settings::{SmtpSecurity, SmtpSettings};

/// One plain-text message.
#[derive(Debug, Clone)]
pub struct SystemMail {
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
}

/// Sends `mail` (blocking: call it from `web::block`). The error names the server and the
/// SMTP answer.
pub fn send(settings: &SmtpSettings, mail: &SystemMail) -> Result<(), String> {
    let to: Address = mail
        .to
        .parse()
        .map_err(|e| format!("bad recipient address {:?}: {e}", mail.to))?;
    let message = Message::builder()
        .from(sender(settings)?)
        .to(to)
        .subject(&mail.subject)
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body.clone())
        .map_err(|e| format!("cannot build the message: {e}"))?;
    send_message(settings, &message).map_err(|f| f.message)
}

/// The From address of system mail.
pub fn sender(settings: &SmtpSettings) -> Result<Address, String> {
    if settings.from_name.is_empty() {
        settings.from_email.parse()
    } else {
        format!("{} <{}>", settings.from_name, settings.from_email).parse()
    }
    .map_err(|e| format!("bad sender address {:?}: {e}", settings.from_email))
}

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    /// The server refused for good (5xx); retrying will not help.
    pub permanent: bool,
    /// What happened, naming the server.
    pub message: String,
}

/// Sends a built message through the system SMTP settings (blocking).
pub fn send_message(settings: &SmtpSettings, message: &Message) -> Result<(), SendFailure> {
    let temporary = |message: String| SendFailure {
        permanent: false,
        message,
    };
    let host = settings.host.as_str();
    let builder = SmtpTransport::builder_dangerous(host).port(settings.port);
    let tls = || {
        TlsParameters::new(host.to_string())
            .map_err(|e| temporary(format!("TLS setup for {host}: {e}")))
    };
    let builder = match settings.security {
        SmtpSecurity::None => builder,
        SmtpSecurity::Starttls => builder.tls(Tls::Required(tls()?)),
        SmtpSecurity::Tls => builder.tls(Tls::Wrapper(tls()?)),
    };
    let builder = if settings.username.is_empty() {
        builder
    } else {
        builder.credentials(lettre::transport::smtp::authentication::Credentials::new(
            settings.username.clone(),
            settings.password.clone(),
        ))
    };
    builder
        .timeout(Some(std::time::Duration::from_secs(20)))
        .build()
        .send(message)
        .map(|_| ())
        .map_err(|e| SendFailure {
            permanent: e.is_permanent(),
            message: format!("SMTP server {host}:{} refused the mail: {e}", settings.port),
        })
}
