//! Message-IDs we generate for our own outgoing mail. Each carries an HMAC, so nobody
//! can forge an id that makes Postdesk file their mail into someone else's conversation.

use crate::crypto::Secrets;

const PREFIX: &str = "pd.";
const PURPOSE: &str = "message-id";

/// A new Message-ID (without angle brackets) for a thread of ours:
/// `pd.<thread>.<random>.<mac>@<domain>`.
pub fn generate(secrets: &Secrets, thread_id: i64, domain: &str) -> String {
    let local = format!("{PREFIX}{thread_id}.{}", Secrets::random_hex(6));
    let mac = &secrets.sign(PURPOSE, &local)[..16];
    format!("{local}.{mac}@{domain}")
}

/// Whether `id` has the shape of one of ours.
pub fn looks_generated(id: &str) -> bool {
    id.starts_with(PREFIX)
}

/// Whether `id` is one of ours with a valid signature.
pub fn verify(secrets: &Secrets, id: &str) -> bool {
    let Some((local, _domain)) = id.rsplit_once('@') else {
        return false;
    };
    let Some((body, mac)) = local.rsplit_once('.') else {
        return false;
    };
    looks_generated(body) && mac.len() == 16 && secrets.sign(PURPOSE, body).get(..16) == Some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_verify_and_forgeries_do_not() {
        let s = Secrets::from_bytes([1; 32]);
        let id = generate(&s, 42, "help.example.test");
        assert!(
            id.starts_with("pd.42.") && id.ends_with("@help.example.test"),
            "{id}"
        );
        assert!(verify(&s, &id));
        assert!(!verify(&Secrets::from_bytes([2; 32]), &id));
        let forged = id.replacen("pd.42.", "pd.43.", 1);
        assert!(!verify(&s, &forged));
        assert!(!verify(&s, "pd.1.abc@x"));
        assert!(!verify(&s, "random@customer.test"));
    }
}
