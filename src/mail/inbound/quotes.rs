//! Quoted history: folded behind a toggle, never deleted.

/// Marks the quoted part of sanitized HTML.
pub fn mark_quoted_html(sanitized_html: &str) -> String {
    sanitized_html.to_string()
}

/// Turns plain text into escaped HTML paragraphs.
pub fn text_to_html(text: &str) -> String {
    let escaped = crate::error::html_escape(text);
    format!("<p>{}</p>", escaped.replace('\n', "<br>"))
}
