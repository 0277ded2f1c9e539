//! The command line: `postdesk [--data DIR] [serve|migrate|check|version|config-example]`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{CONFIG_FILE, Config};
use crate::db::{self, dialect};
use crate::{AppState, StartError};

mod api_key;
mod mail;
mod module;
mod seed;

/// Postdesk, a shared-inbox email helpdesk.
#[derive(Debug, Parser)]
#[command(name = "postdesk", version, about)]
pub struct Cli {
    /// The data directory: config file, SQLite database, attachments, modules.
    #[arg(
        long = "data",
        env = "POSTDESK_DATA_DIR",
        default_value = "data",
        global = true
    )]
    pub data: PathBuf,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
// Parsed once per process; boxing the mailbox flags would only add noise.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Run the web server and background workers (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Validate the configuration, connect to the database and report what was found.
    Check,
    /// Print the version.
    Version,
    /// Print a complete example config file with every key documented.
    ConfigExample,
    /// Create, change and list mailboxes.
    Mailbox {
        /// What to do.
        #[command(subcommand)]
        command: mail::MailboxCommand,
    },
    /// Fetch new mail over IMAP (every mailbox, or one).
    Fetch(mail::FetchArgs),
    /// Messages that could not be parsed or stored: list and retry.
    Ingest {
        /// What to do.
        #[command(subcommand)]
        command: mail::IngestCommand,
    },
    /// List modules, switch them on or off, change their settings.
    Module {
        /// What to do.
        #[command(subcommand)]
        command: module::ModuleCommand,
    },
    /// Install without the web installer (scripted deployments).
    Install(InstallArgs),
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Fill the database with realistic conversations, for benchmarks and demos.
    Seed(seed::SeedArgs),
    /// REST API keys: create one acting as a user, list, revoke.
    ApiKey {
        /// What to do.
        #[command(subcommand)]
        command: api_key::ApiKeyCommand,
    },
}

/// `postdesk install` options.
#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// Database URL; default: SQLite in the data directory.
    #[arg(long)]
    pub database_url: Option<String>,
    /// The first admin's email.
    #[arg(long)]
    pub admin_email: String,
    /// A file holding the first admin's password (one line).
    #[arg(long)]
    pub admin_password_file: PathBuf,
    /// The public address agents open, e.g. https://help.example.com.
    #[arg(long)]
    pub app_url: String,
    /// The first admin's name.
    #[arg(long, default_value = "Admin")]
    pub admin_name: String,
    /// Interface language of the first admin.
    #[arg(long, default_value = "en", value_parser = ["en", "ru"])]
    pub language: String,
}

/// `postdesk user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add an account with a password.
    Add {
        /// Login email.
        #[arg(long)]
        email: String,
        /// Full name.
        #[arg(long)]
        name: String,
        /// Role.
        #[arg(long, value_parser = ["admin", "agent"])]
        role: String,
        /// A file holding the password (one line).
        #[arg(long)]
        password_file: PathBuf,
    },
    /// List accounts.
    List,
}

/// Runs the command line and returns the process exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&cli.data).map_err(|e| e.to_string()),
        Command::Migrate => migrate(&cli.data).map_err(|e| e.to_string()),
        Command::Check => check(&cli.data).map_err(|e| e.to_string()),
        Command::Version => {
            println!("postdesk {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::ConfigExample => {
            print!("{}", Config::example_toml());
            Ok(())
        }
        Command::Mailbox { command } => {
            mail::mailbox(&cli.data, command).map_err(|e| e.to_string())
        }
        Command::Fetch(args) => mail::fetch(&cli.data, args).map_err(|e| e.to_string()),
        Command::Ingest { command } => mail::ingest(&cli.data, command).map_err(|e| e.to_string()),
        Command::Install(args) => {
            crate::accounts_cli::install(&cli.data, &args).map_err(|e| e.to_string())
        }
        Command::User(UserCommand::Add {
            email,
            name,
            role,
            password_file,
        }) => crate::accounts_cli::user_add(&cli.data, &email, &name, &role, &password_file)
            .map_err(|e| e.to_string()),
        Command::User(UserCommand::List) => {
            crate::accounts_cli::user_list(&cli.data).map_err(|e| e.to_string())
        }
        Command::Module { command } => {
            module::module(&cli.data, command).map_err(|e| e.to_string())
        }
        Command::Seed(args) => seed::seed(&cli.data, &args).map_err(|e| e.to_string()),
        Command::ApiKey { command } => api_key::api_key(&cli.data, command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("postdesk: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second init (tests) is harmless; ignore it.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn serve(data: &std::path::Path) -> Result<(), StartError> {
    let config = Config::load(data)?;
    if !config.installed {
        return actix_web::rt::System::new().block_on(crate::web::serve_installer(
            config,
            crate::jobs::start_background,
        ));
    }
    let state = AppState::start(config)?;
    crate::jobs::start_background(&state)?;
    actix_web::rt::System::new().block_on(crate::web::serve(state))
}

fn migrate(data: &std::path::Path) -> Result<(), StartError> {
    let config = Config::load(data)?;
    let url = config.database_url();
    let mut conn = db::establish(&url)?;
    let pending = db::pending_migrations(&mut conn)?;
    if pending.is_empty() {
        println!("{}: the database is up to date", db::redact_url(&url));
        return Ok(());
    }
    println!(
        "{}: {} migration(s) to apply",
        db::redact_url(&url),
        pending.len()
    );
    for (i, name) in pending.iter().enumerate() {
        println!("[{}/{}] {name}", i + 1, pending.len());
    }
    let applied = db::run_migrations(&mut conn)?;
    println!("applied {applied} migration(s)");
    Ok(())
}

fn check(data: &std::path::Path) -> Result<(), StartError> {
    let file = data.join(CONFIG_FILE);
    println!(
        "config file: {} ({})",
        file.display(),
        if file.exists() {
            "found"
        } else {
            "absent, using defaults"
        }
    );
    let config = Config::load(data)?;
    println!("config: ok");
    println!("listen: {}", config.listen);
    println!("public URL: {}", config.public_url());
    let url = config.database_url();
    println!("database: {}", db::redact_url(&url));
    let mut conn = db::establish(&url)?;
    let version = dialect::server_version(&mut conn).map_err(db::DbError::Query)?;
    println!("database server: {version}");
    let pending = db::pending_migrations(&mut conn)?;
    if pending.is_empty() {
        println!("migrations: up to date");
    } else {
        println!(
            "migrations: {} pending ({}); `postdesk migrate` or `postdesk serve` applies them",
            pending.len(),
            pending.join(", ")
        );
    }
    crate::assets::load_templates(&config.data_dir.join("templates"))?;
    println!("templates: ok");
    Ok(())
}
