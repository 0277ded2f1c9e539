//! `postdesk mailbox …`, `postdesk fetch …` and `postdesk ingest …`.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};

use crate::config::Config;
use crate::crypto::Secrets;
use crate::db::types::OutMethod;
use crate::db::types::{AfterFetch, MailSecurity};
use crate::db::{self, DbError, DbPool};
use crate::mail::inbound::fetch::{FetchError, Fetcher, Progress};
use crate::models::mailbox::{self, InboundChanges, OutboundChanges};
use crate::models::{fetch_state, ingest_failure};

/// `postdesk mailbox …`
#[derive(Debug, Subcommand)]
pub enum MailboxCommand {
    /// Create a mailbox and print its id.
    Add(MailboxArgs),
    /// List mailboxes with their fetch state.
    List,
    /// Change a mailbox; only the flags given change.
    Update {
        /// The mailbox id.
        id: i64,
        /// The settings to change.
        #[command(flatten)]
        args: MailboxArgs,
    },
    /// Send a test message through the mailbox's outgoing server and print its answer.
    TestSmtp {
        /// The mailbox id.
        id: i64,
        /// Where the test message goes.
        #[arg(long)]
        to: String,
    },
}

/// Connection security, as typed on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SecurityArg {
    /// No encryption (only on a trusted network).
    None,
    /// Plain connection upgraded with STARTTLS.
    Starttls,
    /// TLS from the first byte (IMAPS, port 993).
    Tls,
}

impl From<SecurityArg> for MailSecurity {
    fn from(s: SecurityArg) -> Self {
        match s {
            SecurityArg::None => MailSecurity::None,
            SecurityArg::Starttls => MailSecurity::StartTls,
            SecurityArg::Tls => MailSecurity::Tls,
        }
    }
}

/// What to do with fetched mail on the server.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AfterFetchArg {
    /// Leave it as it is.
    Leave,
    /// Mark it seen.
    Seen,
    /// Move it to `--move-folder`.
    Move,
}

/// Mailbox settings on the command line.
#[derive(Debug, Args)]
pub struct MailboxArgs {
    /// Display name, e.g. "Support".
    #[arg(long)]
    pub name: Option<String>,
    /// The shared address, e.g. support@example.com.
    #[arg(long)]
    pub email: Option<String>,
    /// Other addresses delivered to this mailbox, comma-separated.
    #[arg(long)]
    pub aliases: Option<String>,
    /// IMAP server host name.
    #[arg(long)]
    pub imap_host: Option<String>,
    /// IMAP port (993 for TLS, 143 for STARTTLS or none).
    #[arg(long)]
    pub imap_port: Option<u16>,
    /// IMAP connection security.
    #[arg(long, value_enum)]
    pub imap_security: Option<SecurityArg>,
    /// IMAP user name.
    #[arg(long)]
    pub imap_user: Option<String>,
    /// File holding the IMAP password (read once, stored encrypted).
    #[arg(long)]
    pub imap_password_file: Option<PathBuf>,
    /// Folder to fetch; repeat for several (default INBOX).
    #[arg(long)]
    pub imap_folder: Vec<String>,
    /// What to do with fetched mail on the server.
    #[arg(long, value_enum)]
    pub after_fetch: Option<AfterFetchArg>,
    /// Folder fetched mail is moved to with `--after-fetch move`.
    #[arg(long)]
    pub move_folder: Option<String>,
    /// Seconds between fetches (default 60).
    #[arg(long)]
    pub fetch_interval: Option<u32>,
    /// Also thread replies by a `[#number]` token in the subject.
    #[arg(long)]
    pub subject_token: Option<bool>,
    /// SMTP server host name (outgoing mail).
    #[arg(long)]
    pub smtp_host: Option<String>,
    /// SMTP port (465 for TLS, 587 for STARTTLS, 25 for none).
    #[arg(long)]
    pub smtp_port: Option<u16>,
    /// SMTP connection security.
    #[arg(long, value_enum)]
    pub smtp_security: Option<SecurityArg>,
    /// SMTP user name (omit for servers without authentication).
    #[arg(long)]
    pub smtp_user: Option<String>,
    /// File holding the SMTP password (read once, stored encrypted).
    #[arg(long)]
    pub smtp_password_file: Option<PathBuf>,
    /// Send through the local sendmail binary instead of SMTP.
    #[arg(long)]
    pub sendmail: bool,
    /// Auto-reply to new conversations: its body (HTML, variables allowed); "" turns it off.
    #[arg(long)]
    pub auto_reply: Option<String>,
    /// Auto-reply subject (variables allowed).
    #[arg(long)]
    pub auto_reply_subject: Option<String>,
    /// Signature added to replies (HTML, variables allowed).
    #[arg(long)]
    pub signature: Option<String>,
}

