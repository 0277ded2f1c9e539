//! Folding of quoted history in email bodies.
//!
//! Quoted history is never deleted: the stored HTML keeps it, wrapped as
//!
//! ```html
//! <details data-quoted><summary>···</summary> … </details>
//! ```
//!
//! (closed by default), so pages and API clients can fold and unfold it.
//!
//! * [`mark_quoted_html`] works on the output of
//!   [`crate::sanitize::clean_email_html`]: it finds the first quote marker
//!   and wraps everything from it to the end of its parent element.
//! * [`split_quoted_text`] splits a plain-text body into the new text and the
//!   quoted part; [`text_to_html`] renders plain text as simple HTML with the
//!   quoted part wrapped the same way.
//!
//! Recognized shapes: Gmail (`gmail_quote`, `gmail_quote_container`,
//! `gmail_attr`), Apple Mail and Thunderbird (`blockquote type="cite"`,
//! `moz-cite-prefix`), Yahoo (`yahoo_quoted`), Proton (`protonmail_quote`),
//! Outlook desktop and web (`divRplyFwdMsg`, `OutlookMessageHeader`,
//! "From:/Sent:" header blocks, `-----Original Message-----`), new Outlook
//! (`mail-editor-reference-message-container`), Yandex and Mail.ru
//! (attribution line with a time and an address, followed by a
//! `blockquote`), and attribution lines in English, Russian, German and
//! French. Nothing here panics, whatever the input.

/// The opening of the wrapper put around quoted history.
pub const QUOTED_OPEN: &str = "<details data-quoted><summary>···</summary>";

/// The closing of the wrapper put around quoted history.
pub const QUOTED_CLOSE: &str = "</details>";

/// Longest line (in characters) that can be an attribution line.
const MAX_ATTRIBUTION_CHARS: usize = 400;

// ---------------------------------------------------------------------------
// Line classification (shared by the HTML and the plain-text paths)
// ---------------------------------------------------------------------------

/// Collapses all kinds of white space (including no-break spaces) into
/// single spaces, drops zero-width characters and trims.
fn normalize_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        if matches!(c, '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{feff}') {
            continue;
        }
        if c.is_whitespace() {
            pending_space = true;
            continue;
        }
        if pending_space && !out.is_empty() {
            out.push(' ');
        }
        pending_space = false;
        out.push(c);
    }
    out
}

fn has_digit(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_digit())
}

/// True if `s` contains a clock time such as `10:00` or `9:05`.
fn has_time(s: &str) -> bool {
    let b = s.as_bytes();
    (1..b.len().saturating_sub(2)).any(|i| {
        b[i] == b':'
            && b[i - 1].is_ascii_digit()
            && b[i + 1].is_ascii_digit()
            && b[i + 2].is_ascii_digit()
    })
}

/// Lowercased, normalized line, or `None` if too long to be an attribution.
fn attribution_candidate(line: &str) -> Option<String> {
    let l = normalize_line(line);
    if l.is_empty() || l.chars().count() > MAX_ATTRIBUTION_CHARS {
        return None;
    }
    Some(l.to_lowercase())
}

/// `-----Original Message-----`, `---------- Forwarded message ---------`
/// and their translations.
fn is_separator_line(line: &str) -> bool {
    let l = normalize_line(line);
    if !(l.starts_with("--") && l.ends_with("--")) {
        return false;
    }
    let inner = l.trim_matches(|c| c == '-' || c == ' ').to_lowercase();
    matches!(
        inner.as_str(),
        "original message"
            | "исходное сообщение"
            | "ursprüngliche nachricht"
            | "message d'origine"
            | "message d’origine"
            | "forwarded message"
            | "пересылаемое сообщение"
            | "weitergeleitete nachricht"
            | "message transféré"
    )
}

/// Attribution lines that are quote markers on their own: "On … wrote:"
/// (or "… <address> wrote:"), "… написал(а):" / "… пишет:" with a date or
/// an address, "Am … schrieb …:", "Le … a écrit :", "Begin forwarded
/// message:", and the `-----Original Message-----` style separators.
fn is_strong_attribution(line: &str) -> bool {
    if is_separator_line(line) {
        return true;
    }
    let Some(l) = attribution_candidate(line) else {
        return false;
    };
    if l == "begin forwarded message:" {
        return true;
    }
    if l.ends_with("wrote:") && (l.starts_with("on ") || l.contains('@')) {
        return true;
    }
    if RUSSIAN_VERBS.iter().any(|end| l.ends_with(end)) && (has_digit(&l) || l.contains('@')) {
        return true;
    }
    if l.starts_with("am ") && l.contains(" schrieb") && l.ends_with(':') {
        return true;
    }
    l.starts_with("le ") && (l.ends_with("a écrit :") || l.ends_with("a écrit:"))
}

const RUSSIAN_VERBS: &[&str] = &[
    "написал(а):",
    "написала:",
    "написал:",
    "пишет:",
    "написал(а) :",
];

/// Attribution lines that only count when a quote (a `blockquote`, or `>`
/// lines) follows: verb-less ones as Yandex, Mail.ru and localized Gmail
/// write them ("06.01.2025, 10:00, "Анна" <anna@x.ru>:"), and short ones
/// such as "Anna Smith wrote:" or "Анна пишет:".
fn is_weak_attribution(line: &str) -> bool {
    attribution_candidate(line).is_some_and(|l| {
        l.ends_with(':')
            && ((l.contains('@') && has_time(&l))
                || l.ends_with("wrote:")
                || RUSSIAN_VERBS.iter().any(|end| l.ends_with(end)))
    })
}

/// Strips decoration Outlook and plain-text converters put around header
/// labels (`*From:*`, `**From:**`).
fn header_label_text(line: &str) -> String {
    normalize_line(line)
        .trim_start_matches(['*', '_'])
        .to_lowercase()
}

const FROM_LABELS: &[&str] = &["from:", "от:", "von:", "de :", "de:"];
const SENT_LABELS: &[&str] = &[
    "sent:",
    "date:",
    "отправлено:",
    "дата:",
    "gesendet:",
    "datum:",
    "envoyé :",
    "envoyé:",
    "date :",
];

fn starts_with_label(line: &str, labels: &[&str]) -> bool {
    let l = header_label_text(line);
    labels.iter().any(|label| l.starts_with(label))
}

/// True if `lines[i]` opens an Outlook-style header block: a "From:" line
/// with a "Sent:"/"Date:" label on the same line or one of the next four.
fn is_header_block(lines: &[String], i: usize) -> bool {
    let Some(first) = lines.get(i) else {
        return false;
    };
    if !starts_with_label(first, FROM_LABELS) {
        return false;
    }
    let lower = header_label_text(first);
    if SENT_LABELS[..3]
        .iter()
        .chain(&SENT_LABELS[4..])
        .any(|label| lower.contains(&format!(" {label}")))
    {
        return true;
    }
    lines
        .iter()
        .skip(i + 1)
        .take(4)
        .any(|l| starts_with_label(l, SENT_LABELS))
}

/// True for a line made only of `_`, `-` or `=` (at least five), the rule
/// Outlook puts above its header block.
fn is_rule_line(line: &str) -> bool {
    let t = line.trim();
    t.chars().count() >= 5 && t.chars().all(|c| matches!(c, '_' | '-' | '=' | '—'))
}

fn is_blank(s: &str) -> bool {
    normalize_line(s).is_empty()
}

// ---------------------------------------------------------------------------
// Plain text
// ---------------------------------------------------------------------------

/// Index of the first line of the trailing run of `>` lines, including an
/// attribution line ending in ':' right above it.
fn trailing_quote_run(lines: &[&str]) -> Option<usize> {
    let mut end = lines.len();
    while end > 0 && is_blank(lines[end - 1]) {
        end -= 1;
    }
    let mut start = end;
    let mut seen_quote = false;
    while start > 0 {
        let l = lines[start - 1];
        if l.trim_start().starts_with('>') {
            seen_quote = true;
        } else if !is_blank(l) {
            break;
        }
        start -= 1;
    }
    if !seen_quote {
        return None;
    }
    while start < end && is_blank(lines[start]) {
        start += 1;
    }
    let mut above = start;
    while above > 0 && is_blank(lines[above - 1]) {
        above -= 1;
    }
    if above > 0 {
        let prev = normalize_line(lines[above - 1]);
        if prev.ends_with(':') && prev.chars().count() <= MAX_ATTRIBUTION_CHARS {
            return Some(above - 1);
        }
    }
    Some(start)
}

/// Moves a quote start up over a rule line (`_____`) right above it.
fn include_rule_above(lines: &[&str], start: usize) -> usize {
    let mut above = start;
    while above > 0 && is_blank(lines[above - 1]) {
        above -= 1;
    }
    if above > 0 && is_rule_line(lines[above - 1]) {
        above - 1
    } else {
        start
    }
}

