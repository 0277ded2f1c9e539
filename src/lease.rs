//! Lease holders: every process that claims rows (fetch checkpoints, outbox rows) names
//! itself `host/pid/random`, so a lease held by a process that died on this machine can
//! be taken over at once instead of waiting for it to expire.

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