/// `postdesk fetch`
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Fetch only this mailbox.
    #[arg(long)]
    pub mailbox: Option<i64>,
    /// One pass over the mailboxes, then exit (for cron).
    #[arg(long)]
    pub once: bool,
}

/// `postdesk ingest …`: the ingestion log.
#[derive(Debug, Subcommand)]
pub enum IngestCommand {
    /// Messages that could not be parsed or stored.
    List,
    /// Try a failed message again from its raw copy.
    Retry {
        /// The failure id from `ingest list`.
        id: i64,
    },
}

/// A command-line failure: the message says what failed and what to do.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CliError(pub String);

impl From<crate::StartError> for CliError {
    fn from(e: crate::StartError) -> Self {
        CliError(e.to_string())
    }
}

impl From<DbError> for CliError {
    fn from(e: DbError) -> Self {
        CliError(e.to_string())
    }
}

impl From<diesel::result::Error> for CliError {
    fn from(e: diesel::result::Error) -> Self {
        CliError(format!("database query failed: {e}"))
    }
}

impl From<crate::crypto::CryptoError> for CliError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        CliError(e.to_string())
    }
}

fn open(data: &Path) -> Result<(Config, DbPool, Secrets), CliError> {
    let config = Config::load(data).map_err(crate::StartError::from)?;
    let pool = crate::open_database(&config)?;
    let secrets = Secrets::load_or_create(&config.data_dir)?;
    Ok((config, pool, secrets))
}

fn read_password(path: &Path) -> Result<String, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError(format!(
            "cannot read the password file {}: {e}",
            path.display()
        ))
    })?;
    Ok(text.trim_end_matches(['\n', '\r']).to_string())
}

/// The shared rule's message, in English, naming the command-line flag.
fn invalid(flag: &str, e: mailbox::Invalid) -> CliError {
    CliError(format!("{flag}: {}", crate::i18n::t("en", e.key)))
}

fn changes_from(args: &MailboxArgs, secrets: &Secrets) -> Result<InboundChanges, CliError> {
    let email = match &args.email {
        Some(e) => Some(mailbox::check_address("email", e).map_err(|e| invalid("--email", e))?),
        None => None,
    };
    let aliases = match &args.aliases {
        Some(a) => Some(mailbox::check_aliases(a).map_err(|e| invalid("--aliases", e))?),
        None => None,
    };
    if let Some(p) = args.imap_port {
        mailbox::check_port("in_port", i64::from(p)).map_err(|e| invalid("--imap-port", e))?;
    }
    if let Some(AfterFetchArg::Move) = args.after_fetch {
        mailbox::check_move_folder(
            AfterFetch::Move,
            args.move_folder.as_deref().unwrap_or_default(),
        )
        .map_err(|e| invalid("--move-folder", e))?;
    }
    let password = match &args.imap_password_file {
        Some(path) => Some(secrets.encrypt(&read_password(path)?)),
        None => None,
    };
    let folders = (!args.imap_folder.is_empty()).then(|| mailbox::folders_json(&args.imap_folder));
    Ok(InboundChanges {
        name: args.name.clone(),
        email,
        aliases,
        in_host: args.imap_host.clone(),
        in_port: args.imap_port.map(i32::from),
        in_security: args.imap_security.map(|s| MailSecurity::from(s).as_i16()),
        in_username: args.imap_user.clone(),
        in_password: password,
        in_folders: folders,
        in_after_fetch: args.after_fetch.map(|a| {
            match a {
                AfterFetchArg::Leave => AfterFetch::Leave,
                AfterFetchArg::Seen => AfterFetch::MarkSeen,
                AfterFetchArg::Move => AfterFetch::Move,
            }
            .as_i16()
        }),
        in_move_folder: args.move_folder.clone(),
        fetch_interval_secs: args
            .fetch_interval
            .map(|s| mailbox::clamp_fetch_interval(i64::from(s))),
        subject_token_threading: args.subject_token,
        updated_at: None,
    })
}

