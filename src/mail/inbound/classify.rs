//! Classify: is this mail from a person, or an auto-reply, a bounce, list mail or our own
//! mail coming back? None of the latter ever gets an auto-reply.

use super::parse::ParsedMail;

/// What kind of mail this is. Several may be true at once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Classification {
    /// An out-of-office or other automatic answer.
    pub auto_reply: bool,
    /// A delivery failure report.
    pub bounce: bool,
    /// Mailing-list mail.
    pub list: bool,
    /// Sent from one of our own mailbox addresses (a loop).
    pub own_address: bool,
}

impl Classification {
    /// True when no automatic answer may ever be sent to this mail.
    pub fn suppresses_auto_reply(self) -> bool {
        self.auto_reply || self.bounce || self.list || self.own_address
    }

    /// The bits stored with the message (auto-reply 1, bounce 2, list 4, own address 8).
    pub fn bits(self) -> i16 {
        (self.auto_reply as i16)
            | (self.bounce as i16) << 1
            | (self.list as i16) << 2
            | (self.own_address as i16) << 3
    }

    /// The classification for stored bits.
    pub fn from_bits(bits: i16) -> Classification {
        Classification {
            auto_reply: bits & 1 != 0,
            bounce: bits & 2 != 0,
            list: bits & 4 != 0,
            own_address: bits & 8 != 0,
        }
    }
}

/// Subject prefixes of automatic answers that carry no header saying so (Exchange, and
/// the Russian and German Outlook spellings).
const AUTO_REPLY_SUBJECTS: &[&str] = &[
    "automatic reply:",
    "auto reply:",
    "autoreply:",
    "out of office:",
    "out of office reply:",
    "автоматический ответ:",
    "автоответ:",
    "automatische antwort:",
    "réponse automatique :",
    "réponse automatique:",
];

/// Classifies a parsed message; `own_addresses` are our mailboxes' addresses and aliases,
/// lower-case.
pub fn classify(mail: &ParsedMail, own_addresses: &[String]) -> Classification {
    let h = &mail.classify;
    let auto_submitted = h
        .auto_submitted
        .as_deref()
        .is_some_and(|v| !v.trim().eq_ignore_ascii_case("no"));
    let precedence_auto = h
        .precedence
        .as_deref()
        .is_some_and(|p| matches!(p.trim(), "auto_reply" | "bulk" | "junk"));
    let subject = mail.subject.to_lowercase();
    let subject_auto = AUTO_REPLY_SUBJECTS.iter().any(|p| subject.starts_with(p));
    let from = mail
        .from
        .as_ref()
        .map(|f| f.email.as_str())
        .unwrap_or_default();
    let daemon = from.starts_with("mailer-daemon@") || from.starts_with("postmaster@");
    let bounce = h.delivery_report
        || (daemon
            && (subject.contains("undeliver")
                || subject.contains("delivery")
                || subject.contains("failure")
                || subject.contains("returned")));
    Classification {
        // "Precedence: bulk" on list mail marks the list, not an automatic answer.
        auto_reply: !bounce
            && (auto_submitted || h.x_autoreply || subject_auto || (precedence_auto && !h.list)),
        bounce,
        list: h.list || h.precedence.as_deref() == Some("list"),
        own_address: !from.is_empty() && own_addresses.iter().any(|a| a == from),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::inbound::parse::parse;

    fn mail(headers: &str) -> ParsedMail {
        let raw = format!(
            "From: Anna <anna@customer.test>\r\nTo: support@company.test\r\nMessage-ID: <1@customer.test>\r\n{headers}\r\nbody\r\n"
        );
        parse(raw.as_bytes()).expect("parses")
    }

    #[test]
    fn a_person_is_not_automatic() {
        let c = classify(&mail("Subject: Help\r\n"), &["support@company.test".into()]);
        assert_eq!(c, Classification::default());
        assert!(!c.suppresses_auto_reply());
    }

    #[test]
    fn auto_replies_are_recognized() {
        for h in [
            "Subject: x\r\nAuto-Submitted: auto-replied\r\n",
            "Subject: x\r\nX-Autoreply: yes\r\n",
            "Subject: x\r\nX-Autorespond: 1\r\n",
            "Subject: x\r\nPrecedence: bulk\r\n",
            "Subject: x\r\nPrecedence: junk\r\n",
            "Subject: x\r\nPrecedence: auto_reply\r\n",
            "Subject: Automatic reply: Help\r\n",
            "Subject: =?utf-8?B?0JDQstGC0L7QvtGC0LLQtdGCOiDQn9GA0LjQvdGC0LXRgA==?=\r\n",
        ] {
            let c = classify(&mail(h), &[]);
            assert!(c.auto_reply && c.suppresses_auto_reply(), "{h}");
        }
        assert!(!classify(&mail("Subject: x\r\nAuto-Submitted: no\r\n"), &[]).auto_reply);
    }

    #[test]
    fn lists_and_loops_are_recognized() {
        assert!(classify(&mail("Subject: x\r\nList-Id: <news.example.test>\r\n"), &[]).list);
        let own = classify(&mail("Subject: x\r\n"), &["anna@customer.test".into()]);
        assert!(own.own_address && own.suppresses_auto_reply());
    }

    #[test]
    fn bits_round_trip() {
        for bits in 0..16 {
            assert_eq!(Classification::from_bits(bits).bits(), bits);
        }
    }
}
