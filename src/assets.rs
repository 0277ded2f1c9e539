//! Files compiled into the binary: page templates, public assets and the installer's own
//! files. A folder in the data directory may override any of them by name.

use std::collections::BTreeMap;
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
    let mut tera = tera::Tera::default();
    tera.autoescape_on(vec![".html"]);
    tera.add_raw_templates(sources)
        .map_err(|e| TemplateError(describe_tera_error(&e)))?;
    Ok(tera)
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