fn find_text_quote_start(lines: &[&str]) -> Option<usize> {
    let normalized: Vec<String> = lines.iter().map(|l| normalize_line(l)).collect();
    let run = trailing_quote_run(lines);
    let limit = run.unwrap_or(lines.len());
    for i in 0..limit {
        if normalized[i].is_empty() || normalized[i].starts_with('>') {
            continue;
        }
        if is_header_block(&normalized, i) {
            return Some(include_rule_above(lines, i));
        }
        // Attribution lines wrapped over up to three lines.
        let mut joined = String::new();
        for line in normalized.iter().skip(i).take(3) {
            if line.is_empty() || line.starts_with('>') {
                break;
            }
            if !joined.is_empty() {
                joined.push(' ');
            }
            joined.push_str(line);
            if is_strong_attribution(&joined) {
                return Some(include_rule_above(lines, i));
            }
        }
    }
    run
}

/// Removes trailing blank lines (and the final line break) from `s`.
fn trim_trailing_blank_lines(s: &str) -> &str {
    let mut t = s.trim_end_matches(['\r', '\n']);
    loop {
        let last_start = t.rfind('\n').map_or(0, |p| p + 1);
        if last_start < t.len() && !is_blank(&t[last_start..]) {
            return t;
        }
        if t.is_empty() {
            return t;
        }
        if last_start == 0 {
            return "";
        }
        t = t[..last_start].trim_end_matches(['\r', '\n']);
    }
}

/// Splits a plain-text body into `(new text, quoted part)`.
///
/// The quoted part starts at an attribution line ("On … wrote:",
/// "… написал(а):", "… пишет:", "Am … schrieb …:", "Le … a écrit :"), an
/// Outlook header block ("From:"/"Sent:", "От:"/"Отправлено:",
/// "Von:"/"Gesendet:", "De :"/"Envoyé :"), a `-----Original Message-----`
/// or `-----Исходное сообщение-----` separator, or the trailing run of
/// `>`-prefixed lines (with the line ending in ':' right above it), whichever
/// comes first. The new text keeps signatures and loses trailing blank
/// lines; the quoted part is returned verbatim (LF or CRLF as given).
///
/// Returns `(text, None)` unchanged if there is no quote, or if nothing but
/// white space comes before it (a pure forward).
pub fn split_quoted_text(text: &str) -> (String, Option<String>) {
    let mut offsets = Vec::new();
    let mut lines = Vec::new();
    let mut pos = 0;
    for raw in text.split_inclusive('\n') {
        offsets.push(pos);
        lines.push(raw.trim_end_matches(['\n', '\r']));
        pos += raw.len();
    }
    let Some(start) = find_text_quote_start(&lines) else {
        return (text.to_string(), None);
    };
    let Some(&offset) = offsets.get(start) else {
        return (text.to_string(), None);
    };
    let new = trim_trailing_blank_lines(&text[..offset]);
    if is_blank(new) {
        return (text.to_string(), None);
    }
    (new.to_string(), Some(text[offset..].to_string()))
}

fn escape_html(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\t' => {}
            _ => out.push(c),
        }
    }
}

/// Length in bytes of the URL starting at the beginning of `s`: up to white
/// space or `<>"`, without trailing punctuation (a closing parenthesis is
/// kept when it balances one inside the URL).
fn url_len(s: &str) -> usize {
    let mut end = s
        .char_indices()
        .find(|&(_, c)| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'))
        .map_or(s.len(), |(i, _)| i);
    let url = &s[..end];
    let opening = url.matches('(').count();
    let mut closing = url.matches(')').count();
    while let Some(last) = s[..end].chars().next_back() {
        let strip = match last {
            '.' | ',' | ';' | ':' | '!' | '?' | '\'' | ']' | '}' | '*' => true,
            ')' if opening < closing => {
                closing -= 1;
                true
            }
            _ => false,
        };
        if !strip {
            break;
        }
        end -= last.len_utf8();
    }
    end
}

/// Escapes one line of text, turning bare http(s) URLs into links.
fn linkify_line(line: &str, out: &mut String) {
    let lower = line.to_ascii_lowercase();
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = lower[search..].find("http") {
        let i = search + found;
        let tail = &lower[i..];
        let scheme = if tail.starts_with("https://") {
            8
        } else if tail.starts_with("http://") {
            7
        } else {
            0
        };
        let boundary = line[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        let len = if scheme > 0 && boundary {
            url_len(&line[i..])
        } else {
            0
        };
        if len <= scheme {
            search = i + 4;
            continue;
        }
        escape_html(&line[copied..i], out);
        let url = &line[i..i + len];
        out.push_str("<a href=\"");
        escape_html(url, out);
        out.push_str("\" rel=\"noopener noreferrer\" target=\"_blank\">");
        escape_html(url, out);
        out.push_str("</a>");
        copied = i + len;
        search = copied;
    }
    escape_html(&line[copied..], out);
}

/// Renders text as `<p>` paragraphs (split on blank lines) with `<br>`
/// between lines.
fn paragraphs_to_html(text: &str, out: &mut String) {
    let mut in_paragraph = false;
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        if is_blank(line) {
            if in_paragraph {
                out.push_str("</p>");
                in_paragraph = false;
            }
            continue;
        }
        if in_paragraph {
            out.push_str("<br>");
        } else {
            out.push_str("<p>");
            in_paragraph = true;
        }
        linkify_line(line, out);
    }
    if in_paragraph {
        out.push_str("</p>");
    }
}

/// Renders a plain-text body as simple HTML.
///
/// Text is escaped, split into `<p>` paragraphs on blank lines with `<br>`
/// between lines, and bare `http(s)://` URLs become links with
/// `rel="noopener noreferrer" target="_blank"`. The quoted part found by
/// [`split_quoted_text`] is wrapped in [`QUOTED_OPEN`] … [`QUOTED_CLOSE`].
pub fn text_to_html(text: &str) -> String {
    let (new, quoted) = split_quoted_text(text);
    let mut out = String::with_capacity(text.len() + text.len() / 4 + 64);
    paragraphs_to_html(&new, &mut out);
    if let Some(quoted) = quoted {
        out.push_str(QUOTED_OPEN);
        paragraphs_to_html(&quoted, &mut out);
        out.push_str(QUOTED_CLOSE);
    }
    out
}

// ---------------------------------------------------------------------------
// A small tree over the sanitizer's (well-formed) output
// ---------------------------------------------------------------------------

#[derive(Debug)]
struct Attr {
    name: String,
    /// The value as written, still entity-encoded.
    raw: String,
}

#[derive(Debug)]
enum Kind {
    Root,
    Element {
        name: String,
        attrs: Vec<Attr>,
    },
    Text,
    /// Comments, doctypes, processing instructions.
    Other,
}

#[derive(Debug)]
struct Node {
    kind: Kind,
    parent: usize,
    /// Position among the parent's children.
    index: usize,
    children: Vec<usize>,
    /// Byte offset of the node's first byte.
    start: usize,
    /// Byte offset of the end tag (= `end` for text and void elements).
    inner_end: usize,
    /// Byte offset just after the node.
    end: usize,
}

struct Tree<'a> {
    src: &'a str,
    nodes: Vec<Node>,
}

const VOID_ELEMENTS: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta", "param",
    "source", "track", "wbr",
];

/// Elements whose content browsers do not parse as markup; the sanitizer
/// never emits them, so their presence means the input is not its output.
const RAW_TEXT_ELEMENTS: &[&str] = &[
    "script",
    "style",
    "textarea",
    "title",
    "xmp",
    "iframe",
    "noembed",
    "noframes",
    "noscript",
    "plaintext",
];

enum Token {
    Start {
        name: String,
        attrs: Vec<Attr>,
        end: usize,
        self_closing: bool,
    },
    End {
        name: String,
        end: usize,
    },
    Other {
        end: usize,
    },
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b':' || b == b'_'
}

