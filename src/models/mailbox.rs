//! Mailboxes: one shared address (support@…) and its mail settings.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::mailboxes;
use crate::db::types::{AfterFetch, MailSecurity};
use crate::db::{AnyConnection, dialect};

/// A mailbox's identity (the mail settings are read where they are used).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mailboxes)]
pub struct Mailbox {
    /// Primary key.
    pub id: i64,
    /// Display name, e.g. "Support".
    pub name: String,
    /// The shared address, lower-case.
    pub email: String,
    /// When it was made.
    pub created_at: NaiveDateTime,
}

/// What inbound mail handling needs to know about a mailbox.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mailboxes)]
pub struct InboundSettings {
    /// Primary key.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// The shared address.
    pub email: String,
    /// Other addresses delivered here, one per line or comma-separated.
    pub aliases: String,
    /// IMAP host; empty when fetching is not set up.
    pub in_host: String,
    /// IMAP port.
    pub in_port: i32,
    /// [`MailSecurity`] number.
    pub in_security: i16,
    /// IMAP user name.
    pub in_username: String,
    /// IMAP password, encrypted with the instance secret.
    pub in_password: String,
    /// JSON list of folders to fetch.
    pub in_folders: String,
    /// [`AfterFetch`] number.
    pub in_after_fetch: i16,
    /// Folder to move fetched mail to, for [`AfterFetch::Move`].
    pub in_move_folder: String,
    /// Seconds between fetches.
    pub fetch_interval_secs: i32,
    /// Whether a `[#number]` subject token may thread a message.
    pub subject_token_threading: bool,
    /// Whether new conversations get the auto-reply.
    pub auto_reply_enabled: bool,
}

impl InboundSettings {
    /// The folders to fetch (INBOX when the stored list is empty or unreadable).
    pub fn folders(&self) -> Vec<String> {
        let list: Vec<String> = serde_json::from_str(&self.in_folders).unwrap_or_default();
        let list: Vec<String> = list
            .into_iter()
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .collect();
        if list.is_empty() {
            vec!["INBOX".to_string()]
        } else {
            list
        }
    }

    /// The address and its aliases, lower-case.
    pub fn addresses(&self) -> Vec<String> {
        let mut out = vec![self.email.to_lowercase()];
        out.extend(split_aliases(&self.aliases));
        out
    }

    /// The connection security, TLS when the stored number is unknown.
    pub fn security(&self) -> MailSecurity {
        MailSecurity::from_i16(self.in_security).unwrap_or(MailSecurity::Tls)
    }

    /// What to do after storing, leaving mail alone when the stored number is unknown.
    pub fn after_fetch(&self) -> AfterFetch {
        AfterFetch::from_i16(self.in_after_fetch).unwrap_or(AfterFetch::Leave)
    }
}

/// Aliases as a clean, lower-case list.
pub fn split_aliases(aliases: &str) -> Vec<String> {
    aliases
        .split([',', '\n', ';', ' '])
        .map(|a| a.trim().to_lowercase())
        .filter(|a| a.contains('@'))
        .collect()
}

/// Fields for a new mailbox; mail settings keep their column defaults.
#[derive(Debug, Insertable)]
#[diesel(table_name = mailboxes)]
pub struct NewMailbox<'a> {
    /// Display name.
    pub name: &'a str,
    /// The shared address.
    pub email: &'a str,
    /// Creation time.
    pub created_at: NaiveDateTime,
    /// Last change.
    pub updated_at: NaiveDateTime,
}

/// Changes to a mailbox's identity and incoming-mail settings; `None` leaves a field alone.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = mailboxes)]
pub struct InboundChanges {
    /// Display name.
    pub name: Option<String>,
    /// The shared address (lower-cased by [`update`]).
    pub email: Option<String>,
    /// Aliases.
    pub aliases: Option<String>,
    /// IMAP host.
    pub in_host: Option<String>,
    /// IMAP port.
    pub in_port: Option<i32>,
    /// [`MailSecurity`] number.
    pub in_security: Option<i16>,
    /// IMAP user.
    pub in_username: Option<String>,
    /// Encrypted IMAP password.
    pub in_password: Option<String>,
    /// JSON list of folders.
    pub in_folders: Option<String>,
    /// [`AfterFetch`] number.
    pub in_after_fetch: Option<i16>,
    /// Folder for [`AfterFetch::Move`].
    pub in_move_folder: Option<String>,
    /// Seconds between fetches.
    pub fetch_interval_secs: Option<i32>,
    /// `[#number]` subject threading.
    pub subject_token_threading: Option<bool>,
    /// Last change.
    pub updated_at: Option<NaiveDateTime>,
}

