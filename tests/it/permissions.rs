//! The one access decision (`postdesk::permissions`) on every backend, straight against
//! the database, including the rows `mailbox_users` and user status can put it in.

use postdesk::db::AnyConnection;
use postdesk::db::types::{MailboxAccess, UserRole, UserStatus};
use postdesk::models::{mailbox, mailbox_user, user};
use postdesk::permissions;

use crate::support::{BACKENDS, TestDb};

fn new_user(conn: &mut AnyConnection, email: &str, role: UserRole) -> user::User {
    let now = postdesk::db::now();
    let id = user::create(
        conn,
        &user::NewUser::active("Test", "User", email, "", role, now),
    )
    .expect("user");
    user::find(conn, id).expect("find").expect("exists")
}

#[test]
fn mailbox_access_is_decided_in_one_place_on_every_backend() {
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let mut conn = db.migrated();
        let c = &mut conn;
        let now = postdesk::db::now();
        let mut new_box = |name: &str, email: &str| {
            mailbox::create(
                c,
                &mailbox::NewMailbox {
                    name,
                    email,
                    created_at: now,
                    updated_at: now,
                },
            )
            .expect("mailbox")
        };
        let a = new_box("Alpha", "a@example.com");
        let b = new_box("Beta", "b@example.com");
        let admin = new_user(&mut conn, "admin@example.com", UserRole::Admin);
        let agent = new_user(&mut conn, "agent@example.com", UserRole::Agent);
        let c = &mut conn;

        assert_eq!(
            permissions::visible_mailbox_ids(c, &admin).expect("ids"),
            vec![a, b]
        );
        assert!(permissions::can_manage_mailbox(c, &admin, b).expect("manage"));
        assert!(!permissions::can_view_mailbox(c, &admin, b + 100).expect("missing"));
        assert!(
            permissions::visible_mailbox_ids(c, &agent)
                .expect("ids")
                .is_empty()
        );
        assert!(!permissions::can_view_mailbox(c, &agent, a).expect("view"));

        mailbox_user::replace_grants(c, agent.id, &[(a, MailboxAccess::Reply)], now)
            .expect("grant");
        assert_eq!(
            permissions::visible_mailbox_ids(c, &agent).expect("ids"),
            vec![a],
            "{backend:?}"
        );
        assert_eq!(
            permissions::mailbox_access(c, &agent, a).expect("access"),
            Some(MailboxAccess::Reply)
        );
        assert!(!permissions::can_view_mailbox(c, &agent, b).expect("view"));
        assert!(!permissions::can_manage_mailbox(c, &agent, a).expect("manage"));

        mailbox_user::replace_grants(c, agent.id, &[(b, MailboxAccess::Manage)], now)
            .expect("grant");
        assert_eq!(
            permissions::visible_mailbox_ids(c, &agent).expect("ids"),
            vec![b]
        );
        assert!(permissions::can_manage_mailbox(c, &agent, b).expect("manage"));

        // A disabled account sees nothing, whatever it was granted.
        user::set_status(c, agent.id, UserStatus::Disabled, now).expect("disable");
        let disabled = user::find(c, agent.id).expect("find").expect("exists");
        assert!(
            permissions::visible_mailbox_ids(c, &disabled)
                .expect("ids")
                .is_empty()
        );
        assert!(!permissions::can_view_mailbox(c, &disabled, b).expect("view"));
    }
}
