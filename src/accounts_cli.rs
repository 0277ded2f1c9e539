//! `postdesk install`, `postdesk user add` and `postdesk user list`.

use std::path::Path;

use crate::auth::password;
use crate::cli::InstallArgs;
use crate::config::Config;
use crate::db::types::{UserRole, UserStatus};
use crate::installer::{self, InstallRequest};
use crate::models::activity::{self, Activity};
use crate::models::user;
use crate::web::profile::looks_like_email;
use crate::{StartError, db};

pub(crate) fn read_password(file: &Path) -> Result<String, StartError> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        StartError::Command(format!(
            "cannot read the password file {}: {e}",
            file.display()
        ))
    })?;
    Ok(text.trim_end_matches(['\n', '\r']).to_string())
}

/// Installs non-interactively through the same code as the web installer.
pub fn install(data: &Path, args: &InstallArgs) -> Result<(), StartError> {
    let request = InstallRequest {
        database_url: args
            .database_url
            .clone()
            .unwrap_or_else(|| "sqlite://postdesk.db".into()),
        app_url: args.app_url.clone(),
        admin_email: args.admin_email.clone(),
        admin_password: read_password(&args.admin_password_file)?,
        admin_name: args.admin_name.clone(),
        language: args.language.clone(),
        timezone: "UTC".into(),
    };
    let config =
        installer::install(data, &request).map_err(|e| StartError::Installer(e.to_string()))?;
    println!(
        "Postdesk is installed on {} ({}). Start it with `postdesk --data {} serve` and log in at {}/login as {}.",
        db::redact_url(&config.database_url()),
        data.join(crate::config::CONFIG_FILE).display(),
        data.display(),
        config.public_url(),
        request.admin_email.trim().to_lowercase(),
    );
    Ok(())
}

fn installed_connection(data: &Path) -> Result<db::AnyConnection, StartError> {
    let config = Config::load(data)?;
    if !config.installed {
        return Err(StartError::Command(format!(
            "Postdesk is not installed in {} yet; run `postdesk install` or the web installer first",
            data.display()
        )));
    }
    Ok(db::establish(&config.database_url())?)
}

/// Adds an account with a password.
pub fn user_add(
    data: &Path,
    email: &str,
    name: &str,
    role: &str,
    password_file: &Path,
) -> Result<(), StartError> {
    let email = email.trim().to_lowercase();
    if !looks_like_email(&email) {
        return Err(StartError::Command(format!(
            "{email:?} is not an email address"
        )));
    }
    if name.trim().is_empty() {
        return Err(StartError::Command("--name must not be empty".into()));
    }
    let pw = read_password(password_file)?;
    password::check_strength(&pw, &email)
        .map_err(|w| StartError::Command(crate::i18n::t("en", w.message_key())))?;
    let hash = password::hash(&pw).map_err(StartError::Command)?;
    let role = if role == "admin" {
        UserRole::Admin
    } else {
        UserRole::Agent
    };
    let mut conn = installed_connection(data)?;
    if user::find_by_email(&mut conn, &email)
        .map_err(db::DbError::Query)?
        .is_some()
    {
        return Err(StartError::Command(format!(
            "an account with the email {email} exists already"
        )));
    }
    let (first, last) = user::split_name(name);
    let now = db::now();
    let id = user::create(
        &mut conn,
        &user::NewUser::active(&first, &last, &email, &hash, role, now),
    )
    .map_err(db::DbError::Query)?;
    activity::record(
        &mut conn,
        &Activity {
            action: "user_added",
            subject_type: "user",
            subject_id: Some(id),
            details: "command line",
            ..Activity::default()
        },
        now,
    )
    .map_err(db::DbError::Query)?;
    println!("added user {id}: {email}");
    Ok(())
}

/// Prints every account that is not deleted.
pub fn user_list(data: &Path) -> Result<(), StartError> {
    let mut conn = installed_connection(data)?;
    let users = user::list(&mut conn).map_err(db::DbError::Query)?;
    println!(
        "{:>5}  {:<32}  {:<24}  {:<6}  status",
        "id", "email", "name", "role"
    );
    for u in users {
        println!(
            "{:>5}  {:<32}  {:<24}  {:<6}  {}",
            u.id,
            u.email,
            u.full_name(),
            if u.is_admin() { "admin" } else { "agent" },
            match u.status() {
                Some(UserStatus::Active) => "active",
                Some(UserStatus::Disabled) => "disabled",
                _ => "deleted",
            }
        );
    }
    Ok(())
}
