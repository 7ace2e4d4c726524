//! A lock on a dataset while it is merged into, so that concurrent merges serialize.
//!
//! A merge reads a dataset, adds to it and replaces it: two at once would each replace the
//! other's work. So a merge first takes `.NAME.xyz-lock` beside the dataset `NAME`, a claim
//! file of the same kind as a crop's batch claims (made with `O_CREAT | O_EXCL`, which holds
//! on NFS; holding host, pid, a token and a lease), and holds it until the merged dataset is
//! in place. A thread renews the lease while the lock is held. A lock whose lease expired
//! (its holder's node died or hung), or whose holder on this host is no longer running, is
//! taken over; a live holder is waited for.
//!
//! The lock is the dataset's, not a path's: it lives beside the dataset a path resolves to
//! (through symbolic links and `..`), so two merges naming one dataset by two paths take one
//! lock. And a holder that was stopped past its lease (a suspended job, a paused VM) may have
//! lost it to another merge: before it replaces the dataset it checks, with
//! [`DatasetLock::still_held`], that the lock is still its own and the dataset the one it read.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::crop::claims::{self, Claim};

/// How long a lock holds without renewal.
const LEASE: Duration = Duration::from_secs(30);
/// How often a waiting merge tries again.
const POLL: Duration = Duration::from_millis(50);

/// Who holds a dataset's lock, as told to a merge that waits for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    /// The holder's host.
    pub host: String,
    /// Its process id.
    pub pid: u32,
}

/// The lock on a dataset, released when dropped: see [`lock_path`] for where it lives. Merges
/// into one dataset take it (an exclusive create, with a lease renewed while held), so they
/// serialize; a lock whose holder died or stopped renewing is taken over.
#[derive(Debug)]
pub struct DatasetLock {
    claim: Option<Claim>,
    stop: Option<mpsc::Sender<()>>,
    renewer: Option<JoinHandle<()>>,
    /// The dataset, resolved.
    dataset: PathBuf,
    /// What the dataset was when the lock was taken (`None`: there was none).
    seen: Option<Identity>,
}

/// Which file or directory a path names: its device and inode. A merge replaces a dataset by
/// a rename, which gives it another inode.
type Identity = (u64, u64);

fn identity(path: &Path) -> io::Result<Option<Identity>> {
    use std::os::unix::fs::MetadataExt as _;
    match std::fs::metadata(path) {
        Ok(m) => Ok(Some((m.dev(), m.ino()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The dataset `dataset` names, as one path whatever the path taken to it: through symbolic
/// links and `..` where it exists, else its directory's resolved path and its name.
pub fn resolve(dataset: &Path) -> io::Result<PathBuf> {
    let mut dataset = dataset.to_path_buf();
    // A link to nothing resolves to where it points; as many links as Linux follows.
    for _ in 0..40 {
        if dataset.symlink_metadata().is_err() {
            break;
        }
        if let Ok(p) = std::fs::canonicalize(&dataset) {
            return Ok(p);
        }
        let target = std::fs::read_link(&dataset)?;
        dataset = dataset.parent().unwrap_or(Path::new(".")).join(target);
    }
    if dataset.symlink_metadata().is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is a loop of symbolic links", dataset.display()),
        ));
    }
    let dataset = dataset.as_path();
    let name = dataset.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file", dataset.display()),
        )
    })?;
    let parent = match dataset.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Ok(std::fs::canonicalize(parent)?.join(name))
}

/// The path of the lock of the dataset at `dataset`.
pub fn lock_path(dataset: &Path) -> PathBuf {
    let name = dataset
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    dataset.with_file_name(format!(".{name}.xyz-lock"))
}

impl DatasetLock {
    /// Takes the lock of the dataset at `dataset`, waiting while another live process holds
    /// it; `waiting` is called once, with the holder, if it has to wait.
    pub fn acquire(
        dataset: &Path,
        mut waiting: impl FnMut(&LockHolder),
    ) -> io::Result<DatasetLock> {
        let dataset = resolve(dataset)?;
        let path = lock_path(&dataset);
        let mut told = false;
        let claim = loop {
            if let Some(claim) = claims::try_take(&path, LEASE)? {
                break claim;
            }
            if !told && let Some((host, pid, _)) = claims::holder(&path) {
                waiting(&LockHolder { host, pid });
                told = true;
            }
            std::thread::sleep(POLL);
        };
        let (stop, stopped) = mpsc::channel::<()>();
        let renewing = claim.clone();
        let renewer = std::thread::Builder::new()
            .name("xyz-dataset-lock".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(LEASE / 3) {
                    if !matches!(renewing.renew(), Ok(true)) {
                        return;
                    }
                }
            })?;
        Ok(DatasetLock {
            claim: Some(claim),
            stop: Some(stop),
            renewer: Some(renewer),
            seen: identity(&dataset)?,
            dataset,
        })
    }

    /// The dataset locked, resolved.
    pub fn dataset(&self) -> &Path {
        &self.dataset
    }

    /// Checks that the lock is still this holder's, renewing it, and that the dataset is the
    /// one there when it was taken: what a merge checks just before it replaces the dataset.
    /// An error of kind [`io::ErrorKind::WouldBlock`] says which did not hold.
    pub fn still_held(&self) -> io::Result<()> {
        let lost = |what: String| {
            io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "{what} (this merge was held up past its lease of {LEASE:?}): nothing was \
                     written, and the merge made meanwhile stands; run again to merge into it"
                ),
            )
        };
        let held = match &self.claim {
            Some(claim) => claim.renew()?,
            None => false,
        };
        if !held {
            return Err(lost(format!(
                "the lock on {} was taken over by another merge",
                self.dataset.display()
            )));
        }
        if identity(&self.dataset)? != self.seen {
            return Err(lost(format!(
                "{} was replaced since this merge read it",
                self.dataset.display()
            )));
        }
        Ok(())
    }
}

