//! `postdesk module …`: list the modules found in `<data>/modules`, switch them on or off
//! and change their settings (until the admin page exists, this is the admin's tool; a
//! running server picks changes up within 15 seconds).

use std::path::Path;

use clap::Subcommand;

use crate::config::Config;
use crate::hooks::{HookOptions, ModuleStatus, Registry};

/// `postdesk module` subcommands.
#[derive(Debug, Subcommand)]
pub enum ModuleCommand {
    /// Print each module found: name, version, active or not, and why it failed to load.
    List,
    /// Switch a module on (this also clears the failures that disabled it).
    Activate {
        /// The module's name.
        name: String,
    },
    /// Switch a module off.
    Deactivate {
        /// The module's name.
        name: String,
    },
    /// Change one of a module's settings (see its module.toml for names and types).
    Set {
        /// The module's name.
        name: String,
        /// The setting.
        key: String,
        /// The new value.
        value: String,
    },
}

/// Runs `postdesk module …`.
pub fn module(data: &Path, command: ModuleCommand) -> Result<(), String> {
    let config = Config::load(data).map_err(|e| e.to_string())?;
    let pool = crate::open_database(&config).map_err(|e| e.to_string())?;
    let registry = Registry::load(
        pool,
        &config.data_dir,
        &config.public_url(),
        HookOptions::default(),
    )
    .map_err(|e| e.to_string())?;
    let loaded = |name: &str| match registry.status(name) {
        Some(ModuleStatus {
            load_error: Some(e),
            ..
        }) => Err(format!("module {name} did not load: {e}")),
        Some(_) => Ok(()),
        None => Err(format!(
            "no module {name} in {}",
            config.data_dir.join("modules").display()
        )),
    };
    match command {
        ModuleCommand::List => {
            let all = registry.statuses();
            if all.is_empty() {
                println!(
                    "no modules in {}",
                    config.data_dir.join("modules").display()
                );
            }
            for status in all {
                println!("{}", status.line());
            }
            Ok(())
        }
        ModuleCommand::Activate { name } => loaded(&name).and_then(|()| {
            registry
                .set_active(&name, true)
                .map(|()| println!("{name}: active"))
                .map_err(|e| e.to_string())
        }),
        ModuleCommand::Deactivate { name } => loaded(&name).and_then(|()| {
            registry
                .set_active(&name, false)
                .map(|()| println!("{name}: inactive"))
                .map_err(|e| e.to_string())
        }),
        ModuleCommand::Set { name, key, value } => loaded(&name).and_then(|()| {
            registry
                .set_setting(&name, &key, &serde_json::Value::String(value))
                .map(|()| println!("{name}: {key} set"))
        }),
    }
}