/// Parses the markup construct starting at `src[at] == '<'`.
/// `Ok(None)`: a literal '<'; `Err(())`: unterminated construct.
fn parse_token(src: &str, at: usize) -> Result<Option<Token>, ()> {
    let b = src.as_bytes();
    let rest = &src[at..];
    if rest.starts_with("<!--") {
        let close = src[at + 4..].find("-->").ok_or(())?;
        return Ok(Some(Token::Other {
            end: at + 4 + close + 3,
        }));
    }
    if rest.starts_with("<!") || rest.starts_with("<?") {
        let close = src[at..].find('>').ok_or(())?;
        return Ok(Some(Token::Other {
            end: at + close + 1,
        }));
    }
    if rest.starts_with("</") {
        let name_start = at + 2;
        if !b.get(name_start).is_some_and(u8::is_ascii_alphabetic) {
            return Ok(None);
        }
        let mut i = name_start;
        while i < b.len() && is_name_byte(b[i]) {
            i += 1;
        }
        let name = src[name_start..i].to_ascii_lowercase();
        let close = src[i..].find('>').ok_or(())?;
        return Ok(Some(Token::End {
            name,
            end: i + close + 1,
        }));
    }
    let name_start = at + 1;
    if !b.get(name_start).is_some_and(u8::is_ascii_alphabetic) {
        return Ok(None);
    }
    let mut i = name_start;
    while i < b.len() && is_name_byte(b[i]) {
        i += 1;
    }
    let name = src[name_start..i].to_ascii_lowercase();
    let mut attrs = Vec::new();
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        match b.get(i) {
            None => return Err(()),
            Some(b'>') => {
                return Ok(Some(Token::Start {
                    name,
                    attrs,
                    end: i + 1,
                    self_closing: false,
                }));
            }
            Some(b'/') if b.get(i + 1) == Some(&b'>') => {
                return Ok(Some(Token::Start {
                    name,
                    attrs,
                    end: i + 2,
                    self_closing: true,
                }));
            }
            Some(b'/') => {
                i += 1;
                continue;
            }
            Some(_) => {}
        }
        let attr_start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'>' | b'/') {
            i += 1;
        }
        let attr_name = src[attr_start..i].to_ascii_lowercase();
        let mut j = i;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        let mut raw = String::new();
        if b.get(j) == Some(&b'=') {
            j += 1;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            match b.get(j) {
                None => return Err(()),
                Some(&q) if q == b'"' || q == b'\'' => {
                    let close = src[j + 1..].find(q as char).ok_or(())?;
                    raw = src[j + 1..j + 1 + close].to_string();
                    j = j + 1 + close + 1;
                }
                Some(_) => {
                    let v_start = j;
                    while j < b.len() && !b[j].is_ascii_whitespace() && b[j] != b'>' {
                        j += 1;
                    }
                    raw = src[v_start..j].replace('"', "&quot;");
                }
            }
            i = j;
        }
        if !attr_name.is_empty() {
            attrs.push(Attr {
                name: attr_name,
                raw,
            });
        }
    }
}

impl<'a> Tree<'a> {
    /// Builds the tree, or `None` if the markup is not balanced.
    fn parse(src: &'a str) -> Option<Tree<'a>> {
        let mut tree = Tree {
            src,
            nodes: vec![Node {
                kind: Kind::Root,
                parent: 0,
                index: 0,
                children: Vec::new(),
                start: 0,
                inner_end: src.len(),
                end: src.len(),
            }],
        };
        let mut open = vec![0usize];
        let mut text_start = 0;
        let mut i = 0;
        let b = src.as_bytes();
        while i < b.len() {
            if b[i] != b'<' {
                i += 1;
                continue;
            }
            let Some(token) = parse_token(src, i).ok()? else {
                i += 1;
                continue;
            };
            let parent = *open.last()?;
            tree.push_leaf(Kind::Text, parent, text_start, i);
            match token {
                Token::Start {
                    name,
                    attrs,
                    end,
                    self_closing,
                } => {
                    if RAW_TEXT_ELEMENTS.contains(&name.as_str()) {
                        return None;
                    }
                    let void = self_closing || VOID_ELEMENTS.contains(&name.as_str());
                    let id = tree.nodes.len();
                    let index = tree.nodes[parent].children.len();
                    tree.nodes.push(Node {
                        kind: Kind::Element { name, attrs },
                        parent,
                        index,
                        children: Vec::new(),
                        start: i,
                        inner_end: end,
                        end,
                    });
                    tree.nodes[parent].children.push(id);
                    if !void {
                        open.push(id);
                    }
                    i = end;
                }
                Token::End { name, end } => {
                    let top = *open.last()?;
                    if top == 0 || tree.name(top) != Some(name.as_str()) {
                        return None;
                    }
                    open.pop();
                    let node = &mut tree.nodes[top];
                    node.inner_end = i;
                    node.end = end;
                    i = end;
                }
                Token::Other { end } => {
                    tree.push_leaf(Kind::Other, parent, i, end);
                    i = end;
                }
            }
            text_start = i;
        }
        if open.len() != 1 {
            return None;
        }
        tree.push_leaf(Kind::Text, 0, text_start, src.len());
        Some(tree)
    }

    fn push_leaf(&mut self, kind: Kind, parent: usize, start: usize, end: usize) {
        if start >= end {
            return;
        }
        let id = self.nodes.len();
        let index = self.nodes[parent].children.len();
        self.nodes.push(Node {
            kind,
            parent,
            index,
            children: Vec::new(),
            start,
            inner_end: end,
            end,
        });
        self.nodes[parent].children.push(id);
    }

    fn name(&self, id: usize) -> Option<&str> {
        match &self.nodes.get(id)?.kind {
            Kind::Element { name, .. } => Some(name),
            _ => None,
        }
    }

    fn attr(&self, id: usize, attr: &str) -> Option<&str> {
        match &self.nodes.get(id)?.kind {
            Kind::Element { attrs, .. } => attrs
                .iter()
                .find(|a| a.name == attr)
                .map(|a| a.raw.as_str()),
            _ => None,
        }
    }

    fn raw(&self, id: usize) -> &str {
        let n = &self.nodes[id];
        self.src.get(n.start..n.end).unwrap_or("")
    }

    /// Whether each node holds visible content (text or an image).
    fn meaningful(&self) -> Vec<bool> {
        let mut m = vec![false; self.nodes.len()];
        for id in (1..self.nodes.len()).rev() {
            let own = match &self.nodes[id].kind {
                Kind::Text => !is_blank(&decode_entities(self.raw(id))),
                Kind::Element { name, .. } => name == "img",
                Kind::Root | Kind::Other => false,
            };
            if own {
                m[id] = true;
            }
            if m[id] {
                m[self.nodes[id].parent] = true;
            }
        }
        m
    }

    /// Position of `id` among its parent's children.
    fn index_in_parent(&self, id: usize) -> usize {
        self.nodes[id].index
    }

    fn previous_siblings(&self, id: usize) -> &[usize] {
        let parent = self.nodes[id].parent;
        let idx = self.index_in_parent(id);
        &self.nodes[parent].children[..idx]
    }

    fn following_siblings(&self, id: usize) -> &[usize] {
        let parent = self.nodes[id].parent;
        let idx = self.index_in_parent(id);
        self.nodes[parent].children.get(idx + 1..).unwrap_or(&[])
    }

    /// Plain text of a node (decoded), for rule-line checks.
    fn text_of(&self, id: usize) -> String {
        let mut out = String::new();
        let mut stack = vec![id];
        while let Some(n) = stack.pop() {
            match self.nodes[n].kind {
                Kind::Text => out.push_str(&decode_entities(self.raw(n))),
                Kind::Element { .. } | Kind::Root => {
                    stack.extend(self.nodes[n].children.iter().rev().copied())
                }
                Kind::Other => {}
            }
            if out.len() > 200 {
                break;
            }
        }
        out
    }
}

/// Decodes the entities the sanitizer's serializer emits, plus numeric ones.
fn decode_entities(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest.bytes().take(12).position(|b| b == b';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some('\u{a0}'),
            _ => entity.strip_prefix('#').and_then(|num| {
                let code = match num.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => num.parse::<u32>().ok(),
                };
                code.and_then(char::from_u32)
            }),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------------------
// Quote detection in HTML
// ---------------------------------------------------------------------------

const BLOCK_ELEMENTS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "caption",
    "center",
    "colgroup",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "ul",
];

/// Class names that mark quoted history (or its attribution) by themselves.
const MARKER_CLASSES: &[&str] = &[
    "gmail_quote",
    "gmail_quote_container",
    "gmail_attr",
    "moz-cite-prefix",
    "yahoo_quoted",
    "protonmail_quote",
    "OutlookMessageHeader",
];

/// `id`s (after removing the sanitizer's `pd-` and Outlook's `x_` prefixes)
/// that mark quoted history.
const MARKER_IDS: &[&str] = &[
    "divRplyFwdMsg",
    "mail-editor-reference-message-container",
    "mail-app-auto-quote",
];

/// Elements a fold never climbs out of: a fold that starts inside one stays
/// inside it, so table and list structure is never broken.
const CLIMB_STOPS: &[&str] = &[
    "td", "th", "caption", "li", "dt", "dd", "summary", "details",
];

/// Elements that end the search for a `<p>` ancestor (the HTML parser's
/// "button scope" boundaries that can occur in sanitized mail).
const P_SCOPE_STOPS: &[&str] = &["td", "th", "caption", "table", "button", "object"];

fn is_marker_element(tree: &Tree, id: usize) -> bool {
    let Some(name) = tree.name(id) else {
        return false;
    };
    if let Some(class) = tree.attr(id, "class")
        && class
            .split_ascii_whitespace()
            .any(|c| MARKER_CLASSES.contains(&c))
    {
        return true;
    }
    if let Some(raw_id) = tree.attr(id, "id") {
        let mut bare = raw_id
            .strip_prefix(crate::sanitize::ID_PREFIX)
            .unwrap_or(raw_id);
        while let Some(rest) = bare.strip_prefix("x_") {
            bare = rest;
        }
        if MARKER_IDS.contains(&bare) {
            return true;
        }
    }
    name == "blockquote"
        && (tree
            .attr(id, "type")
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("cite"))
            || opens_with_attribution(tree, id))
}

