//! Transport: hand a built message to the mailbox's SMTP server (TLS, STARTTLS or none)
//! or the local sendmail binary, and say whether a failure is worth retrying.

use std::collections::HashMap;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, SendmailTransport, SmtpTransport, Transport};

use super::compose::Composed;
use crate::crypto::Secrets;
use crate::db::types::{MailSecurity, OutMethod};
use crate::models::mailbox::OutboundSettings;

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
}

/// Open SMTP transports, one per distinct mailbox configuration (lettre pools the
/// connections inside each).
#[derive(Default)]
pub struct Transports {
    smtp: HashMap<String, SmtpTransport>,
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
        match OutMethod::from_i16(mailbox.out_method) {
            Some(OutMethod::Sendmail) => SendmailTransport::new()
                .send_raw(&envelope, &message.mime)
                .map(|()| "accepted by sendmail".to_string())
                .map_err(|e| SendError {
                    permanent: false,
                    message: format!("sendmail: {e}"),
                }),
            _ => {
                let transport = self.smtp_for(mailbox, secrets)?;
                match transport.send_raw(&envelope, &message.mime) {
                    Ok(response) => Ok(format!(
                        "{} {}",
                        response.code(),
                        response.message().collect::<Vec<_>>().join(" ")
                    )),
                    Err(e) => Err(SendError {
                        permanent: e.is_permanent(),
                        message: describe(&e),
                    }),
                }
            }
        }
    }

    fn smtp_for(
        &mut self,
        m: &OutboundSettings,
        secrets: &Secrets,
    ) -> Result<&SmtpTransport, SendError> {
        let key = format!(
            "{}|{}|{}|{}|{}",
            m.out_host, m.out_port, m.out_security, m.out_username, m.out_password
        );
        if !self.smtp.contains_key(&key) {
            let transport = build_smtp(m, secrets)?;
            self.smtp.insert(key.clone(), transport);
        }
        self.smtp
            .get(&key)
            .ok_or_else(|| SendError::permanent("transport cache"))
    }
}

fn build_smtp(m: &OutboundSettings, secrets: &Secrets) -> Result<SmtpTransport, SendError> {
    if m.out_host.trim().is_empty() {
        return Err(SendError::permanent(format!(
            "mailbox {} has no outgoing (SMTP) server configured",
            m.id
        )));
    }
    let port = u16::try_from(m.out_port)
        .map_err(|_| SendError::permanent("the SMTP port must be 1-65535"))?;
    let host = m.out_host.trim();
    let tls = || {
        TlsParameters::new(host.to_string())
            .map_err(|e| SendError::permanent(format!("TLS setup: {e}")))
    };
    let security = MailSecurity::from_i16(m.out_security).unwrap_or(MailSecurity::StartTls);
    let mut builder = SmtpTransport::builder_dangerous(host)
        .port(port)
        .timeout(Some(Duration::from_secs(30)));
    builder = match security {
        MailSecurity::Tls => builder.tls(Tls::Wrapper(tls()?)),
        MailSecurity::StartTls => builder.tls(Tls::Required(tls()?)),
        MailSecurity::None => builder.tls(Tls::None),
    };
    if !m.out_username.is_empty() {
        let password = secrets
            .decrypt(&m.out_password)
            .map_err(|e| SendError::permanent(e.to_string()))?;
        builder = builder.credentials(Credentials::new(m.out_username.clone(), password));
    }
    Ok(builder.build())
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
