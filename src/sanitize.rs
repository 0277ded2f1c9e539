//! HTML sanitizing for incoming email.
//!
//! This module is the single place where outside HTML (bodies of incoming
//! email) is made safe before it is stored, shown to agents or quoted into
//! outgoing mail. It wraps an [`ammonia`] policy tuned for email:
//!
//! * ordinary formatting (paragraphs, lists, tables, images, links, fonts)
//!   is kept, together with a few presentational attributes;
//! * scripts, styles, frames, embedded objects, forms, SVG and MathML are
//!   removed, `style` and `script` elements together with their content;
//! * inline `style` attributes and all event handlers are dropped;
//! * links may only use `http`, `https`, `mailto` and `tel`, and get
//!   `rel="noopener noreferrer"` and `target="_blank"`;
//! * images may only use `http`, `https`, `cid` and raster `data:` URLs
//!   (PNG, JPEG, GIF, WebP);
//! * the markers that quote detection ([`crate::quotes`]) relies on survive:
//!   an allow-list of `class` values, `type="cite"` on `blockquote`,
//!   `data-quoted` on `blockquote`/`details`, and `id`s, which are rewritten
//!   with the prefix [`ID_PREFIX`] so they cannot clash with the page's own.
//!
//! Agent-written and module-written HTML goes through the same policy, so
//! there is no second entry point.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

/// Prefix put in front of every `id` attribute kept by [`clean_email_html`].
///
/// Outlook's `id="divRplyFwdMsg"` becomes `id="pd-divRplyFwdMsg"`.
pub const ID_PREFIX: &str = "pd-";

/// Elements that are kept (their attributes are filtered separately).
const TAGS: &[&str] = &[
    "a",
    "b",
    "big",
    "blockquote",
    "br",
    "caption",
    "center",
    "code",
    "col",
    "colgroup",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "em",
    "font",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
];

/// Elements removed together with everything inside them.
const CLEAN_CONTENT_TAGS: &[&str] = &[
    "applet", "embed", "frame", "frameset", "head", "iframe", "math", "noembed", "noframes",
    "noscript", "object", "script", "select", "style", "svg", "template", "textarea", "title",
];

/// Attributes allowed on every kept element.
const GENERIC_ATTRIBUTES: &[&str] = &["title", "dir", "lang", "id"];

/// `class` values kept on `div`, `blockquote` and `span`: the ones mail
/// clients use to mark quoted history, attributions and signatures.
pub const ALLOWED_CLASSES: &[&str] = &[
    "gmail_quote",
    "gmail_quote_container",
    "gmail_attr",
    "gmail_extra",
    "gmail_signature",
    "moz-cite-prefix",
    "moz-forward-container",
    "moz-signature",
    "yahoo_quoted",
    "protonmail_quote",
    "protonmail_signature_block",
    "OutlookMessageHeader",
    "WordSection1",
];

/// URL schemes that can pass ammonia's first check; the per-attribute
/// rules in [`filter_attribute`] narrow them further.
const URL_SCHEMES: &[&str] = &["http", "https", "mailto", "tel", "cid", "data"];

/// Raster image types allowed in `data:` URLs of `img src`.
const DATA_IMAGE_TYPES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/jpg",
    "image/gif",
    "image/webp",
];

fn tag_attributes() -> HashMap<&'static str, HashSet<&'static str>> {
    let table_cell: &[&str] = &[
        "align", "valign", "width", "height", "colspan", "rowspan", "bgcolor",
    ];
    let entries: &[(&str, &[&str])] = &[
        ("a", &["href"]),
        ("img", &["src", "alt", "width", "height", "align", "border"]),
        ("font", &["color"]),
        ("blockquote", &["type", "data-quoted"]),
        ("details", &["data-quoted"]),
        ("p", &["align"]),
        ("div", &["align"]),
        ("h1", &["align"]),
        ("h2", &["align"]),
        ("h3", &["align"]),
        ("h4", &["align"]),
        ("h5", &["align"]),
        ("h6", &["align"]),
        ("hr", &["align", "width"]),
        ("ol", &["start", "type"]),
        ("ul", &["type"]),
        ("li", &["value"]),
        (
            "table",
            &[
                "align",
                "width",
                "height",
                "border",
                "cellpadding",
                "cellspacing",
                "bgcolor",
            ],
        ),
        ("thead", &["align", "valign"]),
        ("tbody", &["align", "valign"]),
        ("tfoot", &["align", "valign"]),
        ("tr", &["align", "valign", "bgcolor", "height"]),
        ("td", table_cell),
        ("th", table_cell),
        ("col", &["align", "valign", "width", "span"]),
        ("colgroup", &["align", "valign", "width", "span"]),
    ];
    entries
        .iter()
        .map(|(tag, attrs)| (*tag, attrs.iter().copied().collect()))
        .collect()
}