impl Drop for DatasetLock {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(r) = self.renewer.take() {
            let _ = r.join();
        }
        if let Some(c) = self.claim.take() {
            let _ = c.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_dataset_named_by_several_paths_has_one_lock() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("d.zarr");
        std::os::unix::fs::symlink("d.zarr", dir.path().join("link.zarr")).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        // Before the dataset exists, and after.
        for exists in [false, true] {
            if exists {
                std::fs::create_dir(&data).unwrap();
            }
            let real = resolve(&data).unwrap();
            for alias in ["link.zarr", "sub/../d.zarr", "./d.zarr"] {
                assert_eq!(resolve(&dir.path().join(alias)).unwrap(), real, "{alias}");
            }
            // Links that lead back to themselves are refused, not followed forever.
            let (a, b) = (dir.path().join("a.zarr"), dir.path().join("b.zarr"));
            let _ = (std::fs::remove_file(&a), std::fs::remove_file(&b));
            std::os::unix::fs::symlink("b.zarr", &a).unwrap();
            std::os::unix::fs::symlink("a.zarr", &b).unwrap();
            assert!(resolve(&a).is_err());
            let held = DatasetLock::acquire(&dir.path().join("link.zarr"), |_| {}).unwrap();
            assert_eq!(held.dataset(), real);
            assert!(lock_path(&real).exists());
            assert!(!dir.path().join(".link.zarr.xyz-lock").exists());
        }
    }

    #[test]
    fn a_lock_taken_over_or_a_dataset_replaced_meanwhile_is_told_before_placing() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("d.zarr");
        std::fs::create_dir(&data).unwrap();
        let lock = DatasetLock::acquire(&data, |_| {}).unwrap();
        lock.still_held().unwrap();
        // Another merge replaced the dataset (a rename, as every merge places its result).
        let other = dir.path().join("other");
        std::fs::create_dir(&other).unwrap();
        std::fs::remove_dir(&data).unwrap();
        std::fs::rename(&other, &data).unwrap();
        let err = lock.still_held().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert!(
            err.to_string()
                .contains("was replaced since this merge read it"),
            "{err}"
        );
        drop(lock);

        // Another merge took the lock over, as one does once a stopped holder's lease expired.
        let lock = DatasetLock::acquire(&data, |_| {}).unwrap();
        std::fs::write(
            lock_path(&data),
            format!(
                "xyzclaim1 {} 1 another-token 30000\n",
                crate::shared_fs::host_name()
            ),
        )
        .unwrap();
        let err = lock.still_held().unwrap_err();
        assert!(
            err.to_string().contains("was taken over by another merge"),
            "{err}"
        );
        drop(lock);
        assert!(
            lock_path(&data).exists(),
            "the other holder's lock is not released"
        );
    }

    #[test]
    fn a_second_merge_waits_for_the_first_and_a_dead_holder_is_passed_over() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("d.zarr");
        let first = DatasetLock::acquire(&data, |_| panic!("free")).unwrap();
        let (tx, rx) = mpsc::channel();
        let waiter = {
            let data = data.clone();
            std::thread::spawn(move || {
                let mut saw = None;
                let lock = DatasetLock::acquire(&data, |h| saw = Some(h.clone())).unwrap();
                tx.send(()).unwrap();
                drop(lock);
                saw
            })
        };
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err(), "held");
        drop(first);
        rx.recv_timeout(Duration::from_secs(10)).expect("released");
        let saw = waiter.join().unwrap().expect("it waited");
        assert_eq!(saw.pid, std::process::id());
        assert!(!lock_path(&data).exists(), "released");

        // A lock left by a process of this host that is gone.
        std::fs::write(
            lock_path(&data),
            format!(
                "xyzclaim1 {} 999999999 t 3600000\n",
                crate::shared_fs::host_name()
            ),
        )
        .unwrap();
        let lock = DatasetLock::acquire(&data, |_| panic!("its holder is dead")).unwrap();
        drop(lock);
    }
}