/// Mail.ru puts its attribution line inside the blockquote it introduces.
fn opens_with_attribution(tree: &Tree, id: usize) -> bool {
    fn walk(tree: &Tree, id: usize, out: &mut String) -> bool {
        for &child in &tree.nodes[id].children {
            let node = &tree.nodes[child];
            match &node.kind {
                Kind::Text => out.push_str(&decode_entities(&tree.src[node.start..node.end])),
                Kind::Element { name, .. } => {
                    let breaks = name == "br" || BLOCK_ELEMENTS.contains(&name.as_str());
                    if (breaks && !is_blank(out)) || walk(tree, child, out) {
                        return true;
                    }
                }
                Kind::Root | Kind::Other => {}
            }
            if out.len() > MAX_ATTRIBUTION_CHARS {
                return true;
            }
        }
        false
    }
    let mut line = String::new();
    walk(tree, id, &mut line);
    is_strong_attribution(&line) || is_weak_attribution(&line)
}

/// A visual line of the document: text between block boundaries and `<br>`.
struct HtmlLine {
    text: String,
    node: usize,
    pos: usize,
}

/// A place the fold may start: before `node`, or inside text node `node`
/// at byte `pos`.
#[derive(Clone, Copy)]
struct FoldStart {
    node: usize,
    pos: usize,
}

struct LineCollector {
    lines: Vec<HtmlLine>,
    current: Option<HtmlLine>,
    /// True while nothing visible came after the last finished line.
    clean_since_line: bool,
}

impl LineCollector {
    fn finish(&mut self) {
        if let Some(line) = self.current.take()
            && !is_blank(&line.text)
        {
            self.lines.push(line);
            self.clean_since_line = true;
        }
    }

    fn add_text(&mut self, node: usize, pos: usize, text: &str) {
        if let Some(line) = &mut self.current {
            line.text.push_str(text);
        } else if !is_blank(text) {
            self.current = Some(HtmlLine {
                text: text.to_string(),
                node,
                pos,
            });
            self.clean_since_line = false;
        }
    }
}

/// Finds the earliest quote marker in document order.
fn find_marker(tree: &Tree) -> Option<FoldStart> {
    let mut best: Option<FoldStart> = None;
    let consider = |best: &mut Option<FoldStart>, cand: FoldStart| {
        if best.is_none_or(|b| cand.pos < b.pos) {
            *best = Some(cand);
        }
    };
    let mut lc = LineCollector {
        lines: Vec::new(),
        current: None,
        clean_since_line: false,
    };
    enum Step {
        Enter(usize),
        Exit(usize),
    }
    let mut stack: Vec<Step> = tree.nodes[0]
        .children
        .iter()
        .rev()
        .map(|&c| Step::Enter(c))
        .collect();
    let mut pre_depth = 0usize;
    while let Some(step) = stack.pop() {
        match step {
            Step::Enter(id) => {
                let node = &tree.nodes[id];
                match &node.kind {
                    Kind::Text => {
                        let raw = tree.raw(id);
                        if pre_depth > 0 {
                            let mut offset = 0;
                            for (k, segment) in raw.split('\n').enumerate() {
                                if k > 0 {
                                    lc.finish();
                                }
                                lc.add_text(id, node.start + offset, &decode_entities(segment));
                                offset += segment.len() + 1;
                            }
                        } else {
                            lc.add_text(id, node.start, &decode_entities(raw));
                        }
                    }
                    Kind::Element { name, .. } => {
                        let block = BLOCK_ELEMENTS.contains(&name.as_str());
                        if block {
                            lc.finish();
                        }
                        if name == "img" && lc.current.is_none() {
                            lc.clean_since_line = false;
                        }
                        if name == "blockquote"
                            && lc.clean_since_line
                            && let Some(last) = lc.lines.last()
                            && is_weak_attribution(&last.text)
                        {
                            consider(
                                &mut best,
                                FoldStart {
                                    node: last.node,
                                    pos: last.pos,
                                },
                            );
                        }
                        if is_marker_element(tree, id) {
                            consider(
                                &mut best,
                                FoldStart {
                                    node: id,
                                    pos: node.start,
                                },
                            );
                        }
                        if name == "pre" {
                            pre_depth += 1;
                        }
                        stack.push(Step::Exit(id));
                        stack.extend(node.children.iter().rev().map(|&c| Step::Enter(c)));
                    }
                    Kind::Root | Kind::Other => {}
                }
            }
            Step::Exit(id) => {
                if let Some(name) = tree.name(id) {
                    if name == "pre" {
                        pre_depth = pre_depth.saturating_sub(1);
                    }
                    if BLOCK_ELEMENTS.contains(&name) {
                        lc.finish();
                    }
                }
            }
        }
    }
    lc.finish();
    let texts: Vec<String> = lc.lines.iter().map(|l| normalize_line(&l.text)).collect();
    for (i, line) in lc.lines.iter().enumerate() {
        if best.is_some_and(|b| b.pos <= line.pos) {
            break;
        }
        if is_strong_attribution(&texts[i]) || is_header_block(&texts, i) {
            consider(
                &mut best,
                FoldStart {
                    node: line.node,
                    pos: line.pos,
                },
            );
            break;
        }
    }
    best
}

fn is_rule_node(tree: &Tree, id: usize) -> bool {
    match tree.nodes[id].kind {
        Kind::Text | Kind::Element { .. } => is_rule_line(&tree.text_of(id)),
        _ => false,
    }
}

/// Moves the fold start up to the outermost element it begins, and back
/// over separators (blank lines, `<hr>`, `_____`) right above it.
fn settle_start(tree: &Tree, meaningful: &[bool], start: FoldStart) -> FoldStart {
    let node = &tree.nodes[start.node];
    if start.pos > node.start {
        let before = tree.src.get(node.start..start.pos).unwrap_or("");
        if !is_blank(&decode_entities(before)) {
            return start;
        }
    }
    let mut id = start.node;
    loop {
        let parent = tree.nodes[id].parent;
        if parent == 0 || tree.name(parent).is_some_and(|n| CLIMB_STOPS.contains(&n)) {
            break;
        }
        if tree.previous_siblings(id).iter().any(|&s| meaningful[s]) {
            break;
        }
        id = parent;
    }
    while let Some(&prev) = tree.previous_siblings(id).last() {
        if meaningful[prev] && !is_rule_node(tree, prev) {
            break;
        }
        id = prev;
    }
    FoldStart {
        node: id,
        pos: tree.nodes[id].start,
    }
}

fn has_content_before(tree: &Tree, meaningful: &[bool], start: FoldStart) -> bool {
    let node = &tree.nodes[start.node];
    if start.pos > node.start
        && !is_blank(&decode_entities(
            tree.src.get(node.start..start.pos).unwrap_or(""),
        ))
    {
        return true;
    }
    let mut id = start.node;
    while id != 0 {
        if tree.previous_siblings(id).iter().any(|&s| meaningful[s]) {
            return true;
        }
        id = tree.nodes[id].parent;
    }
    false
}

/// Whether anything visible is folded: from the start to the end of the
/// parent, then to the end of each ancestor up to `top`.
fn has_content_after(tree: &Tree, meaningful: &[bool], start: FoldStart, top: usize) -> bool {
    let node = &tree.nodes[start.node];
    let own = if start.pos > node.start {
        !is_blank(&decode_entities(
            tree.src.get(start.pos..node.end).unwrap_or(""),
        ))
    } else {
        meaningful[start.node]
    };
    if own {
        return true;
    }
    let mut id = start.node;
    loop {
        if tree.following_siblings(id).iter().any(|&s| meaningful[s]) {
            return true;
        }
        let parent = tree.nodes[id].parent;
        if parent == top || parent == 0 {
            return false;
        }
        id = parent;
    }
}

