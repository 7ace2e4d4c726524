//! A lock on a dataset while it is merged into, so that concurrent merges serialize.
//!
//! A merge reads a dataset, adds to it and replaces it: two at once would each replace the
//! other's work. So a merge first takes `.NAME.xyz-lock` beside the dataset `NAME`, a claim
//! file of the same kind as a crop's batch claims (made with `O_CREAT | O_EXCL`, which holds
//! on NFS; holding host, pid, a token and a lease), and holds it until the merged dataset is
//! in place. A thread renews the lease while the lock is held. A lock whose lease expired
//! (its holder's node died or hung), or whose holder on this host is no longer running, is
//! taken over; a live holder is waited for.

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
        let path = lock_path(dataset);
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
        })
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
                crate::crop::result::host_name()
            ),
        )
        .unwrap();
        let lock = DatasetLock::acquire(&data, |_| panic!("its holder is dead")).unwrap();
        drop(lock);
    }
}
