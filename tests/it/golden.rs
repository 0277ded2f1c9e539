//! The golden mail corpus (tests/fixtures/mail): each `.eml` beside its `.expect.toml`,
//! run with LF and with CRLF line endings, through parse, classify, sanitize and quote
//! folding. A mismatch names the file, the line ending and the field.

use std::path::{Path, PathBuf};

use postdesk::mail::inbound::classify::classify;
use postdesk::mail::inbound::parse::{ParsedMail, parse};
use postdesk::mail::inbound::quotes;

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
}

fn with_line_endings(raw: &[u8], crlf: bool) -> Vec<u8> {
    let lf: Vec<u8> = raw.iter().copied().filter(|b| *b != b'\r').collect();
    if !crlf {
        return lf;
    }
    let mut out = Vec::with_capacity(lf.len() + lf.len() / 40);
    for b in lf {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

fn strings(v: Option<&toml::Value>) -> Vec<String> {
    v.and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn check(name: &str, mail: &ParsedMail, expect: &toml::Table) -> Vec<String> {
    let mut problems = Vec::new();
    let mut same = |field: &str, got: String, want: Option<&toml::Value>| {
        if let Some(want) = want.and_then(|w| w.as_str())
            && got != want
        {
            problems.push(format!("{name}: {field}: got {got:?}, expected {want:?}"));
        }
    };
    same("subject", mail.subject.clone(), expect.get("subject"));
    same(
        "from",
        mail.from
            .as_ref()
            .map(|f| f.email.clone())
            .unwrap_or_default(),
        expect.get("from"),
    );
    same(
        "from_name",
        mail.from
            .as_ref()
            .map(|f| f.name.clone())
            .unwrap_or_default(),
        expect.get("from_name"),
    );
    same(
        "message_id",
        mail.message_id.clone().unwrap_or_default(),
        expect.get("message_id"),
    );
    same(
        "bounced_message_id",
        mail.classify.bounced_message_id.clone().unwrap_or_default(),
        expect.get("bounced_message_id"),
    );
    if expect.contains_key("in_reply_to") && mail.in_reply_to != strings(expect.get("in_reply_to"))
    {
        problems.push(format!("{name}: in_reply_to: got {:?}", mail.in_reply_to));
    }
    if expect.contains_key("references") && mail.references != strings(expect.get("references")) {
        problems.push(format!("{name}: references: got {:?}", mail.references));
    }
    for want in strings(expect.get("text_contains")) {
        if !mail.text.contains(&want) {
            problems.push(format!(
                "{name}: text lacks {want:?}; text is {:?}",
                mail.text.chars().take(300).collect::<String>()
            ));
        }
    }
    for want in strings(expect.get("html_contains")) {
        if !mail.html.as_deref().unwrap_or_default().contains(&want) {
            problems.push(format!("{name}: html lacks {want:?}"));
        }
    }
    let got: Vec<(String, String, bool)> = mail
        .attachments
        .iter()
        .map(|a| (a.file_name.clone(), a.mime_type.clone(), a.inline))
        .collect();
    let want: Vec<(String, String, bool)> = expect
        .get("attachments")
        .and_then(|a| a.as_array())
        .map(|list| {
            list.iter()
                .map(|a| {
                    (
                        a.get("name")
                            .and_then(|v| v.as_str())
                            .unwrap_or_default()
                            .to_string(),
                        a.get("mime")
                            .and_then(|v| v.as_str())
                            .unwrap_or_default()
                            .to_string(),
                        a.get("inline").and_then(|v| v.as_bool()).unwrap_or(false),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if got != want {
        problems.push(format!(
            "{name}: attachments: got {got:?}, expected {want:?}"
        ));
    }
    let class = classify(mail, &["support@company.test".to_string()]);
    for (key, value) in [
        ("auto_reply", class.auto_reply),
        ("bounce", class.bounce),
        ("list", class.list),
    ] {
        let want = expect.get(key).and_then(|v| v.as_bool()).unwrap_or(false);
        if value != want {
            problems.push(format!("{name}: {key}: got {value}, expected {want}"));
        }
    }
    // What would be stored: sanitized, with quoted history folded but kept.
    let stored = match &mail.html {
        Some(html) => quotes::mark_quoted_html(&postdesk::sanitize::clean_email_html(html)),
        None => quotes::text_to_html(&mail.text),
    };
    let folded = stored.contains("<details data-quoted");
    let want_folded = expect
        .get("quoted")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    if folded != want_folded {
        problems.push(format!(
            "{name}: quoted history folded: got {folded}, expected {want_folded}"
        ));
    }
    if stored.to_ascii_lowercase().contains("<script") {
        problems.push(format!("{name}: script survived sanitizing"));
    }
    problems
}

#[test]
fn golden_corpus_parses_as_expected_with_lf_and_crlf() {
    let files = corpus();
    assert!(
        files.len() >= 28,
        "the corpus is missing files: {}",
        files.len()
    );
    let mut problems = Vec::new();
    for path in &files {
        let raw = std::fs::read(path).expect("read fixture");
        let expect_path = path.with_extension("expect.toml");
        let text = std::fs::read_to_string(&expect_path)
            .unwrap_or_else(|e| panic!("{} has no {}: {e}", path.display(), expect_path.display()));
        let expect: toml::Table = text
            .parse()
            .unwrap_or_else(|e| panic!("{}: {e}", expect_path.display()));
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("?");
        for crlf in [false, true] {
            let name = format!("{stem} ({})", if crlf { "CRLF" } else { "LF" });
            match parse(&with_line_endings(&raw, crlf)) {
                Ok(mail) => problems.extend(check(&name, &mail, &expect)),
                Err(e) => problems.push(format!("{name}: does not parse: {e}")),
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} mismatch(es):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn mutated_corpus_never_panics() {
    // A cheap, deterministic fuzz over real shapes: truncations and byte flips of every
    // corpus message go through parse, classify, sanitize and quote folding.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for path in corpus() {
        let raw = std::fs::read(&path).expect("read");
        for round in 0..40 {
            let mut m = raw.clone();
            match round % 3 {
                0 => m.truncate((next() as usize) % (raw.len() + 1)),
                1 => {
                    for _ in 0..8 {
                        let i = (next() as usize) % m.len().max(1);
                        if let Some(b) = m.get_mut(i) {
                            *b = (next() & 0xff) as u8;
                        }
                    }
                }
                _ => {
                    let i = (next() as usize) % (m.len() + 1);
                    let junk: Vec<u8> =
                        b"\r\n--\"=?utf-8?B?\r\n<blockquote type=cite><div".to_vec();
                    m.splice(i..i, junk);
                }
            }
            if let Ok(mail) = parse(&m) {
                let _ = classify(&mail, &[]);
                if let Some(html) = &mail.html {
                    let _ = quotes::mark_quoted_html(&postdesk::sanitize::clean_email_html(html));
                }
                let _ = quotes::text_to_html(&mail.text);
            }
        }
    }
}