/// Inserts a mailbox and returns its id.
pub fn create(conn: &mut AnyConnection, new: &NewMailbox<'_>) -> QueryResult<i64> {
    let email = new.email.trim().to_lowercase();
    let row = NewMailbox {
        email: &email,
        ..*new
    };
    dialect::insert_returning_id(conn, |c| {
        diesel::insert_into(mailboxes::table)
            .values(&row)
            .execute(c)
    })
}

/// Applies changes to a mailbox; returns false when it does not exist.
pub fn update(conn: &mut AnyConnection, id: i64, mut changes: InboundChanges) -> QueryResult<bool> {
    changes.email = changes.email.map(|e| e.trim().to_lowercase());
    changes.updated_at = Some(crate::db::now());
    let n = diesel::update(mailboxes::table.find(id))
        .set(&changes)
        .execute(conn)?;
    Ok(n == 1)
}

/// All mailboxes by name.
pub fn list(conn: &mut AnyConnection) -> QueryResult<Vec<Mailbox>> {
    mailboxes::table
        .order((mailboxes::name, mailboxes::id))
        .select(Mailbox::as_select())
        .load(conn)
}

/// One mailbox's inbound settings.
pub fn inbound_settings(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<InboundSettings>> {
    mailboxes::table
        .find(id)
        .select(InboundSettings::as_select())
        .first(conn)
        .optional()
}

/// Inbound settings of every mailbox, by id.
pub fn all_inbound_settings(conn: &mut AnyConnection) -> QueryResult<Vec<InboundSettings>> {
    mailboxes::table
        .order(mailboxes::id)
        .select(InboundSettings::as_select())
        .load(conn)
}

/// Every address of every mailbox (addresses and aliases), lower-case: mail from one of
/// these is our own coming back.
pub fn own_addresses(conn: &mut AnyConnection) -> QueryResult<Vec<String>> {
    let rows: Vec<(String, String)> = mailboxes::table
        .select((mailboxes::email, mailboxes::aliases))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .flat_map(|(email, aliases)| {
            std::iter::once(email.to_lowercase()).chain(split_aliases(&aliases))
        })
        .collect())
}

/// What outbound mail needs to know about a mailbox.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mailboxes)]
pub struct OutboundSettings {
    /// Primary key.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// The shared address: From and Reply-To of customer mail.
    pub email: String,
    /// [`crate::db::types::FromNameMode`] number.
    pub from_name_mode: i16,
    /// Pattern for [`crate::db::types::FromNameMode::Custom`], e.g. "{agent} at {mailbox}".
    pub from_name_custom: String,
    /// Signature HTML with variables.
    pub signature: String,
    /// [`crate::db::types::OutMethod`] number.
    pub out_method: i16,
    /// SMTP host.
    pub out_host: String,
    /// SMTP port.
    pub out_port: i32,
    /// [`MailSecurity`] number.
    pub out_security: i16,
    /// SMTP user ("" for none).
    pub out_username: String,
    /// SMTP password, encrypted.
    pub out_password: String,
    /// Auto-reply to new conversations.
    pub auto_reply_enabled: bool,
    /// Auto-reply subject (variables allowed).
    pub auto_reply_subject: String,
    /// Auto-reply body HTML (variables allowed).
    pub auto_reply_body: String,
    /// Address that gets a blind copy of every reply ("" for none).
    pub auto_bcc: String,
    /// [`crate::db::types::ConversationStatus`] number set after a reply.
    pub status_after_reply: i16,
    /// [`crate::db::types::AssignAfterReply`] number.
    pub assign_after_reply: i16,
}

/// One mailbox's outbound settings.
pub fn outbound_settings(
    conn: &mut AnyConnection,
    id: i64,
) -> QueryResult<Option<OutboundSettings>> {
    mailboxes::table
        .find(id)
        .select(OutboundSettings::as_select())
        .first(conn)
        .optional()
}

/// Changes to outgoing-mail settings; `None` leaves a field alone.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = mailboxes)]
pub struct OutboundChanges {
    /// [`crate::db::types::OutMethod`] number.
    pub out_method: Option<i16>,
    /// SMTP host.
    pub out_host: Option<String>,
    /// SMTP port.
    pub out_port: Option<i32>,
    /// [`MailSecurity`] number.
    pub out_security: Option<i16>,
    /// SMTP user.
    pub out_username: Option<String>,
    /// Encrypted SMTP password.
    pub out_password: Option<String>,
    /// From name mode.
    pub from_name_mode: Option<i16>,
    /// From name pattern.
    pub from_name_custom: Option<String>,
    /// Signature HTML.
    pub signature: Option<String>,
    /// Auto-reply on/off.
    pub auto_reply_enabled: Option<bool>,
    /// Auto-reply subject.
    pub auto_reply_subject: Option<String>,
    /// Auto-reply body.
    pub auto_reply_body: Option<String>,
    /// Auto-BCC address.
    pub auto_bcc: Option<String>,
    /// Status after reply.
    pub status_after_reply: Option<i16>,
    /// Assignee after reply.
    pub assign_after_reply: Option<i16>,
}

