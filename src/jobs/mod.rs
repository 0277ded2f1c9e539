//! Background work that runs inside `serve`: each kind in a file of its own.

pub mod events;
pub mod fetch;
pub mod idle;

fn host_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    let host = host.trim();
    if host.is_empty() {
        "postdesk".into()
    } else {
        host.to_string()
    }
}

/// A name for this process in leases: `host/pid/random`.
pub fn worker_name() -> String {
    format!(
        "{}/{}/{}",
        host_name(),
        std::process::id(),
        crate::crypto::Secrets::random_hex(3)
    )
}

/// Whether a lease holder named by [`worker_name`] was a process on this machine that no
/// longer runs (so its lease can be taken over at once instead of waiting for it to end).
pub fn holder_is_dead(holder: &str) -> bool {
    let mut parts = holder.rsplitn(3, '/');
    let (Some(_rand), Some(pid), Some(host)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    host == host_name()
        && pid != std::process::id()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Starts the background workers `serve` runs, as the configuration asks.
pub fn start_background(state: &crate::AppState) -> Result<(), crate::StartError> {
    if state.config.inbound.fetch_in_background {
        let fetcher = crate::mail::inbound::fetch::Fetcher {
            pool: state.pool.clone(),
            secrets: crate::crypto::Secrets::load_or_create(&state.config.data_dir)
                .map_err(|e| crate::StartError::Server(std::io::Error::other(e.to_string())))?,
            files: crate::storage::FileStore::new(&state.config.data_dir),
            reopen_within_days: state.config.inbound.reopen_within_days,
            worker: worker_name(),
            hooks: Some(state.hooks.clone()),
        };
        fetch::spawn(fetcher)?;
    }
    events::spawn(state.hooks.clone(), state.pool.clone(), worker_name())?;
    Ok(())
}
