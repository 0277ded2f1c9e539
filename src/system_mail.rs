//! Postdesk's own mail to agents (password reset, invitation), sent at once through the
//! system SMTP settings an admin keeps in Settings. Customer mail goes through the outbox.

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
    let from: Address = if settings.from_name.is_empty() {
        settings.from_email.parse()
    } else {
        format!("{} <{}>", settings.from_name, settings.from_email).parse()
    }
    .map_err(|e| format!("bad sender address {:?}: {e}", settings.from_email))?;
    let to: Address = mail
        .to
        .parse()
        .map_err(|e| format!("bad recipient address {:?}: {e}", mail.to))?;
    let message = Message::builder()
        .from(from)
        .to(to)
        .subject(&mail.subject)
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body.clone())
        .map_err(|e| format!("cannot build the message: {e}"))?;
    let host = settings.host.as_str();
    let builder = SmtpTransport::builder_dangerous(host).port(settings.port);
    let tls =
        || TlsParameters::new(host.to_string()).map_err(|e| format!("TLS setup for {host}: {e}"));
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
        .send(&message)
        .map(|_| ())
        .map_err(|e| format!("SMTP server {host}:{} refused the mail: {e}", settings.port))
}
