//! The ammonia policy: the one place HTML from outside is made safe.

/// Cleans email HTML for display and quoting.
pub fn clean_email_html(html: &str) -> String {
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer"))
        .clean(html)
        .to_string()
}
