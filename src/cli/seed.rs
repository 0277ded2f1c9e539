//! `postdesk seed …`: realistic data for benchmarks and demos (see [`crate::seed`]).

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::crypto::Secrets;
use crate::seed::{SeedContext, SeedOptions, SeedReport};
use crate::storage::FileStore;
use crate::{StartError, db};

/// `postdesk seed` options.
#[derive(Debug, clap::Args)]
pub struct SeedArgs {
    /// How many conversations to add.
    #[arg(long)]
    pub conversations: u64,
    /// How many mailboxes to spread them over (found by address or created).
    #[arg(long, default_value_t = 3)]
    pub mailboxes: u32,
    /// How many agents answer them (found by address or created).
    #[arg(long, default_value_t = 8)]
    pub agents: u32,
    /// Seed of the random generator: the same seed on the same database gives the same data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Database URL; default: the configured database of the installed instance.
    #[arg(long)]
    pub database_url: Option<String>,
    /// A file holding a password (one line) for the agents this run creates; without it
    /// they cannot log in.
    #[arg(long)]
    pub agent_password_file: Option<PathBuf>,
}

fn rate(count: u64, report: &SeedReport) -> f64 {
    count as f64 / report.elapsed.as_secs_f64().max(1e-9)
}

/// Seeds the database named by `--database-url` or the instance's configuration.
pub fn seed(data: &Path, args: &SeedArgs) -> Result<(), StartError> {
    let config = Config::load(data)?;
    let url = match &args.database_url {
        Some(url) => url.clone(),
        None if config.installed => config.database_url(),
        None => {
            return Err(StartError::Command(format!(
                "Postdesk is not installed in {} yet; run `postdesk install` first or pass --database-url",
                data.display()
            )));
        }
    };
    let agent_password_hash = match &args.agent_password_file {
        Some(file) => crate::auth::password::hash(&crate::accounts_cli::read_password(file)?)
            .map_err(StartError::Command)?,
        None => String::new(),
    };
    let mut conn = db::establish(&url)?;
    let secrets = Secrets::load_or_create(&config.data_dir)
        .map_err(|e| StartError::Command(e.to_string()))?;
    let files = FileStore::new(&config.data_dir);
    let opts = SeedOptions {
        conversations: args.conversations,
        mailboxes: args.mailboxes,
        agents: args.agents,
        seed: args.seed,
        agent_password_hash,
    };
    println!(
        "seeding {} conversations over {} mailbox(es) and {} agent(s) into {}",
        args.conversations,
        args.mailboxes,
        args.agents,
        db::redact_url(&url)
    );
    let ctx = SeedContext {
        secrets: &secrets,
        files: &files,
    };
    let total = args.conversations.max(1);
    let report = crate::seed::run(&mut conn, &ctx, &opts, |r| {
        println!(
            "{:>3}%  {} conversations, {} threads in {:.1} s: {:.0} conversations/s, {:.0} threads/s",
            r.conversations * 100 / total,
            r.conversations,
            r.threads,
            r.elapsed.as_secs_f64(),
            rate(r.conversations, r),
            rate(r.threads, r),
        );
    })
    .map_err(|e| StartError::Command(e.to_string()))?;
    println!(
        "done: {} conversations, {} threads, {} customers ({} addresses), {} attachments in {:.1} s ({:.0} threads/s)",
        report.conversations,
        report.threads,
        report.customers,
        report.customer_emails,
        report.attachments,
        report.elapsed.as_secs_f64(),
        rate(report.threads, &report),
    );
    Ok(())
}
