//! How much memory this process may still take: the least of what the machine has available,
//! what its control group allows (a batch job's memory limit) and what its resource limits
//! allow (`ulimit -d`, `ulimit -v`). Past any of them an allocation fails, and a failed
//! allocation aborts a Rust program, so what is held whole is checked against this first.

/// A dataset that, held whole, would take more memory than this process may still take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the dataset of {cases} cases takes at least {:.1} GiB held whole, more than the {:.1} GiB \
     this process may still take",
    gib(*needed),
    gib(*available)
)]
pub struct TooLarge {
    /// The cases of the sweep.
    pub cases: u64,
    /// The bytes it needs held whole: its values, and room for what runs beside them.
    pub needed: u64,
    /// The bytes this process may still take.
    pub available: u64,
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1u32 << 30)
}

/// Refuses, before anything runs, the dataset of `space` evaluated by a function of `sig`
/// held whole (what a run that is not written a window at a time holds), if it would not fit
/// in the memory this process may still take: running out would end in an abort or the
/// kernel's OOM killer.
pub fn check_held_whole(
    space: &crate::BoundSpace,
    sig: &xyz_abi::Signature,
) -> Result<(), TooLarge> {
    // The values, and room for what runs beside them (chunks of arguments, the writer's
    // buffers).
    let values = crate::Dataset::bytes_needed(space, sig);
    let needed = values.saturating_add(values / 8).saturating_add(64 << 20);
    match available() {
        Some(available) if needed > available => Err(TooLarge {
            cases: space.len(),
            needed,
            available,
        }),
        _ => Ok(()),
    }
}

/// The bytes this process may still allocate, where any bound is known.
pub fn available() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let bounds = [
        std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|t| kib_field(&t, "MemAvailable:")),
        cgroup_room(),
        rlimit_room(libc::RLIMIT_DATA, kib_field(&status, "VmData:")),
        rlimit_room(libc::RLIMIT_AS, kib_field(&status, "VmSize:")),
    ];
    bounds.into_iter().flatten().min()
}

/// The value of a `NAME: N kB` line of `/proc/meminfo` or `/proc/self/status`, in bytes.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let kib: u64 = line[name.len()..].split_whitespace().next()?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// The type of a resource `getrlimit` takes: glibc's own enum type, an int elsewhere (musl).
#[cfg(target_env = "gnu")]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
type Resource = libc::c_int;

/// What the soft limit `resource` leaves beyond `used` bytes; `None` without a limit.
fn rlimit_room(resource: Resource, used: Option<u64>) -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the limit into the struct it is given.
    if unsafe { libc::getrlimit(resource, &mut limit) } != 0
        || limit.rlim_cur == libc::RLIM_INFINITY
    {
        return None;
    }
    Some(limit.rlim_cur.saturating_sub(used.unwrap_or(0)))
}

/// What this process's memory control group leaves: its limit less its usage, in cgroup v2
/// or v1, where either is mounted where Linux puts it.
fn cgroup_room() -> Option<u64> {
    let membership = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let read = |path: String| std::fs::read_to_string(path).ok();
    for (v2, path) in cgroup_paths(&membership) {
        let (limit, usage) = if v2 {
            (
                read(format!("/sys/fs/cgroup{path}/memory.max")),
                read(format!("/sys/fs/cgroup{path}/memory.current")),
            )
        } else {
            (
                read(format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes")),
                read(format!("/sys/fs/cgroup/memory{path}/memory.usage_in_bytes")),
            )
        };
        if let Some(room) = room(limit.as_deref(), usage.as_deref()) {
            return Some(room);
        }
    }
    None
}

/// The groups to look in, from `/proc/self/cgroup`: each memory group (`true` for cgroup v2),
/// then the root of each hierarchy (a container sees its own group as the root).
fn cgroup_paths(membership: &str) -> Vec<(bool, String)> {
    let mut paths = Vec::new();
    for line in membership.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next(), parts.next(), parts.next());
        let (Some(controllers), Some(path)) = (controllers, path) else {
            continue;
        };
        let path = path.trim_end_matches('/');
        if controllers.is_empty() {
            paths.push((true, path.to_string()));
        } else if controllers.split(',').any(|c| c == "memory") {
            paths.push((false, path.to_string()));
        }
    }
    let roots: Vec<(bool, String)> = paths.iter().map(|(v2, _)| (*v2, String::new())).collect();
    paths.extend(roots);
    paths
}

/// A group's limit less its usage, from the texts of its files; `None` where it has no limit
/// (`max`, or v1's page-rounded largest number).
fn room(limit: Option<&str>, usage: Option<&str>) -> Option<u64> {
    let limit: u64 = limit?.trim().parse().ok()?;
    if limit >= 1 << 62 {
        return None;
    }
    let usage: u64 = usage.and_then(|u| u.trim().parse().ok()).unwrap_or(0);
    Some(limit.saturating_sub(usage))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_of_proc_files_are_read_in_bytes() {
        let status = "Name:\txyz\nVmSize:\t  123 kB\nVmData:\t   64 kB\n";
        assert_eq!(kib_field(status, "VmData:"), Some(64 * 1024));
        assert_eq!(kib_field(status, "VmSize:"), Some(123 * 1024));
        assert_eq!(kib_field(status, "VmRSS:"), None);
        assert_eq!(
            kib_field("MemAvailable:   23000000 kB\n", "MemAvailable:"),
            Some(23_000_000 * 1024)
        );
    }

    #[test]
    fn control_groups_give_their_limit_less_their_usage() {
        assert_eq!(room(Some("max\n"), Some("100")), None);
        assert_eq!(room(Some("9223372036854771712\n"), Some("100")), None);
        assert_eq!(room(Some("1000\n"), Some("300\n")), Some(700));
        assert_eq!(room(Some("1000"), Some("3000")), Some(0));
        assert_eq!(room(None, Some("3")), None);
        let paths = cgroup_paths("4:memory:/job_7/step_0\n1:cpu:/\n0::/user.slice/x\n");
        assert_eq!(
            paths,
            [
                (false, "/job_7/step_0".to_string()),
                (true, "/user.slice/x".to_string()),
                (false, String::new()),
                (true, String::new()),
            ]
        );
    }
}