/// The nearest `<p>` containing `id` (itself included), within p-scope.
fn p_ancestor(tree: &Tree, mut id: usize) -> Option<usize> {
    while id != 0 {
        let name = tree.name(id)?;
        if name == "p" {
            return Some(id);
        }
        if P_SCOPE_STOPS.contains(&name) {
            return None;
        }
        id = tree.nodes[id].parent;
    }
    None
}

/// Start tag of `id` without its `id` attribute (for the copy opened inside
/// the fold when a paragraph is split).
fn start_tag_without_id(tree: &Tree, id: usize, out: &mut String) {
    let Kind::Element { name, attrs } = &tree.nodes[id].kind else {
        return;
    };
    out.push('<');
    out.push_str(name);
    for attr in attrs.iter().filter(|a| a.name != "id") {
        out.push(' ');
        out.push_str(&attr.name);
        out.push_str("=\"");
        out.push_str(&attr.raw.replace('"', "&quot;"));
        out.push('"');
    }
    out.push('>');
}

fn end_tag(tree: &Tree, id: usize, out: &mut String) {
    if let Some(name) = tree.name(id) {
        out.push_str("</");
        out.push_str(name);
        out.push('>');
    }
}

/// Wraps the quoted history of sanitized email HTML in
/// `<details data-quoted><summary>···</summary>…</details>`.
///
/// `sanitized_html` is the output of [`crate::sanitize::clean_email_html`].
/// The first quote marker (see the module documentation) starts the fold,
/// which runs to the end of the marker's parent element; the attribution
/// line goes inside the fold. Returns the input unchanged if there is no
/// marker, if nothing visible comes before it (a pure forward), if the HTML
/// is already marked (`data-quoted` present), or if it is not balanced.
/// The output is always balanced; never panics.
pub fn mark_quoted_html(sanitized_html: &str) -> String {
    mark(sanitized_html).unwrap_or_else(|| sanitized_html.to_string())
}