fn outbound_changes_from(
    args: &MailboxArgs,
    secrets: &Secrets,
) -> Result<OutboundChanges, CliError> {
    if let Some(p) = args.smtp_port {
        mailbox::check_port("out_port", i64::from(p)).map_err(|e| invalid("--smtp-port", e))?;
    }
    let password = match &args.smtp_password_file {
        Some(path) => Some(secrets.encrypt(&read_password(path)?)),
        None => None,
    };
    let method = if args.sendmail {
        Some(OutMethod::Sendmail)
    } else {
        args.smtp_host.as_ref().map(|_| OutMethod::Smtp)
    };
    Ok(OutboundChanges {
        out_method: method.map(OutMethod::as_i16),
        out_host: args.smtp_host.clone(),
        out_port: args.smtp_port.map(i32::from),
        out_security: args.smtp_security.map(|s| MailSecurity::from(s).as_i16()),
        out_username: args.smtp_user.clone(),
        out_password: password,
        auto_reply_enabled: args.auto_reply.as_ref().map(|b| !b.trim().is_empty()),
        auto_reply_body: args.auto_reply.clone(),
        auto_reply_subject: args.auto_reply_subject.clone(),
        signature: args.signature.clone(),
        ..OutboundChanges::default()
    })
}

/// Runs `postdesk mailbox …`.
pub fn mailbox(data: &Path, cmd: MailboxCommand) -> Result<(), CliError> {
    let (_config, pool, secrets) = open(data)?;
    let mut conn = pool.get().map_err(DbError::Pool)?;
    match cmd {
        MailboxCommand::Add(args) => {
            let (Some(name), Some(email)) = (&args.name, &args.email) else {
                return Err(CliError("mailbox add needs --name and --email".into()));
            };
            let changes = changes_from(&args, &secrets)?;
            let now = db::now();
            let id = crate::db::dialect::write_transaction(&mut conn, |c| {
                let id = mailbox::create(
                    c,
                    &mailbox::NewMailbox {
                        name,
                        email,
                        created_at: now,
                        updated_at: now,
                    },
                )?;
                mailbox::update(c, id, changes)?;
                Ok::<_, diesel::result::Error>(id)
            })
            .map_err(|e| match e {
                diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                ) => CliError(format!("a mailbox with the address {email} exists already")),
                other => CliError::from(other),
            })?;
            println!("{id}");
        }
        MailboxCommand::Update { id, args } => {
            let changes = changes_from(&args, &secrets)?;
            let outbound = outbound_changes_from(&args, &secrets)?;
            if !mailbox::update(&mut conn, id, changes)?
                || !mailbox::update_outbound(&mut conn, id, outbound)?
            {
                return Err(CliError(format!(
                    "mailbox {id} does not exist (see `postdesk mailbox list`)"
                )));
            }
            println!("mailbox {id} updated");
        }
        MailboxCommand::TestSmtp { id, to } => {
            let settings = mailbox::outbound_settings(&mut conn, id)?.ok_or_else(|| {
                CliError(format!(
                    "mailbox {id} does not exist (see `postdesk mailbox list`)"
                ))
            })?;
            let answer = crate::mail::outbound::transport::send_test(&settings, &secrets, &to)
                .map_err(|e| {
                    CliError(format!(
                        "mailbox {id}: the test message to {to} was not sent: {e} (check the \
                         --smtp-* settings with `postdesk mailbox update`)"
                    ))
                })?;
            println!("sent: {answer}");
        }
        MailboxCommand::List => {
            println!(
                "{:<5} {:<24} {:<32} {:<28} fetch state",
                "id", "name", "email", "imap"
            );
            for m in mailbox::all_inbound_settings(&mut conn)? {
                let imap = if m.in_host.is_empty() {
                    "-".to_string()
                } else {
                    format!(
                        "{}@{}:{} {:?}",
                        m.in_username,
                        m.in_host,
                        m.in_port,
                        m.security()
                    )
                };
                let states: Vec<String> = fetch_state::for_mailbox(&mut conn, m.id)?
                    .iter()
                    .map(|s| {
                        let when = s
                            .last_fetch_at
                            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                            .unwrap_or_else(|| "never".into());
                        let err = if s.last_error.is_empty() {
                            String::new()
                        } else {
                            format!(" error: {}", s.last_error)
                        };
                        format!("{} uid {} at {when}{err}", s.folder, s.last_uid)
                    })
                    .collect();
                println!(
                    "{:<5} {:<24} {:<32} {:<28} {}",
                    m.id,
                    m.name,
                    m.email,
                    imap,
                    states.join("; ")
                );
            }
        }
    }
    Ok(())
}

