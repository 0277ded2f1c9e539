//! Message-IDs we generate for our own outgoing mail. Each carries an HMAC, so nobody
//! can forge an id that makes Postdesk file their mail into someone else's conversation.

use crate::crypto::Secrets;

const PREFIX: &str = "pd.";
const PURPOSE: &str = "message-id";
const NOTIFICATION_PREFIX: &str = "pdn.";
const NOTIFICATION_PURPOSE: &str = "notification-message-id";

/// A new Message-ID (without angle brackets) for a thread of ours:
/// `pd.<thread>.<random>.<mac>@<domain>`.
pub fn generate(secrets: &Secrets, thread_id: i64, domain: &str) -> String {
    let local = format!("{PREFIX}{thread_id}.{}", Secrets::random_hex(6));
    let mac = &secrets.sign(PURPOSE, &local)[..16];
    format!("{local}.{mac}@{domain}")
}

/// A new Message-ID for the mail of agent notification `notification_id`:
/// `pdn.<notification>.<random>.<mac>@<domain>`. The `pdn.` prefix keeps it apart from
/// thread ids, so it never files mail into a conversation.
pub fn notification(secrets: &Secrets, notification_id: i64, domain: &str) -> String {
    let local = format!(
        "{NOTIFICATION_PREFIX}{notification_id}.{}",
        Secrets::random_hex(6)
    );
    let mac = &secrets.sign(NOTIFICATION_PURPOSE, &local)[..16];
    format!("{local}.{mac}@{domain}")
}

/// The stable id every notification mail about `conversation_id` refers to in
/// `In-Reply-To` and `References`, so the agent's mail client groups them as one thread:
/// `pdn.c<conversation>.<mac>@<domain>` (the same for every call).
pub fn notification_thread(secrets: &Secrets, conversation_id: i64, domain: &str) -> String {
    let local = format!("{NOTIFICATION_PREFIX}c{conversation_id}");
    let mac = &secrets.sign(NOTIFICATION_PURPOSE, &local)[..16];
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

    #[test]
    fn notification_ids_are_apart_from_thread_ids_and_group_per_conversation() {
        let s = Secrets::from_bytes([1; 32]);
        let a = notification(&s, 7, "x.test");
        let b = notification(&s, 7, "x.test");
        assert_ne!(a, b);
        assert!(a.starts_with("pdn.7.") && !looks_generated(&a) && !verify(&s, &a));
        let t = notification_thread(&s, 3, "x.test");
        assert_eq!(t, notification_thread(&s, 3, "x.test"));
        assert_ne!(t, notification_thread(&s, 4, "x.test"));
        assert!(t.starts_with("pdn.c3.") && t.ends_with("@x.test"));
    }
}
