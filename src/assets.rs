//! Files compiled into the binary: page templates, public assets and the installer's own
//! files. A folder in the data directory may override any of them by name.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use rust_embed::RustEmbed;

/// Page templates (`templates/`).
#[derive(RustEmbed)]
#[folder = "templates/"]
pub struct Templates;

/// CSS, JavaScript, icons and vendored libraries (`public/`).
#[derive(RustEmbed)]
#[folder = "public/"]
pub struct Public;

/// A template problem, naming the template.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(String);

/// Builds the template set: every file under `override_dir` (if it exists) plus every
/// embedded template not overridden there.
pub fn load_templates(override_dir: &Path) -> Result<tera::Tera, TemplateError> {
    build_templates(template_sources(override_dir)?)
}

/// Parses `sources` (name → text) into the template set.
pub fn build_templates(sources: BTreeMap<String, String>) -> Result<tera::Tera, TemplateError> {
    let mut tera = tera::Tera::default();
    tera.autoescape_on(vec![".html"]);
    tera.add_raw_templates(sources)
        .map_err(|e| TemplateError(describe_tera_error(&e)))?;
    Ok(tera)
}

/// The text of every template: the files under `override_dir` (if it exists) and every
/// embedded template not overridden there.
pub fn template_sources(override_dir: &Path) -> Result<BTreeMap<String, String>, TemplateError> {
    let mut sources: BTreeMap<String, String> = BTreeMap::new();
    if override_dir.is_dir() {
        collect_dir(override_dir, override_dir, &mut sources)?;
    }
    for name in Templates::iter() {
        if sources.contains_key(name.as_ref()) {
            continue;
        }
        let file = Templates::get(&name)
            .ok_or_else(|| TemplateError(format!("embedded template {name} vanished")))?;
        let text = String::from_utf8(file.data.into_owned())
            .map_err(|_| TemplateError(format!("template {name} is not UTF-8")))?;
        sources.insert(name.into_owned(), text);
    }
    Ok(sources)
}

/// Which messages of the catalog each template needs: the `t.key` names in it and in the
/// templates it extends or includes, or every message where one of them looks a message
/// up by a computed name (`t[name]`). Pages then hand Tera those few dozen messages
/// instead of the whole catalog (about 500), whose copy into every page's context was a
/// tenth of a mailbox page's time.
#[derive(Debug, Default)]
pub struct CatalogUse(HashMap<String, Option<BTreeSet<String>>>);

impl CatalogUse {
    /// Reads `sources` (name → text).
    pub fn of(sources: &BTreeMap<String, String>) -> CatalogUse {
        let mut uses = HashMap::new();
        for name in sources.keys() {
            let mut keys = BTreeSet::new();
            let mut seen = BTreeSet::new();
            let complete = collect_keys(sources, name, &mut keys, &mut seen);
            uses.insert(name.clone(), complete.then_some(keys));
        }
        CatalogUse(uses)
    }

    /// The message names `template` needs; `None`: all of them.
    pub fn keys(&self, template: &str) -> Option<&BTreeSet<String>> {
        self.0.get(template).and_then(Option::as_ref)
    }
}

/// Adds the `t.key` names of `name` and what it extends or includes to `keys`; false when
/// one of them uses `t[…]` or names a template that is not there.
fn collect_keys(
    sources: &BTreeMap<String, String>,
    name: &str,
    keys: &mut BTreeSet<String>,
    seen: &mut BTreeSet<String>,
) -> bool {
    if !seen.insert(name.to_string()) {
        return true;
    }
    let Some(text) = sources.get(name) else {
        return false;
    };
    let bytes = text.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    for (i, _) in text.match_indices('t') {
        if i > 0 && ident(bytes[i - 1]) {
            continue;
        }
        match bytes.get(i + 1) {
            Some(b'[') => return false,
            Some(b'.') => {
                let rest = &bytes[i + 2..];
                let len = rest.iter().take_while(|b| ident(**b)).count();
                if len > 0 {
                    keys.insert(text[i + 2..i + 2 + len].to_string());
                }
            }
            _ => {}
        }
    }
    for tag in ["{% extends \"", "{% include \"", "{% import \""] {
        for (i, _) in text.match_indices(tag) {
            let rest = &text[i + tag.len()..];
            if let Some(end) = rest.find('"')
                && !collect_keys(sources, &rest[..end], keys, seen)
            {
                return false;
            }
        }
    }
    true
}