fn allowed_classes() -> HashMap<&'static str, HashSet<&'static str>> {
    let classes: HashSet<&'static str> = ALLOWED_CLASSES.iter().copied().collect();
    ["div", "blockquote", "span"]
        .into_iter()
        .map(|tag| (tag, classes.clone()))
        .collect()
}

/// Normalizes a URL the way a browser reads it for the purpose of finding
/// its scheme: drops tabs and newlines anywhere, trims leading/trailing
/// control characters and spaces, and lowercases.
fn normalized_url(value: &str) -> String {
    value
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect::<String>()
        .trim_matches(|c: char| c <= ' ')
        .to_ascii_lowercase()
}

fn href_allowed(value: &str) -> bool {
    let url = normalized_url(value);
    ["http:", "https:", "mailto:", "tel:"]
        .iter()
        .any(|scheme| url.starts_with(scheme))
}

fn img_src_allowed(value: &str) -> bool {
    let url = normalized_url(value);
    if ["http:", "https:", "cid:"]
        .iter()
        .any(|scheme| url.starts_with(scheme))
    {
        return true;
    }
    let Some(rest) = url.strip_prefix("data:") else {
        return false;
    };
    DATA_IMAGE_TYPES.iter().any(|mime| {
        rest.strip_prefix(mime)
            .is_some_and(|after| after.starts_with(';') || after.starts_with(','))
    })
}

/// Per-attribute rules ammonia's builder cannot express on its own.
fn filter_attribute<'u>(element: &str, attribute: &str, value: &'u str) -> Option<Cow<'u, str>> {
    match (element, attribute) {
        ("a", "href") => href_allowed(value).then_some(Cow::Borrowed(value)),
        ("img", "src") => img_src_allowed(value).then_some(Cow::Borrowed(value)),
        (_, "src" | "href") => None,
        ("blockquote", "type") => value
            .trim()
            .eq_ignore_ascii_case("cite")
            .then_some(Cow::Borrowed("cite")),
        // Runs after the prefix is added: an empty `id` is not worth keeping.
        (_, "id") => (value != ID_PREFIX).then_some(Cow::Borrowed(value)),
        // `data-quoted` is a boolean marker: normalize whatever value it had.
        (_, "data-quoted") => Some(Cow::Borrowed("")),
        _ => Some(Cow::Borrowed(value)),
    }
}

/// The email policy as an ammonia builder (see the module documentation), without its
/// attribute filter (ammonia takes one filter per builder; callers add theirs).
fn email_policy() -> ammonia::Builder<'static> {
    let tags: HashSet<&str> = TAGS.iter().copied().collect();
    let clean_content: HashSet<&str> = CLEAN_CONTENT_TAGS.iter().copied().collect();
    let generic: HashSet<&str> = GENERIC_ATTRIBUTES.iter().copied().collect();
    let schemes: HashSet<&str> = URL_SCHEMES.iter().copied().collect();
    let mut b = ammonia::Builder::empty();
    b.tags(tags)
        .clean_content_tags(clean_content)
        .generic_attributes(generic)
        .tag_attributes(tag_attributes())
        .allowed_classes(allowed_classes())
        .url_schemes(schemes)
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer"))
        .set_tag_attribute_value("a", "target", "_blank")
        .id_prefix(Some(ID_PREFIX))
        .strip_comments(true);
    b
}

/// Sanitizes the HTML body of an incoming email.
///
/// The result is well-formed HTML safe to show to agents (under the page's
/// Content-Security-Policy) and to quote into outgoing mail. See the module
/// documentation for the policy. Never panics; any input is accepted.
pub fn clean_email_html(html: &str) -> String {
    email_policy()
        .attribute_filter(filter_attribute)
        .clean(html)
        .to_string()
}

