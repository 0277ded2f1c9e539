//! The `message_before_threading` hook: asks modules about a parsed message before it is
//! threaded or stored (see `modules/README.md`). `store::store_message` calls it first.

use diesel::prelude::*;

use super::parse::{MailAddress, ParsedMail};
use super::store::{InboundContext, Origin};
use crate::db::AnyConnection;
use crate::hooks::filters::{InboundVerdict, IncomingMessage};

/// The modules' `message_before_threading` verdict (keep when there are none). A move to a
/// mailbox that does not exist is ignored.
pub fn ask_modules(
    conn: &mut AnyConnection,
    ctx: &InboundContext<'_>,
    origin: &Origin<'_>,
    mail: &ParsedMail,
) -> QueryResult<InboundVerdict> {
    let Some(hooks) = ctx.hooks else {
        return Ok(InboundVerdict::Keep);
    };
    let emails = |list: &[MailAddress]| list.iter().map(|a| a.email.clone()).collect();
    let verdict = hooks.message_before_threading(&IncomingMessage {
        mailbox_id: origin.mailbox.id,
        folder: origin.folder.to_string(),
        message_id: mail.message_id.clone(),
        from: mail
            .from
            .as_ref()
            .map(|a| a.email.clone())
            .unwrap_or_default(),
        from_name: mail
            .from
            .as_ref()
            .map(|a| a.name.clone())
            .unwrap_or_default(),
        to: emails(&mail.to),
        cc: emails(&mail.cc),
        subject: mail.subject.clone(),
        text: mail.text.clone(),
        html: mail.html.clone(),
    });
    if let InboundVerdict::Move { mailbox_id } = verdict {
        let exists: i64 = crate::db::schema::mailboxes::table
            .find(mailbox_id)
            .count()
            .get_result(conn)?;
        if exists == 0 {
            tracing::warn!(
                mailbox.id = mailbox_id,
                "a module moved a message to a mailbox that does not exist; kept"
            );
            return Ok(InboundVerdict::Keep);
        }
    }
    Ok(verdict)
}