fn mark(src: &str) -> Option<String> {
    let tree = Tree::parse(src)?;
    if (1..tree.nodes.len()).any(|id| tree.attr(id, "data-quoted").is_some()) {
        return None;
    }
    let meaningful = tree.meaningful();
    let start = settle_start(&tree, &meaningful, find_marker(&tree)?);
    if !has_content_before(&tree, &meaningful, start) {
        return None;
    }
    let parent = tree.nodes[start.node].parent;
    let split = p_ancestor(&tree, parent);
    let top = split.map_or(parent, |p| tree.nodes[p].parent);
    if !has_content_after(&tree, &meaningful, start, top) {
        return None;
    }
    let pos = start.pos;
    let parent_end = tree.nodes[parent].inner_end;
    let mut out = String::with_capacity(src.len() + QUOTED_OPEN.len() + 64);
    out.push_str(src.get(..pos)?);
    match split {
        None => {
            out.push_str(QUOTED_OPEN);
            out.push_str(src.get(pos..parent_end)?);
            out.push_str(QUOTED_CLOSE);
            out.push_str(src.get(parent_end..)?);
        }
        Some(p) => {
            // chain[0] is the <p>, chain[last] the fold's parent.
            let mut chain = vec![parent];
            while let Some(&last) = chain.last()
                && last != p
            {
                chain.push(tree.nodes[last].parent);
            }
            chain.reverse();
            for &id in chain.iter().rev() {
                end_tag(&tree, id, &mut out);
            }
            out.push_str(QUOTED_OPEN);
            for &id in &chain {
                start_tag_without_id(&tree, id, &mut out);
            }
            out.push_str(src.get(pos..parent_end)?);
            end_tag(&tree, parent, &mut out);
            for pair in chain.windows(2).rev() {
                let (outer, inner) = (pair[0], pair[1]);
                out.push_str(src.get(tree.nodes[inner].end..tree.nodes[outer].inner_end)?);
                end_tag(&tree, outer, &mut out);
            }
            out.push_str(QUOTED_CLOSE);
            out.push_str(src.get(tree.nodes[p].end..)?);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sanitize::clean_email_html;

    /// Sanitizes then marks, checking the invariants every output must meet.
    fn mark_checked(html: &str) -> String {
        let clean = clean_email_html(html);
        assert!(
            Tree::parse(&clean).is_some(),
            "sanitizer output unparsed: {clean}"
        );
        let out = mark_quoted_html(&clean);
        assert!(Tree::parse(&out).is_some(), "unbalanced: {out}");
        assert_eq!(mark_quoted_html(&out), out, "not idempotent");
        let again = clean_email_html(&out);
        assert_eq!(
            again.matches("data-quoted").count(),
            out.matches("data-quoted").count(),
            "fold lost on re-sanitizing: {again}"
        );
        assert_eq!(mark_quoted_html(&again), again);
        out
    }

    /// Asserts exactly one fold, with `new` before it and `quoted` inside.
    fn assert_folded(html: &str, new: &[&str], quoted: &[&str]) -> String {
        let out = mark_checked(html);
        assert_eq!(
            out.matches(QUOTED_OPEN).count(),
            1,
            "expected one fold: {out}"
        );
        let (before, rest) = out.split_once(QUOTED_OPEN).unwrap();
        let (inside, _) = rest.rsplit_once(QUOTED_CLOSE).unwrap();
        for n in new {
            assert!(before.contains(n), "{n:?} not before fold: {out}");
        }
        for q in quoted {
            assert!(inside.contains(q), "{q:?} not in fold: {out}");
            assert!(!before.contains(q), "{q:?} before fold: {out}");
        }
        out
    }

    fn assert_unfolded(html: &str) {
        let clean = clean_email_html(html);
        assert_eq!(mark_checked(html), clean);
    }

    const GMAIL: &str = r#"<div dir="ltr">Thanks, that fixed it!<div><br></div><div>Best,<br>Bob</div></div><br><div class="gmail_quote gmail_quote_container"><div dir="ltr" class="gmail_attr">On Mon, Jan 6, 2025 at 10:00 AM Anna Smith &lt;<a href="mailto:anna@example.com">anna@example.com</a>&gt; wrote:<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex"><div dir="ltr">Please try restarting the router.</div></blockquote></div>"#;

    const GMAIL_NESTED: &str = r#"<div dir="ltr">Third reply</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Tue, Jan 7, 2025 at 9:00 AM Bob &lt;bob@example.com&gt; wrote:<br></div><blockquote class="gmail_quote"><div dir="ltr">Second</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, Jan 6, 2025 at 10:00 AM Anna &lt;anna@example.com&gt; wrote:<br></div><blockquote class="gmail_quote"><div dir="ltr">First</div></blockquote></div></blockquote></div>"#;

    const GMAIL_FORWARD: &str = r#"<div dir="ltr"><br><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">---------- Forwarded message ---------<br>From: <strong class="gmail_sendername" dir="auto">Anna Smith</strong> <span dir="auto">&lt;<a href="mailto:anna@example.com">anna@example.com</a>&gt;</span><br>Date: Mon, Jan 6, 2025 at 10:00 AM<br>Subject: Invoice<br>To: &lt;<a href="mailto:bob@example.com">bob@example.com</a>&gt;<br></div><br><br><div dir="ltr">Please pay the invoice.</div></div></div>"#;

    const APPLE_IOS: &str = r#"<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head><body dir="auto"><div dir="ltr">Sounds good, see you then.</div><div dir="ltr"><br><blockquote type="cite">On Jan 6, 2025, at 10:00, Anna Smith &lt;anna@example.com&gt; wrote:<br><br></blockquote></div><blockquote type="cite"><div dir="ltr">Can we meet at 3?</div></blockquote></body></html>"#;

    const APPLE_MAC: &str = r#"<html><head></head><body style="word-wrap: break-word;">Sounds good.<br><div><br><blockquote type="cite"><div>On 6 Jan 2025, at 10:00, Anna Smith &lt;anna@example.com&gt; wrote:</div><br class="Apple-interchange-newline"><div><div>Can we meet at 3?</div></div></blockquote></div><br></body></html>"#;

    const THUNDERBIRD: &str = r#"<html><head><meta http-equiv="Content-Type" content="text/html; charset=UTF-8"></head><body><p>Thanks, done.</p><div class="moz-cite-prefix">On 1/6/25 10:00, Anna Smith wrote:<br></div><blockquote type="cite" cite="mid:abc@example.com"><p>Could you send the invoice?</p><div class="moz-cite-prefix">On 1/5/25 9:00, Bob wrote:<br></div><blockquote type="cite">Older</blockquote></blockquote><br></body></html>"#;

    const THUNDERBIRD_DE: &str = r#"<p>Danke, erledigt.</p><div class="moz-cite-prefix">Am 06.01.25 um 10:00 schrieb Anna Schmidt:<br></div><blockquote type="cite"><p>Bitte die Rechnung schicken.</p></blockquote>"#;

    const OUTLOOK_DESKTOP: &str = r##"<html xmlns:o="urn:schemas-microsoft-com:office:office"><head><meta name="Generator" content="Microsoft Word 15"><style><!-- p.MsoNormal {margin:0cm;} --></style></head><body lang="EN-US" link="#0563C1"><div class="WordSection1"><p class="MsoNormal">Hi Anna,<o:p></o:p></p><p class="MsoNormal">Attached.<o:p></o:p></p><p class="MsoNormal"><o:p>&nbsp;</o:p></p><div><div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p class="MsoNormal"><b>From:</b> Anna Smith &lt;anna@example.com&gt; <br><b>Sent:</b> Monday, January 6, 2025 10:00 AM<br><b>To:</b> Bob &lt;bob@example.com&gt;<br><b>Subject:</b> Invoice<o:p></o:p></p></div></div><p class="MsoNormal"><o:p>&nbsp;</o:p></p><p class="MsoNormal">Could you send the invoice?<o:p></o:p></p></div></body></html>"##;

    const OUTLOOK_WEB: &str = r##"<html><head><style>p {margin:0}</style></head><body><div class="elementToProof" style="font-family: Aptos;">Thanks, will do.</div><div id="appendonsend"></div><hr style="display:inline-block;width:98%" tabindex="-1"><div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" style="font-size:11pt" color="#000000"><b>From:</b> Anna Smith &lt;anna@example.com&gt;<br><b>Sent:</b> Monday, January 6, 2025 10:00<br><b>To:</b> Bob &lt;bob@example.com&gt;<br><b>Subject:</b> Report</font><div>&nbsp;</div></div><div><div dir="ltr">Please send the report.</div></div></body></html>"##;

    const OUTLOOK_ORIGINAL: &str = r#"<div><p>Done, thanks.</p><p>-----Original Message-----<br>From: Anna Smith [mailto:anna@example.com]<br>Sent: Monday, January 6, 2025 10:00 AM<br>To: Bob<br>Subject: Report</p><p>Please send the report.</p></div>"#;

    const YANDEX: &str = r#"<div>Спасибо, получил.</div><div> </div><div>-- </div><div>С уважением,<br>Борис</div><div> </div><div>06.01.2025, 10:00, "Анна" &lt;anna@example.ru&gt;:</div><blockquote><div>Пришлите, пожалуйста, счёт.</div></blockquote>"#;

    const MAILRU: &str = r#"<HTML><BODY><div>Спасибо!</div><div>&nbsp;</div><div data-signature-widget="container"><div data-signature-widget="content"><div>--<br>Борис</div></div></div><div>&nbsp;</div><div>&nbsp;</div><div>Понедельник, 6 января 2025, 10:00 +03:00 от Анна &lt;<a href="mailto:anna@example.ru">anna@example.ru</a>&gt;:<br>&nbsp;<blockquote style="border-left:1px solid #0857A6; margin:10px; padding:0 0 0 10px;"><div id=""><div class="js-helper js-readmsg-msg"><div><div id="style_17361234560000000000_BODY">Пришлите счёт.</div></div></div></div></blockquote>&nbsp;</div></BODY></HTML>"#;

    #[test]
    fn gmail() {
        let out = assert_folded(
            GMAIL,
            &["Thanks, that fixed it!", "Bob"],
            &["On Mon, Jan 6, 2025", "restarting the router"],
        );
        assert!(
            out.contains(&format!("{QUOTED_OPEN}<br><div class=\"gmail_quote")),
            "{out}"
        );
    }

    #[test]
    fn gmail_nested_folds_outermost_once() {
        assert_folded(GMAIL_NESTED, &["Third reply"], &["Second", "First"]);
    }

    #[test]
    fn gmail_pure_forward_not_folded() {
        assert_unfolded(GMAIL_FORWARD);
    }

    #[test]
    fn apple_mail_ios() {
        assert_folded(
            APPLE_IOS,
            &["Sounds good, see you then."],
            &["Anna Smith", "Can we meet at 3?"],
        );
    }

    #[test]
    fn apple_mail_macos() {
        assert_folded(
            APPLE_MAC,
            &["Sounds good."],
            &["wrote:", "Can we meet at 3?"],
        );
    }

    #[test]
    fn thunderbird_with_nested_quote() {
        let out = assert_folded(
            THUNDERBIRD,
            &["Thanks, done."],
            &["On 1/6/25 10:00, Anna Smith wrote:", "invoice", "Older"],
        );
        assert!(out.contains(&format!("{QUOTED_OPEN}<div class=\"moz-cite-prefix\">")));
    }

    #[test]
    fn thunderbird_german() {
        assert_folded(
            THUNDERBIRD_DE,
            &["Danke"],
            &["schrieb Anna Schmidt", "Rechnung"],
        );
    }

    #[test]
    fn outlook_desktop_header_block() {
        let out = assert_folded(
            OUTLOOK_DESKTOP,
            &["Hi Anna,", "Attached."],
            &["<b>From:</b>", "Sent:", "Could you send the invoice?"],
        );
        assert!(!out.contains("<style"), "{out}");
    }

    #[test]
    fn outlook_web_div_rply_fwd_msg() {
        let out = assert_folded(
            OUTLOOK_WEB,
            &["Thanks, will do."],
            &["pd-divRplyFwdMsg", "<hr>", "Please send the report."],
        );
        assert!(
            out.contains(&format!("{QUOTED_OPEN}<div id=\"pd-appendonsend\">")),
            "{out}"
        );
    }

    #[test]
    fn outlook_original_message() {
        assert_folded(
            OUTLOOK_ORIGINAL,
            &["Done, thanks."],
            &["-----Original Message-----", "Please send the report."],
        );
    }

    #[test]
    fn yandex() {
        assert_folded(
            YANDEX,
            &["Спасибо, получил.", "-- ", "Борис"],
            &["06.01.2025, 10:00", "Пришлите"],
        );
    }

    #[test]
    fn mailru() {
        assert_folded(
            MAILRU,
            &["Спасибо!", "Борис"],
            &["Понедельник, 6 января 2025", "Пришлите счёт."],
        );
    }

    #[test]
    fn russian_attribution_lines() {
        assert_folded(
            "<div>Готово.</div><div><br></div><div>6 янв. 2025 г., в 10:00, Анна Смирнова &lt;anna@example.ru&gt; написал(а):</div><div>&gt; Пришлите счёт.</div>",
            &["Готово."],
            &["написал(а):", "Пришлите счёт."],
        );
        assert_folded(
            "<p>Ок.</p><p>Анна &lt;anna@example.ru&gt; пишет:</p><blockquote><p>Старое</p></blockquote>",
            &["Ок."],
            &["пишет:", "Старое"],
        );
        assert_folded(
            "<p>Сделано.</p><p>-----Исходное сообщение-----<br>От: Анна<br>Отправлено: 6 января 2025 г. 10:00</p><p>Старое</p>",
            &["Сделано."],
            &["Исходное сообщение", "Старое"],
        );
        assert_folded(
            "<div><p>Сделано.</p><div><p><b>От:</b> Анна Смирнова &lt;anna@example.ru&gt;<br><b>Отправлено:</b> 6 января 2025 г. 10:00<br><b>Кому:</b> Борис<br><b>Тема:</b> Счёт</p></div><p>Старое</p></div>",
            &["Сделано."],
            &["От:", "Старое"],
        );
    }

    #[test]
    fn german_attribution_lines() {
        assert_folded(
            "<div>Danke!</div><div>Am Mo., 6. Jan. 2025 um 10:00 Uhr schrieb Anna Schmidt &lt;anna@example.de&gt;:<br></div><blockquote><div>Alt</div></blockquote>",
            &["Danke!"],
            &["schrieb", "Alt"],
        );
        assert_folded(
            "<div><p>Erledigt.</p><p><b>Von:</b> Anna Schmidt &lt;anna@example.de&gt;<br><b>Gesendet:</b> Montag, 6. Januar 2025 10:00<br><b>An:</b> Bob</p><p>Alt</p></div>",
            &["Erledigt."],
            &["Von:", "Gesendet:", "Alt"],
        );
    }

    #[test]
    fn french_attribution_lines() {
        assert_folded(
            "<div>Merci !</div><div>Le lun. 6 janv. 2025 à 10:00, Anna Martin &lt;anna@example.fr&gt; a&nbsp;écrit&nbsp;:<br></div><blockquote><div>Ancien</div></blockquote>",
            &["Merci !"],
            &["écrit", "Ancien"],
        );
        assert_folded(
            "<div><p>C'est fait.</p><p><b>De :</b> Anna Martin &lt;anna@example.fr&gt;<br><b>Envoyé :</b> lundi 6 janvier 2025 10:00<br><b>À :</b> Bob</p><p>Ancien</p></div>",
            &["C'est fait."],
            &["De :", "Envoyé :", "Ancien"],
        );
    }

    #[test]
    fn attribution_mid_paragraph_splits_the_paragraph() {
        let out = assert_folded(
            r#"<p class="x" id="p1">Thanks!<br>On Mon, Jan 6, 2025 at 10:00 AM Anna &lt;a@example.com&gt; wrote:<br>&gt; old text</p><p>after</p>"#,
            &["Thanks!"],
            &["wrote:", "old text"],
        );
        assert!(
            out.starts_with(r#"<p id="pd-p1">Thanks!</p><details"#),
            "{out}"
        );
        assert!(out.ends_with("</p></details><p>after</p>"), "{out}");
        assert_eq!(out.matches("pd-p1").count(), 1, "{out}");
    }

    #[test]
    fn attribution_in_pre_splits_text() {
        let out = assert_folded(
            "<pre>Thanks\n\nOn Mon, Jan 6, 2025 at 10:00 AM Anna wrote:\n&gt; old</pre>",
            &["Thanks"],
            &["wrote:", "&gt; old"],
        );
        assert!(out.starts_with("<pre>Thanks\n\n<details"), "{out}");
    }

    #[test]
    fn marker_inside_table_cell_stays_in_cell() {
        let out = assert_folded(
            r#"<table><tbody><tr><td>Reply here<div class="gmail_quote">old</div></td></tr></tbody></table>"#,
            &["Reply here"],
            &["old"],
        );
        assert!(out.contains("</details></td>"), "{out}");
    }

    #[test]
    fn yahoo_and_proton() {
        assert_folded(
            r#"<html><head></head><body><div class="ydp1234yahoo-style-wrap"><div dir="ltr">Got it, thanks.</div></div><div id="yahoo_quoted_0123" class="yahoo_quoted"><div style="font-family:'Helvetica Neue', Helvetica, Arial, sans-serif;font-size:13px;color:#26282a;"><div>On Monday, January 6, 2025 at 10:00:00 AM GMT+1, Anna Smith &lt;anna@example.com&gt; wrote:</div><div><br></div><div><div dir="ltr">Old text</div></div></div></div></body></html>"#,
            &["Got it, thanks."],
            &["yahoo_quoted", "Old text"],
        );
        assert_folded(
            r#"<div style="font-family: Arial;">Thanks!</div><div class="protonmail_signature_block"><div>Sent with Proton Mail</div></div><div class="protonmail_quote">On Monday, January 6th, 2025 at 10:00, Anna Smith &lt;anna@example.com&gt; wrote:<br><blockquote class="protonmail_quote" type="cite"><div>Old text</div></blockquote><br></div>"#,
            &["Thanks!", "Sent with Proton Mail"],
            &["wrote:", "Old text"],
        );
    }

    #[test]
    fn short_attribution_needs_a_following_quote() {
        assert_unfolded("<p>Thanks.</p><p>As you wrote:</p><ul><li>one</li></ul>");
        assert_unfolded("<p>I fixed issue 42 as you wrote:</p><p>details</p>");
        assert_folded(
            "<p>Thanks.</p><p>Anna Smith wrote:</p><blockquote><p>old</p></blockquote>",
            &["Thanks."],
            &["Anna Smith wrote:", "old"],
        );
    }

    #[test]
    fn no_marker_unchanged() {
        assert_unfolded(
            "<p>Hello,</p><p>Here is what the manual says:</p><blockquote>Restart it.</blockquote><p>Bye</p>",
        );
        assert_unfolded("<p>Just text</p>");
        assert_unfolded("");
    }

    #[test]
    fn whole_body_quote_not_folded() {
        assert_unfolded(
            r#"<div class="gmail_quote"><div class="gmail_attr">On Mon, Jan 6, 2025 at 10:00 AM A &lt;a@x.com&gt; wrote:</div><blockquote>x</blockquote></div>"#,
        );
        assert_unfolded("<p>-----Original Message-----<br>From: A<br>Sent: today</p><p>body</p>");
    }

    #[test]
    fn already_marked_unchanged() {
        let marked = mark_checked(GMAIL);
        assert_eq!(mark_quoted_html(&marked), marked);
        let html = "<p>new</p><details data-quoted><summary>···</summary><blockquote type=\"cite\">old</blockquote></details>";
        assert_eq!(mark_quoted_html(html), html);
    }

    #[test]
    fn unbalanced_input_returned_unchanged() {
        for html in [
            "<div>On Mon, Jan 6, 2025 at 10:00 AM A wrote:",
            "<p>x</p></div>",
            "<b><i>x</b></i>",
            "<div class=\"gmail_quote\"",
            "<script>x</script>",
        ] {
            assert_eq!(mark_quoted_html(html), html);
        }
    }

    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    const FRAGMENTS: &[&str] = &[
        "<div>",
        "</div>",
        "<p>",
        "</p>",
        "<br>",
        "<b>",
        "</b>",
        "<blockquote type=\"cite\">",
        "</blockquote>",
        "<div class=\"gmail_quote\">",
        "<div id=\"divRplyFwdMsg\">",
        "<pre>",
        "</pre>",
        "<table><tr><td>",
        "</td></tr></table>",
        "On Mon, Jan 6, 2025 at 10:00 AM A <a@x.com> wrote:",
        "06.01.2025, 10:00, \"Анна\" <a@x.ru>:",
        "-----Original Message-----",
        "From: a",
        "Sent: b",
        "text ",
        "Ж",
        "é",
        "&",
        "&nbsp;",
        "&#x41;",
        "<",
        ">",
        "\"",
        "\n",
        "\r\n",
        "> q",
        "<details data-quoted>",
        "<!--",
        "-->",
    ];

    fn random_input(rng: &mut XorShift) -> String {
        let len = rng.below(30);
        (0..len)
            .map(|_| FRAGMENTS[rng.below(FRAGMENTS.len())])
            .collect()
    }

    #[test]
    fn fuzz_random_inputs_never_panic_or_unbalance() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..3000 {
            let s = random_input(&mut rng);
            let direct = mark_quoted_html(&s);
            if Tree::parse(&s).is_some() {
                assert!(Tree::parse(&direct).is_some(), "{s:?} -> {direct:?}");
            }
            let clean = clean_email_html(&s);
            let marked = mark_quoted_html(&clean);
            assert!(Tree::parse(&marked).is_some(), "{clean:?} -> {marked:?}");
            assert_eq!(mark_quoted_html(&marked), marked);
            let (new, quoted) = split_quoted_text(&s);
            assert!(quoted.is_none() || !new.trim().is_empty());
            let html = text_to_html(&s);
            assert!(Tree::parse(&html).is_some(), "{s:?} -> {html:?}");
        }
    }

    #[test]
    fn fuzz_truncated_samples_never_panic() {
        for sample in [
            GMAIL,
            GMAIL_NESTED,
            APPLE_IOS,
            THUNDERBIRD,
            OUTLOOK_DESKTOP,
            OUTLOOK_WEB,
            YANDEX,
            MAILRU,
        ] {
            let marked = mark_quoted_html(&clean_email_html(sample));
            for (i, _) in marked.char_indices().chain([(marked.len(), ' ')]) {
                let cut = &marked[..i];
                let out = mark_quoted_html(cut);
                if Tree::parse(cut).is_some() {
                    assert!(Tree::parse(&out).is_some(), "{cut:?}");
                }
                let _ = split_quoted_text(cut);
                let _ = text_to_html(cut);
            }
        }
    }

    #[test]
    fn large_and_pathological_inputs() {
        let many_brs = format!(
            "<div>new</div>{}<div class=\"gmail_quote\">old</div>",
            "<br>".repeat(20_000)
        );
        let out = mark_quoted_html(&many_brs);
        assert!(out.starts_with(&format!("<div>new</div>{QUOTED_OPEN}<br>")));
        let deep = format!(
            "new{}<blockquote type=\"cite\">old</blockquote>{}",
            "<div>".repeat(5_000),
            "</div>".repeat(5_000)
        );
        let out = mark_quoted_html(&deep);
        assert!(
            out.starts_with(&format!("new{QUOTED_OPEN}<div>")),
            "{}",
            &out[..80]
        );
        let parens = format!("http://x/{}", ")".repeat(100_000));
        assert!(text_to_html(&parens).contains("href=\"http://x/\""));
        let urls = "http://a.example/ ".repeat(20_000);
        assert_eq!(text_to_html(&urls).matches("<a ").count(), 20_000);
        let quotes = "> q\n".repeat(20_000);
        let (new, quoted) = split_quoted_text(&format!("new\n{quotes}"));
        assert_eq!(new, "new");
        assert_eq!(quoted.map(|q| q.len()), Some(quotes.len()));
    }

    // ---- plain text ------------------------------------------------------

    fn split(text: &str) -> (String, String) {
        let (new, quoted) = split_quoted_text(text);
        (new, quoted.unwrap_or_default())
    }

    #[test]
    fn text_gmail_english() {
        let (new, quoted) = split(
            "Thanks!\n\nOn Mon, Jan 6, 2025 at 10:00 AM Anna Smith <anna@example.com> wrote:\n\n> Please try restarting.\n> \n> Anna\n",
        );
        assert_eq!(new, "Thanks!");
        assert!(quoted.starts_with("On Mon, Jan 6"));
        assert!(quoted.ends_with("> Anna\n"));
    }

    #[test]
    fn text_wrapped_attribution_and_crlf() {
        let (new, quoted) = split(
            "Thanks!\r\n\r\nOn Mon, Jan 6, 2025 at 10:00 AM Anna Smith <\r\nanna@example.com> wrote:\r\n\r\n> Please try restarting.\r\n",
        );
        assert_eq!(new, "Thanks!");
        assert!(quoted.starts_with("On Mon"));
        assert!(quoted.contains("\r\n> Please"));
    }

    #[test]
    fn text_outlook_original_message() {
        let (new, quoted) = split(
            "Done.\r\n\r\n-----Original Message-----\r\nFrom: Anna Smith [mailto:anna@example.com]\r\nSent: Monday, January 6, 2025 10:00 AM\r\nTo: Bob\r\nSubject: Report\r\n\r\nPlease send the report.\r\n",
        );
        assert_eq!(new, "Done.");
        assert!(quoted.starts_with("-----Original Message-----\r\n"));
    }

    #[test]
    fn text_outlook_header_block_with_rule() {
        let (new, quoted) = split(
            "Done.\n\n________________________________\nFrom: Anna Smith <anna@example.com>\nSent: Monday, January 6, 2025 10:00\nTo: Bob\nSubject: Report\n\nPlease send it.",
        );
        assert_eq!(new, "Done.");
        assert!(quoted.starts_with("_____"));
        assert!(quoted.ends_with("Please send it."));
    }

    #[test]
    fn text_russian() {
        let (new, quoted) = split(
            "Спасибо.\n\n-- \nБорис\n\n06.01.2025, 10:00, \"Анна\" <anna@example.ru>:\n> Пришлите счёт.\n",
        );
        assert_eq!(new, "Спасибо.\n\n-- \nБорис");
        assert!(quoted.starts_with("06.01.2025"));
        for text in [
            "Ок.\n\nАнна Смирнова <anna@example.ru> пишет:\n> Старое\n",
            "Ок.\n\n6 янв. 2025 г., в 10:00, Анна <anna@example.ru> написал(а):\n\n> Старое\n",
            "Ок.\n\n-----Исходное сообщение-----\nОт: Анна\nОтправлено: 6 января 2025 г. 10:00\n\nСтарое\n",
            "Ок.\n\nОт: Анна Смирнова\nОтправлено: 6 января 2025 г. 10:00\nКому: Борис\n\nСтарое\n",
        ] {
            let (new, quoted) = split(text);
            assert_eq!(new, "Ок.", "{text}");
            assert!(quoted.contains("Старое"), "{text}");
        }
    }

    #[test]
    fn text_german_and_french() {
        for (text, start) in [
            (
                "Danke.\n\nAm Mo., 6. Jan. 2025 um 10:00 Uhr schrieb Anna Schmidt <anna@example.de>:\n> Alt\n",
                "Am Mo.",
            ),
            (
                "Danke.\n\nVon: Anna Schmidt\nGesendet: Montag, 6. Januar 2025 10:00\nAn: Bob\n\nAlt\n",
                "Von:",
            ),
            (
                "Merci.\n\nLe lun. 6 janv. 2025 à 10:00, Anna Martin <anna@example.fr> a écrit :\n> Ancien\n",
                "Le lun.",
            ),
            (
                "Merci.\n\nDe : Anna Martin\nEnvoyé : lundi 6 janvier 2025 10:00\nÀ : Bob\n\nAncien\n",
                "De :",
            ),
        ] {
            let (new, quoted) = split(text);
            assert!(new == "Danke." || new == "Merci.", "{text}");
            assert!(quoted.starts_with(start), "{text}");
        }
    }

    #[test]
    fn text_trailing_gt_run_with_unknown_attribution() {
        let (new, quoted) = split(
            "Ciao.\n\nIl giorno lun 6 gen 2025, Anna ha scritto:\n> vecchio\n>> più vecchio\n\n",
        );
        assert_eq!(new, "Ciao.");
        assert!(quoted.starts_with("Il giorno"));
        let (new, quoted) = split("Reply\n\n> q1\n>\n> q2\n");
        assert_eq!(new, "Reply");
        assert_eq!(quoted, "> q1\n>\n> q2\n");
    }

    #[test]
    fn text_thunderbird_and_iphone() {
        let (new, quoted) = split("Done.\n\nAnna Smith wrote:\n> Please check.\n>> Older.\n");
        assert_eq!(new, "Done.");
        assert!(quoted.starts_with("Anna Smith wrote:\n"));
        let (new, quoted) = split(
            "Yes\r\n\r\nSent from my iPhone\r\n\r\nOn Jan 6, 2025, at 10:00, Anna Smith <anna@example.com> wrote:\r\n\r\n> Can we meet?\r\n",
        );
        assert_eq!(new, "Yes\r\n\r\nSent from my iPhone");
        assert!(quoted.starts_with("On Jan 6"));
    }

    #[test]
    fn text_interleaved_not_split() {
        let text = "> question one\nanswer one\n> question two\nanswer two\n";
        assert_eq!(split_quoted_text(text), (text.to_string(), None));
    }

    #[test]
    fn text_no_quote_and_forward_only() {
        let text = "Hello,\nplease help.\n-- \nBob\n";
        assert_eq!(split_quoted_text(text), (text.to_string(), None));
        let fwd = "---------- Forwarded message ---------\nFrom: Anna <anna@example.com>\nDate: Mon, Jan 6, 2025\nSubject: x\n\nbody\n";
        assert_eq!(split_quoted_text(fwd), (fwd.to_string(), None));
        let quoted_only = "\n> just a quote\n";
        assert_eq!(
            split_quoted_text(quoted_only),
            (quoted_only.to_string(), None)
        );
        assert_eq!(split_quoted_text(""), (String::new(), None));
    }

    #[test]
    fn text_signature_kept_in_new_text() {
        let (new, quoted) = split(
            "Thanks\n-- \nBob Smith\nACME\n\nOn Mon, Jan 6, 2025, Anna <a@example.com> wrote:\n> q\n",
        );
        assert_eq!(new, "Thanks\n-- \nBob Smith\nACME");
        assert!(quoted.starts_with("On Mon"));
    }

    #[test]
    fn text_to_html_renders_and_folds() {
        let html = text_to_html(
            "Hi <team> & co,\nsee https://example.com/a?b=1&c=2.\n\nBye\n\nOn Mon, Jan 6, 2025 at 10:00 AM Anna <anna@example.com> wrote:\n> old https://x.example/\n",
        );
        assert_eq!(
            html,
            "<p>Hi &lt;team&gt; &amp; co,<br>see <a href=\"https://example.com/a?b=1&amp;c=2\" rel=\"noopener noreferrer\" target=\"_blank\">https://example.com/a?b=1&amp;c=2</a>.</p><p>Bye</p>\
             <details data-quoted><summary>···</summary><p>On Mon, Jan 6, 2025 at 10:00 AM Anna &lt;anna@example.com&gt; wrote:<br>&gt; old <a href=\"https://x.example/\" rel=\"noopener noreferrer\" target=\"_blank\">https://x.example/</a></p></details>"
        );
        assert_eq!(mark_quoted_html(&html), html);
        let clean = clean_email_html(&html);
        assert!(clean.contains("data-quoted"));
        assert!(clean.contains("rel=\"noopener noreferrer\""));
    }

    #[test]
    fn text_to_html_links_edge_cases() {
        let html = text_to_html(
            "(see https://en.wikipedia.org/wiki/Foo_(bar)) and http:// and xhttps://no.example",
        );
        assert!(
            html.contains("href=\"https://en.wikipedia.org/wiki/Foo_(bar)\""),
            "{html}"
        );
        assert_eq!(html.matches("<a ").count(), 1, "{html}");
        let html = text_to_html("javascript:alert(1) <script>x</script> \"quoted\" 'single'");
        assert!(!html.contains("<script"));
        assert!(!html.contains("<a "));
        assert_eq!(text_to_html(""), "");
        assert_eq!(text_to_html("a\r\nb\r\n\r\nc"), "<p>a<br>b</p><p>c</p>");
    }
}