/// Sanitizes a module's HTML fragment for a page slot: the email policy, except that
/// relative links into the module's own routes (`/m/<module>/…`) are kept and open in the
/// same tab, so a module can put "Ratings report" in the main menu. Other relative URLs
/// are removed.
pub fn clean_module_html(html: &str, module: &str) -> String {
    let prefix = format!("/m/{module}/");
    let mut b = email_policy();
    b.url_relative(ammonia::UrlRelative::Custom(Box::new(OwnRoutes(
        prefix.clone(),
    ))))
    .attribute_filter(module_attributes(prefix))
    .rm_set_tag_attribute_value("a", "target");
    b.clean(html).to_string()
}

/// Whether `url` is a plain path under `prefix` (no `..`, backslashes or `//`).
fn own_route(prefix: &str, url: &str) -> bool {
    url.starts_with(prefix)
        && !url.contains("..")
        && !url.contains('\\')
        && !url[1..].contains("//")
}

/// Keeps relative URLs under one prefix, drops the rest.
struct OwnRoutes(String);

impl<'a> ammonia::UrlRelativeEvaluate<'a> for OwnRoutes {
    fn evaluate<'url>(&self, url: &'url str) -> Option<Cow<'url, str>> {
        own_route(&self.0, url).then_some(Cow::Borrowed(url))
    }
}

