//! Interface text in English and Russian. Each language is a flat TOML catalog compiled
//! into the binary: `en.toml`/`ru.toml` plus one file per area under `en/` and `ru/`
//! (listed in `EN_PARTS`/`RU_PARTS`, so areas are edited without touching each other). A
//! test checks both languages have the same keys and no key is defined twice. Pages get the
//! whole catalog as `t` (`{{ t.login_title }}`), so a missing key fails loudly.

use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The languages offered, as (code, own name).
pub const LANGUAGES: &[(&str, &str)] = &[("en", "English"), ("ru", "Русский")];

/// The language used when nothing else is known.
pub const DEFAULT_LANGUAGE: &str = "en";

/// A message catalog: key → text.
pub type Catalog = BTreeMap<String, String>;

/// The English catalog files, in order (the base file first).
const EN_PARTS: &[&str] = &[
    include_str!("en.toml"),
    include_str!("en/workspace.toml"),
    include_str!("en/conversation.toml"),
    include_str!("en/api.toml"),
];
/// The Russian catalog files, in the same order.
const RU_PARTS: &[&str] = &[
    include_str!("ru.toml"),
    include_str!("ru/workspace.toml"),
    include_str!("ru/conversation.toml"),
    include_str!("ru/api.toml"),
];

fn parse(parts: &[&str]) -> Catalog {
    // The catalogs are compiled in and checked by tests, so a broken one is a build bug;
    // an empty part (every page using it fails to render, naming the key) is the loud
    // fallback.
    let mut all = Catalog::new();
    for text in parts {
        all.extend(toml::from_str::<Catalog>(text).unwrap_or_default());
    }
    all
}

/// The catalog for `lang` (English for an unknown code).
pub fn catalog(lang: &str) -> &'static Catalog {
    static EN: OnceLock<Catalog> = OnceLock::new();
    static RU: OnceLock<Catalog> = OnceLock::new();
    match lang {
        "ru" => RU.get_or_init(|| parse(RU_PARTS)),
        _ => EN.get_or_init(|| parse(EN_PARTS)),
    }
}

/// One message, or the key itself when it is missing.
pub fn t(lang: &str, key: &str) -> String {
    catalog(lang)
        .get(key)
        .cloned()
        .unwrap_or_else(|| key.to_string())
}

/// A supported language code for `code`, or the default.
pub fn supported(code: &str) -> &'static str {
    LANGUAGES
        .iter()
        .map(|(c, _)| *c)
        .find(|c| *c == code)
        .unwrap_or(DEFAULT_LANGUAGE)
}

/// The best supported language for an `Accept-Language` header.
pub fn from_accept_language(header: &str) -> &'static str {
    let mut best: Option<(&'static str, f32)> = None;
    for part in header.split(',') {
        let mut pieces = part.trim().split(';');
        let tag = pieces
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let q = pieces
            .find_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|v| v.parse::<f32>().ok())
            })
            .unwrap_or(1.0);
        let primary = tag.split('-').next().unwrap_or_default();
        if let Some((code, _)) = LANGUAGES.iter().find(|(c, _)| *c == primary)
            && best.is_none_or(|(_, bq)| q > bq)
        {
            best = Some((code, q));
        }
    }
    best.map(|(c, _)| c).unwrap_or(DEFAULT_LANGUAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogs_have_the_same_keys_and_no_empty_text() {
        let en = catalog("en");
        let ru = catalog("ru");
        assert!(en.len() > 50, "catalog parsed: {}", en.len());
        let en_keys: Vec<&String> = en.keys().collect();
        let ru_keys: Vec<&String> = ru.keys().collect();
        assert_eq!(en_keys, ru_keys);
        for (k, v) in en.iter().chain(ru.iter()) {
            assert!(!v.trim().is_empty(), "{k} is empty");
        }
    }

    #[test]
    fn every_key_is_defined_once_across_the_parts() {
        for parts in [EN_PARTS, RU_PARTS] {
            let mut seen = std::collections::BTreeSet::new();
            for text in parts {
                let part: Catalog = toml::from_str(text).expect("a catalog part parses");
                for key in part.into_keys() {
                    assert!(seen.insert(key.clone()), "{key} is defined twice");
                }
            }
        }
    }

    #[test]
    fn accept_language_picks_the_best_supported() {
        assert_eq!(from_accept_language("ru-RU,ru;q=0.9,en;q=0.8"), "ru");
        assert_eq!(from_accept_language("de-DE,en;q=0.5,ru;q=0.4"), "en");
        assert_eq!(from_accept_language("fr"), "en");
        assert_eq!(from_accept_language(""), "en");
        assert_eq!(supported("ru"), "ru");
        assert_eq!(supported("xx"), "en");
    }
}