/// Applies outbound changes; returns false when the mailbox does not exist.
pub fn update_outbound(
    conn: &mut AnyConnection,
    id: i64,
    changes: OutboundChanges,
) -> QueryResult<bool> {
    let n = diesel::update(mailboxes::table.find(id))
        .set((&changes, mailboxes::updated_at.eq(crate::db::now())))
        .execute(conn)?;
    Ok(n == 1)
}

// ---- Validation shared by the settings page and `postdesk mailbox` -------------------------

/// A mailbox setting that cannot be saved: the field and the catalog key (src/i18n) saying
/// why, so the settings page can show it in the user's language and the command line in
/// English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalid {
    /// The form field (`email`, `in_port`, …).
    pub field: &'static str,
    /// The catalog key of the message.
    pub key: &'static str,
}

/// Shortest and longest fetch interval, in seconds.
pub const FETCH_INTERVAL_RANGE: (i64, i64) = (10, 86_400);

/// A clean, lower-case address, or why `value` is not one.
pub fn check_address(field: &'static str, value: &str) -> Result<String, Invalid> {
    let v = value.trim().to_lowercase();
    let ok = match v.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && !v.contains(char::is_whitespace)
                && !v.contains(['<', '>', '"', ','])
        }
        None => false,
    };
    if ok {
        Ok(v)
    } else {
        Err(Invalid {
            field,
            key: "mb_err_email",
        })
    }
}

/// Aliases as one comma-separated, lower-case line; every entry must be an address.
pub fn check_aliases(value: &str) -> Result<String, Invalid> {
    let mut out = Vec::new();
    for a in value
        .split([',', '\n', ';', ' ', '\r'])
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        out.push(check_address("aliases", a).map_err(|_| Invalid {
            field: "aliases",
            key: "mb_err_aliases",
        })?);
    }
    Ok(out.join(", "))
}

/// A TCP port 1-65535.
pub fn check_port(field: &'static str, port: i64) -> Result<i32, Invalid> {
    if (1..=65_535).contains(&port) {
        Ok(port as i32)
    } else {
        Err(Invalid {
            field,
            key: "mb_err_port",
        })
    }
}

/// The fetch interval kept within [`FETCH_INTERVAL_RANGE`].
pub fn clamp_fetch_interval(secs: i64) -> i32 {
    secs.clamp(FETCH_INTERVAL_RANGE.0, FETCH_INTERVAL_RANGE.1) as i32
}

/// The folder list as stored (a JSON list; blanks dropped).
pub fn folders_json(folders: &[String]) -> String {
    let list: Vec<&str> = folders
        .iter()
        .map(|f| f.trim())
        .filter(|f| !f.is_empty())
        .collect();
    serde_json::Value::from(list).to_string()
}

/// Moving fetched mail needs a folder to move it to.
pub fn check_move_folder(after: AfterFetch, folder: &str) -> Result<(), Invalid> {
    if after == AfterFetch::Move && folder.trim().is_empty() {
        Err(Invalid {
            field: "in_move_folder",
            key: "mb_err_move_folder",
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_checks_shared_by_the_page_and_the_cli() {
        assert_eq!(
            check_address("email", " Support@Example.COM ").unwrap(),
            "support@example.com"
        );
        for bad in [
            "",
            "support",
            "a@b",
            "a b@c.de",
            "<a@b.cd>",
            "a@b.cd,e@f.gh",
        ] {
            assert_eq!(
                check_address("email", bad),
                Err(Invalid {
                    field: "email",
                    key: "mb_err_email"
                }),
                "{bad:?}"
            );
        }
        assert_eq!(
            check_aliases("A@x.test, b@y.test\nc@z.test").unwrap(),
            "a@x.test, b@y.test, c@z.test"
        );
        assert_eq!(check_aliases("").unwrap(), "");
        assert_eq!(
            check_aliases("a@x.test, nope").unwrap_err().field,
            "aliases"
        );
        assert_eq!(check_port("in_port", 993), Ok(993));
        assert!(check_port("in_port", 0).is_err() && check_port("in_port", 65_536).is_err());
        assert_eq!(clamp_fetch_interval(1), 10);
        assert_eq!(clamp_fetch_interval(10_000_000), 86_400);
        assert_eq!(
            folders_json(&[" INBOX ".into(), "".into(), "Support".into()]),
            r#"["INBOX","Support"]"#
        );
        assert!(check_move_folder(AfterFetch::Move, " ").is_err());
        assert!(check_move_folder(AfterFetch::MarkSeen, "").is_ok());
        for key in [
            "mb_err_email",
            "mb_err_aliases",
            "mb_err_port",
            "mb_err_move_folder",
        ] {
            assert_ne!(crate::i18n::t("en", key), key, "{key} has a message");
        }
    }
}
