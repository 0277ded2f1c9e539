//! `postdesk api-key create --user EMAIL | list | revoke ID`: keys for scripts and tests.
//! `create` prints the new key once; only its SHA-256 is stored.

use std::path::Path;

use clap::Subcommand;

use crate::api::keys::{self, DEFAULT_RATE_PER_MINUTE};
use crate::config::Config;
use crate::models::user;

/// `postdesk api-key` subcommands.
#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key acting as a user; prints the key (shown only this once).
    Create {
        /// The user's login email.
        #[arg(long)]
        user: String,
        /// What the key is for.
        #[arg(long, default_value = "command line")]
        name: String,
        /// Calls per minute allowed.
        #[arg(long, default_value_t = DEFAULT_RATE_PER_MINUTE)]
        rate: i32,
    },
    /// List keys: id, name, user, first characters, rate, last use.
    List,
    /// Revoke (delete) a key by id.
    Revoke {
        /// The key's id (see `list`).
        id: i64,
    },
}

/// Runs `postdesk api-key …`.
pub fn api_key(data: &Path, command: ApiKeyCommand) -> Result<(), String> {
    let config = Config::load(data).map_err(|e| e.to_string())?;
    let pool = crate::open_database(&config).map_err(|e| e.to_string())?;
    let mut c = pool.get().map_err(|e| e.to_string())?;
    match command {
        ApiKeyCommand::Create { user, name, rate } => {
            if !(1..=100_000).contains(&rate) {
                return Err("--rate must be from 1 to 100000".into());
            }
            let found = user::find_by_email(&mut c, &user)
                .map_err(|e| e.to_string())?
                .filter(|u| u.is_active())
                .ok_or_else(|| format!("no active user {user}"))?;
            let (_, key) = keys::create(&mut c, &name, found.id, rate, crate::db::now())
                .map_err(|e| e.to_string())?;
            println!("{key}");
            Ok(())
        }
        ApiKeyCommand::List => {
            for k in keys::list(&mut c).map_err(|e| e.to_string())? {
                println!(
                    "{}\t{}\t{}\t{}…\t{}/min\t{}",
                    k.id,
                    k.name,
                    k.user_email.unwrap_or_else(|| "-".into()),
                    k.key_prefix,
                    k.rate_per_minute,
                    k.last_used_at
                        .map(|t| t.to_string())
                        .unwrap_or_else(|| "never used".into()),
                );
            }
            Ok(())
        }
        ApiKeyCommand::Revoke { id } => {
            if keys::revoke(&mut c, id).map_err(|e| e.to_string())? {
                println!("key {id} revoked");
                Ok(())
            } else {
                Err(format!("no key {id}"))
            }
        }
    }
}
