//! Publishing a file: written under a temporary name, synced, and renamed into place (after
//! exclusive links, for commits), so that readers on any node see the old file or the whole
//! new one.

use std::path::{Path, PathBuf};

/// Writes `parts` to a new file at `tmp`, syncs it and renames it to `dest`, so readers see
/// the old file or the whole new one; `tmp` is removed if anything fails.
pub(super) fn publish(tmp: &Path, dest: &Path, parts: &[&[u8]]) -> std::io::Result<()> {
    publish_linked(tmp, dest, parts, &[]).map(|_| ())
}

/// As [`publish()`], but first hard-links the synced file to each of `links`, exclusively (see
/// [`claims`](super::claims)), all or none: when a link exists already, the links made are removed and the
/// file is discarded, not renamed into place. Says which links could be made.
pub(super) fn publish_linked(
    tmp: &Path,
    dest: &Path,
    parts: &[&[u8]],
    links: &[PathBuf],
) -> std::io::Result<Vec<bool>> {
    use std::io::Write as _;
    let written = (|| {
        // Parts gathered into large writes: a pack has one per batch.
        let size = parts.iter().map(|p| p.len()).sum::<usize>().min(1 << 20);
        let mut f = std::io::BufWriter::with_capacity(size, std::fs::File::create_new(tmp)?);
        for part in parts {
            f.write_all(part)?;
        }
        let f = f
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        f.sync_all()?;
        let mut linked = Vec::with_capacity(links.len());
        for link in links {
            match std::fs::hard_link(tmp, link) {
                Ok(()) => linked.push(true),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => linked.push(false),
                Err(e) => return Err(e),
            }
        }
        if linked.contains(&false) {
            for (link, made) in links.iter().zip(&linked) {
                if *made {
                    std::fs::remove_file(link)?;
                }
            }
            std::fs::remove_file(tmp)?;
        } else {
            std::fs::rename(tmp, dest)?;
        }
        Ok(linked)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    written
}