/// The email attribute rules, plus links and images under `prefix`.
fn module_attributes(
    prefix: String,
) -> impl for<'u> Fn(&str, &str, &'u str) -> Option<Cow<'u, str>> + Send + Sync {
    move |element, attribute, value| match (element, attribute) {
        ("a", "href") | ("img", "src") if own_route(&prefix, value) => Some(Cow::Borrowed(value)),
        _ => filter_attribute(element, attribute, value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(s: &str) -> String {
        clean_email_html(s)
    }

    #[test]
    fn keeps_ordinary_formatting() {
        let html = "<p>Hello <b>bold</b> <i>it</i> <u>u</u> <s>s</s> <sub>1</sub><sup>2</sup></p>\
                    <ul><li>one</li></ul><blockquote>q</blockquote><pre><code>x</code></pre><hr>";
        let out = clean(html);
        for tag in [
            "<p>",
            "<b>",
            "<i>",
            "<u>",
            "<s>",
            "<sub>",
            "<sup>",
            "<ul>",
            "<li>",
            "<blockquote>",
            "<pre>",
            "<code>",
            "<hr>",
        ] {
            assert!(out.contains(tag), "{tag} missing in {out}");
        }
    }

    #[test]
    fn module_fragments_keep_only_links_to_their_own_routes() {
        let out = clean_module_html(
            "<a href=\"/m/ratings/report\">R</a><a href=\"/users\">U</a>\
             <a href=\"/m/other/x\">O</a><a href=\"/m/ratings/../../users\">D</a>\
             <a href=\"/m/ratings//evil.test\">S</a><img src=\"/m/ratings/x.png\" onerror=\"x()\">",
            "ratings",
        );
        assert!(out.contains("href=\"/m/ratings/report\""), "{out}");
        assert!(!out.contains("/users"), "{out}");
        assert!(!out.contains("/m/other/"), "{out}");
        assert!(!out.contains("evil.test"), "{out}");
        assert!(!out.contains("onerror"), "{out}");
        assert!(!out.contains("target="), "{out}");
    }

    #[test]
    fn removes_script_with_content() {
        let out = clean("<p>hi</p><script>alert('x')</script>");
        assert_eq!(out, "<p>hi</p>");
    }

    #[test]
    fn removes_style_with_content() {
        let out = clean("<style>body{color:red}</style><p>hi</p>");
        assert_eq!(out, "<p>hi</p>");
        assert!(!out.contains("color"));
    }

    #[test]
    fn removes_inline_style_and_css_expression() {
        let out = clean(r#"<div style="width: expression(alert(1)); color:red">x</div>"#);
        assert_eq!(out, "<div>x</div>");
    }

    #[test]
    fn removes_event_handlers() {
        let out = clean(r#"<img src=x onerror="alert(1)"><p onclick="alert(2)">t</p>"#);
        assert!(!out.contains("onerror"));
        assert!(!out.contains("onclick"));
        assert!(!out.contains("alert"));
    }

    #[test]
    fn relative_img_src_is_dropped() {
        let out = clean("<img src=x onerror=alert(1)>");
        assert_eq!(out, "<img>");
    }

    #[test]
    fn javascript_and_vbscript_links_dropped() {
        for href in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            " javascript:alert(1)",
            "java\tscript:alert(1)",
            "vbscript:msgbox(1)",
            "data:text/html,<script>alert(1)</script>",
            "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
            "cid:foo",
            "file:///etc/passwd",
            "/relative/path",
        ] {
            let out = clean(&format!(r#"<a href="{href}">x</a>"#));
            assert!(!out.contains("href"), "{href} kept: {out}");
        }
    }

    #[test]
    fn links_get_rel_and_target() {
        let out = clean(r#"<a href="https://example.com/" rel="opener" target="_self">x</a>"#);
        assert!(out.contains(r#"href="https://example.com/""#), "{out}");
        assert!(out.contains(r#"rel="noopener noreferrer""#), "{out}");
        assert!(out.contains(r#"target="_blank""#), "{out}");
        assert!(!out.contains("_self"));
        assert!(!out.contains(r#"rel="opener""#));
    }

    #[test]
    fn mailto_and_tel_links_kept() {
        let out = clean(r#"<a href="mailto:a@example.com">m</a><a href="tel:+123">t</a>"#);
        assert!(out.contains("mailto:a@example.com"));
        assert!(out.contains("tel:+123"));
    }

    #[test]
    fn svg_with_script_removed() {
        let out = clean(
            r#"<p>a</p><svg><script>alert(1)</script><text>t</text></svg><math><mi>x</mi></math>"#,
        );
        assert_eq!(out, "<p>a</p>");
    }

    #[test]
    fn frames_objects_forms_removed() {
        let out = clean(
            r#"<iframe src="https://evil"></iframe><object data="x"></object><embed src="y">
               <form action="https://evil"><input name=a><button>Go</button></form>
               <meta http-equiv="refresh" content="0;url=https://evil"><link rel=stylesheet href=x><base href="https://evil/">"#,
        );
        for bad in [
            "iframe", "object", "embed", "form", "input", "button", "meta", "link", "base", "evil",
        ] {
            assert!(!out.contains(bad), "{bad} in {out}");
        }
    }

    #[test]
    fn images_cid_remote_and_raster_data_kept() {
        let out = clean(r#"<img src="cid:part1.abc@example.com" alt="logo">"#);
        assert!(out.contains(r#"src="cid:part1.abc@example.com""#), "{out}");
        let out = clean(r#"<img src="https://tracker.example.com/p.gif" width="1" height="1">"#);
        assert!(out.contains(r#"src="https://tracker.example.com/p.gif""#));
        assert!(out.contains(r#"width="1""#));
        let out = clean(r#"<img src="data:image/png;base64,iVBORw0KGgo=">"#);
        assert!(out.contains("data:image/png;base64"), "{out}");
        let out = clean(r#"<img src="data:image/webp;base64,UklGRg==">"#);
        assert!(out.contains("data:image/webp"), "{out}");
    }

    #[test]
    fn svg_and_html_data_images_dropped() {
        for src in [
            "data:image/svg+xml;base64,PHN2Zz4=",
            "data:image/svg+xml,<svg onload=alert(1)>",
            "data:text/html,<script>alert(1)</script>",
            "data:image/pngx;base64,AAAA",
            "javascript:alert(1)",
            "mailto:a@b",
        ] {
            let out = clean(&format!(r#"<img src="{src}">"#));
            assert_eq!(out, "<img>", "{src}");
        }
    }

    #[test]
    fn class_allow_list() {
        let out = clean(
            r#"<div class="gmail_quote evil-class">x</div><span class="moz-cite-prefix">y</span><p class="gmail_quote">z</p>"#,
        );
        assert!(out.contains(r#"<div class="gmail_quote">"#), "{out}");
        assert!(out.contains(r#"<span class="moz-cite-prefix">"#), "{out}");
        assert!(!out.contains("evil-class"));
        assert!(out.contains("<p>z</p>"), "{out}");
    }

    #[test]
    fn ids_prefixed() {
        let out = clean(r#"<div id="divRplyFwdMsg">x</div><div id="pd-already">y</div>"#);
        assert!(out.contains(r#"id="pd-divRplyFwdMsg""#), "{out}");
        assert!(out.contains(r#"id="pd-already""#), "{out}");
        assert!(!out.contains("pd-pd-"));
        let out = clean(r#"<div id="">x</div>"#);
        assert_eq!(out, "<div>x</div>");
    }

    #[test]
    fn blockquote_type_cite_and_data_quoted_kept() {
        let out = clean(r#"<blockquote type="cite" cite="mid:x">q</blockquote>"#);
        assert_eq!(out, r#"<blockquote type="cite">q</blockquote>"#);
        let out = clean(r#"<blockquote type="evil">q</blockquote>"#);
        assert_eq!(out, "<blockquote>q</blockquote>");
        let out = clean("<details data-quoted open><summary>···</summary><p>q</p></details>");
        assert_eq!(
            out,
            r#"<details data-quoted=""><summary>···</summary><p>q</p></details>"#
        );
    }

    #[test]
    fn font_keeps_color_only() {
        let out = clean(r##"<font color="#ff0000" face="Arial" size="7">x</font>"##);
        assert_eq!(out, r##"<font color="#ff0000">x</font>"##);
    }

    #[test]
    fn table_presentational_attributes_kept() {
        let out = clean(
            r##"<table border="0" cellpadding="2" cellspacing="0" width="100%" background="https://x/bg.png"><tr><td colspan="2" bgcolor="#eee" valign="top">c</td></tr></table>"##,
        );
        for attr in [
            r#"border="0""#,
            r#"cellpadding="2""#,
            r#"cellspacing="0""#,
            r#"colspan="2""#,
            r##"bgcolor="#eee""##,
            r#"valign="top""#,
        ] {
            assert!(out.contains(attr), "{attr} missing: {out}");
        }
        assert!(!out.contains("background"));
    }

    #[test]
    fn malformed_and_nested_markup_is_balanced() {
        let out = clean("<div><p>a<b>b<i>c</div></p><script>x");
        assert!(!out.contains("script"));
        assert_eq!(out.matches("<div>").count(), out.matches("</div>").count());
        assert_eq!(out.matches("<b>").count(), out.matches("</b>").count());
        let out = clean("<<script>script>alert(1)<</script>/script>");
        assert!(!out.contains("<script"), "{out}");
    }

    #[test]
    fn namespace_confusion_is_neutralized() {
        let out = clean(
            r#"<svg><iframe><a title="</iframe><img src onerror=alert(1)>">t</a></iframe></svg>"#,
        );
        assert_eq!(out, "");
        let out = clean("<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>");
        assert_eq!(out, "");
        let out = clean(
            r#"<a href="&#106;avascript:alert(1)">x</a><a href="jav&#x09;ascript:alert(1)">y</a>"#,
        );
        assert!(!out.contains("href"), "{out}");
    }

    #[test]
    fn comments_and_conditional_comments_stripped() {
        let out = clean("<!--[if mso]><p>mso</p><![endif]--><p>x</p><!-- hidden -->");
        assert_eq!(out, "<p>x</p>");
    }

    #[test]
    fn full_document_reduced_to_body_content() {
        let out = clean(
            "<html><head><title>T</title><meta charset=utf-8><style>p{}</style></head><body><p>Body</p></body></html>",
        );
        assert_eq!(out, "<p>Body</p>");
    }

    #[test]
    fn idempotent() {
        let html = r#"<div class="gmail_quote" id="x"><a href="https://e.com">l</a><img src="cid:a"></div>"#;
        let once = clean(html);
        assert_eq!(clean(&once), once);
    }

    #[test]
    fn garbage_does_not_panic() {
        for s in [
            "",
            "<",
            ">",
            "&",
            "&#0;",
            "<a",
            "</",
            "<!--",
            "<![CDATA[",
            "\0\u{fffd}",
            "<img src=\"",
            "<table><td><tr>",
            "<p><p><p>",
        ] {
            let _ = clean(s);
        }
        let deep = "<div>".repeat(3_000);
        let _ = clean(&deep);
    }
}
