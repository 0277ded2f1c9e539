//! Finding modules: every folder of `<data>/modules/` with a `module.toml` is a module.
//! The manifest is checked before the library is opened, so a module that does not fit
//! this Postdesk is refused without running any of its code. The unsafe part of loading
//! lives in `postdesk_module_api::host`, so this crate keeps `unsafe_code` forbidden.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use postdesk_module_api::host::Library;
use postdesk_module_api::manifest::Manifest;

/// One folder found under `<data>/modules/`, loaded or refused.
#[derive(Debug)]
pub struct Found {
    /// The folder.
    pub dir: PathBuf,
    /// The module's name (the folder's name when the manifest could not be read).
    pub name: String,
    /// The manifest, when it could be read.
    pub manifest: Option<Manifest>,
    /// The library, when it loaded.
    pub library: Option<Arc<Library>>,
    /// Why it was refused, for the admin.
    pub error: Option<String>,
}

/// Scans `dir` (normally `<data>/modules`) and loads what fits, in name order. A missing
/// folder means no modules.
pub fn scan(dir: &Path) -> Vec<Found> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("module.toml").is_file())
        .collect();
    dirs.sort();
    dirs.into_iter().map(|d| load(&d)).collect()
}

/// Reads, checks and loads the module in `dir`.
pub fn load(dir: &Path) -> Found {
    let folder = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let refuse = |name: String, manifest: Option<Manifest>, error: String| Found {
        dir: dir.to_path_buf(),
        name,
        manifest,
        library: None,
        error: Some(error),
    };
    let text = match std::fs::read_to_string(dir.join("module.toml")) {
        Ok(t) => t,
        Err(e) => return refuse(folder, None, format!("cannot read module.toml: {e}")),
    };
    let manifest = match Manifest::parse(&text) {
        Ok(m) => m,
        Err(e) => return refuse(folder, None, format!("module.toml: {e}")),
    };
    let name = manifest.name.clone();
    if name != folder {
        let e = format!("module.toml names {name:?} but its folder is {folder:?}; they must match");
        return refuse(folder, Some(manifest), e);
    }
    if let Err(e) = manifest.check_fits(postdesk_module_api::ABI_VERSION, super::POSTDESK_VERSION) {
        return refuse(name, Some(manifest), e.to_string());
    }
    let path = dir.join(manifest.library_file());
    match Library::open(&path) {
        Ok(lib) => Found {
            dir: dir.to_path_buf(),
            name,
            manifest: Some(manifest),
            library: Some(Arc::new(lib)),
            error: None,
        },
        Err(e) => refuse(name, Some(manifest), format!("{}: {e}", path.display())),
    }
}
