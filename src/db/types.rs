//! Small-integer enumerations stored in the database. The numbers keep FreeScout's values
//! so its API clients and exported data fit unchanged. One macro is the one helper that
//! turns them into and out of `SMALLINT` columns.

macro_rules! int_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:expr),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant = $value),+
        }

        impl $name {
            /// Every value, in numeric order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored number.
            pub fn as_i16(self) -> i16 {
                self as i16
            }

            /// The value for a stored number, or `None` for a number we do not know.
            pub fn from_i16(value: i16) -> Option<$name> {
                match value {
                    $($value => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

int_enum! {
    /// Where a conversation stands in the team's work.
    ConversationStatus { Active = 1, Pending = 2, Closed = 3, Spam = 4 }
}

int_enum! {
    /// Whether a conversation is a draft, visible, or in Deleted.
    ConversationState { Draft = 1, Published = 2, Deleted = 3 }
}

int_enum! {
    /// The channel a conversation came through.
    ConversationType { Email = 1, Phone = 2, Chat = 3 }
}

int_enum! {
    /// What a thread (one entry in a conversation) is.
    ThreadType { Customer = 1, Message = 2, Note = 3, LineItem = 4 }
}

int_enum! {
    /// An account's role.
    UserRole { Agent = 1, Admin = 2 }
}

int_enum! {
    /// Whether an account may log in.
    UserStatus { Active = 1, Disabled = 2, Deleted = 3 }
}

int_enum! {
    /// What a user may do in one mailbox.
    MailboxAccess { View = 1, Reply = 2, Manage = 3 }
}

int_enum! {
    /// How a mail connection is secured.
    MailSecurity { Tls = 1, StartTls = 2, None = 3 }
}

int_enum! {
    /// What happens on the IMAP server to a message once it is stored.
    AfterFetch { Leave = 1, MarkSeen = 2, Move = 3 }
}

int_enum! {
    /// Where an outgoing message stands.
    OutboxStatus { Queued = 1, Sending = 2, Sent = 3, Retrying = 4, Failed = 5, Cancelled = 6 }
}

int_enum! {
    /// What a line item thread records (FreeScout's numbers where it has them).
    LineItemAction {
        StatusChanged = 1, UserChanged = 2, MovedFromMailbox = 3, Merged = 4,
        Deleted = 5, Restored = 6, FollowUpOf = 7,
    }
}

int_enum! {
    /// What an outbox row sends.
    OutboxKind { Reply = 1, NewConversation = 2, Forward = 3, AutoReply = 4, Notification = 5 }
}

int_enum! {
    /// How a mailbox sends mail.
    OutMethod { Smtp = 1, Sendmail = 2 }
}

int_enum! {
    /// Whose name goes in the From header of replies.
    FromNameMode { Mailbox = 1, Agent = 2, Custom = 3 }
}

int_enum! {
    /// Who a conversation is assigned to after an agent replies.
    AssignAfterReply { ReplierIfUnassigned = 1, Keep = 2 }
}

int_enum! {
    /// What a one-time link in `user_tokens` is for.
    UserTokenKind { PasswordReset = 1, Invite = 2 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_freescout() {
        assert_eq!(ConversationStatus::Active.as_i16(), 1);
        assert_eq!(ConversationStatus::Spam.as_i16(), 4);
        assert_eq!(ConversationState::Deleted.as_i16(), 3);
        assert_eq!(ConversationType::Chat.as_i16(), 3);
        assert_eq!(ThreadType::LineItem.as_i16(), 4);
        assert_eq!(ThreadType::from_i16(3), Some(ThreadType::Note));
        assert_eq!(ThreadType::from_i16(9), None);
        for s in ConversationStatus::ALL {
            assert_eq!(ConversationStatus::from_i16(s.as_i16()), Some(*s));
        }
    }
}