fn collect_dir(
    root: &Path,
    dir: &Path,
    out: &mut BTreeMap<String, String>,
) -> Result<(), TemplateError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| TemplateError(format!("cannot read {}: {e}", dir.display())))?;
    for entry in entries {
        let path = entry
            .map_err(|e| TemplateError(format!("cannot read {}: {e}", dir.display())))?
            .path();
        if path.is_dir() {
            collect_dir(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            let name = rel.to_string_lossy().replace('\\', "/");
            let text = std::fs::read_to_string(&path)
                .map_err(|e| TemplateError(format!("cannot read {}: {e}", path.display())))?;
            out.insert(name, text);
        }
    }
    Ok(())
}

/// Tera hides the useful part of an error in its source chain.
pub fn describe_tera_error(e: &tera::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// A public file by path: `<data>/public/<path>` if present, else the embedded copy.
/// Paths with `..` or absolute parts are refused.
pub fn public_file(data_public: &Path, path: &str) -> Option<(Vec<u8>, String)> {
    let rel = Path::new(path);
    if path.is_empty()
        || rel
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return None;
    }
    let mime = mime_guess::from_path(path)
        .first_or_octet_stream()
        .essence_str()
        .to_string();
    if let Ok(bytes) = std::fs::read(data_public.join(rel)) {
        return Some((bytes, mime));
    }
    Public::get(path).map(|f| (f.data.into_owned(), mime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_template_overrides_embedded_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("home.html"), "custom home").expect("write");
        let tera = load_templates(dir.path()).expect("templates load");
        let out = tera
            .render("home.html", &tera::Context::new())
            .expect("render");
        assert_eq!(out, "custom home");
        assert!(tera.get_template_names().any(|n| n == "layout.html"));
    }

    #[test]
    fn catalog_use_follows_extends_and_includes() {
        let sources: BTreeMap<String, String> = [
            ("base.html", "{{ t.app_name }} {% block c %}{% endblock c %}"),
            ("part.html", "<b>{{ t.part_key }}</b>{{ at.not_a_key }}"),
            (
                "page.html",
                "{% extends \"base.html\" %}{% block c %}{{ t.page_key }}{% include \"part.html\" %}{% endblock c %}",
            ),
            ("dynamic.html", "{% extends \"base.html\" %}{{ t[name] }}"),
            ("broken.html", "{% include \"missing.html\" %}"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let uses = CatalogUse::of(&sources);
        let keys: Vec<&str> = uses
            .keys("page.html")
            .expect("a known set")
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["app_name", "page_key", "part_key"]);
        assert!(
            uses.keys("dynamic.html").is_none(),
            "t[…] needs every message"
        );
        assert!(uses.keys("broken.html").is_none());
        assert!(uses.keys("unknown.html").is_none());
    }

    #[test]
    fn broken_override_names_the_template() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("home.html"), "{% if %}").expect("write");
        let err = load_templates(dir.path())
            .expect_err("must fail")
            .to_string();
        assert!(err.contains("home.html"), "{err}");
    }

    #[test]
    fn public_files_refuse_traversal() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(public_file(dir.path(), "../Cargo.toml").is_none());
        assert!(public_file(dir.path(), "/etc/passwd").is_none());
        let (css, mime) = public_file(dir.path(), "css/app.css").expect("embedded css");
        assert!(!css.is_empty());
        assert_eq!(mime, "text/css");
    }
}