/// Runs `postdesk fetch`.
pub fn fetch(data: &Path, args: FetchArgs) -> Result<(), CliError> {
    let (config, pool, secrets) = open(data)?;
    let fetcher = Fetcher {
        files: crate::storage::FileStore::new(&config.data_dir),
        pool: pool.clone(),
        secrets,
        reopen_within_days: config.inbound.reopen_within_days,
        worker: crate::lease::worker_name(),
        hooks: Some(std::sync::Arc::new(
            crate::hooks::Registry::load(
                pool.clone(),
                &config.data_dir,
                &config.public_url(),
                crate::hooks::HookOptions::default(),
            )
            .map_err(|e| CliError(e.to_string()))?,
        )),
    };
    loop {
        let problems = fetch_pass(&fetcher, &pool, args.mailbox)?;
        if args.once {
            return if problems == 0 {
                Ok(())
            } else {
                Err(CliError(format!(
                    "{problems} problem(s); see above and `postdesk ingest list`"
                )))
            };
        }
        std::thread::sleep(crate::mail::inbound::fetch::POLL_EVERY);
    }
}

/// One pass over the mailboxes; returns how many mailboxes failed or messages were logged.
fn fetch_pass(fetcher: &Fetcher, pool: &DbPool, only: Option<i64>) -> Result<usize, CliError> {
    let mut conn = pool.get().map_err(DbError::Pool)?;
    let all = mailbox::all_inbound_settings(&mut conn)?;
    drop(conn);
    if let Some(id) = only
        && !all.iter().any(|m| m.id == id)
    {
        {
            return Err(CliError(format!(
                "mailbox {id} does not exist (see `postdesk mailbox list`)"
            )));
        }
    }
    let mut problems = 0;
    for m in all.iter().filter(|m| only.is_none_or(|id| id == m.id)) {
        let label = format!("mailbox {} ({})", m.id, m.name);
        let show = |p: Progress<'_>| match p {
            Progress::Folder { folder, total } => {
                println!("{label}: {folder}: {total} new message(s)")
            }
            Progress::Done {
                folder,
                done,
                total,
            } if total > 50 => println!("{label}: {folder}: {done}/{total}"),
            Progress::Done { .. } => {}
        };
        match fetcher.fetch_mailbox(m.id, &show) {
            Ok(r) => {
                println!(
                    "{label}: stored {}, skipped {} already stored, {} failed{}",
                    r.stored,
                    r.duplicates,
                    r.failed,
                    if r.busy_folders > 0 {
                        format!(", {} folder(s) busy in another process", r.busy_folders)
                    } else {
                        String::new()
                    }
                );
                problems += r.failed;
            }
            Err(FetchError::NotConfigured(_)) if only.is_none() => {
                println!("{label}: skipped, no IMAP server set")
            }
            Err(e) => {
                eprintln!("{label}: {e}");
                problems += 1;
            }
        }
    }
    Ok(problems)
}

/// Runs `postdesk ingest …`.
pub fn ingest(data: &Path, cmd: IngestCommand) -> Result<(), CliError> {
    let (config, pool, secrets) = open(data)?;
    let mut conn = pool.get().map_err(DbError::Pool)?;
    match cmd {
        IngestCommand::List => {
            let open = ingest_failure::open(&mut conn, None)?;
            if open.is_empty() {
                println!("no failed messages");
            }
            for f in open {
                println!(
                    "{} mailbox {} {} uid {} tries {} at {}: {}",
                    f.id,
                    f.mailbox_id,
                    f.folder,
                    f.uid,
                    f.attempts,
                    f.created_at.format("%Y-%m-%d %H:%M"),
                    f.error
                );
            }
            Ok(())
        }
        IngestCommand::Retry { id } => {
            let files = crate::storage::FileStore::new(&config.data_dir);
            match crate::mail::inbound::retry_failure(
                &mut conn,
                &secrets,
                &files,
                config.inbound.reopen_within_days,
                id,
            ) {
                Ok(outcome) => {
                    println!("message {id}: {outcome}");
                    Ok(())
                }
                Err(e) => Err(CliError(format!(
                    "message {id} still cannot be taken in: {e}"
                ))),
            }
        }
    }
}
