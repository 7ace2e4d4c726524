//! Result files: one per grown batch.
//!
//! A result is written to a temporary name unique to its writer
//! (`.tmp-HOST-PID-RANDOM`), synced, and renamed into place, so a reader sees a whole file or
//! none. Its name carries what `xyz status` shows without opening it:
//! `batch-ID_fFAILED_tEND_dTOOK.xyzr` (failed cases, end time in Unix milliseconds, time taken
//! in milliseconds). Its content, all integers little endian:
//!
//! ```text
//! magic        8 bytes   "xyzres01"
//! manifest    32 bytes   SHA-256 of the crop's manifest.toml when the batch was grown
//! batch        u64       the batch id
//! cases        u64       cases in the batch
//! failed       u64       failed cases
//! length       u64       bytes of the payload
//! checksum    32 bytes   SHA-256 of the payload
//! payload:     host (u32 length + UTF-8), start time (u64 Unix ms), time taken (u64 ms),
//!              one column per output (see the worker protocol), then the failures:
//!              u32 count, each u64 position in the batch, u8 kind, u32 length + message
//! ```
//!
//! A result is reaped only if its manifest hash, batch id, case count and checksum all match.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::process::wire;
use crate::runner::BatchOutput;
use crate::value::Column;

const MAGIC: &[u8; 8] = b"xyzres01";
const HEADER: usize = 8 + 32 + 8 * 4 + 32;
/// The extension of result files.
pub(crate) const EXT: &str = "xyzr";
/// The prefix of temporary files.
pub(crate) const TMP_PREFIX: &str = ".tmp-";

/// What a result's name says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NameInfo {
    pub(crate) batch: u64,
    pub(crate) failed: u64,
    pub(crate) end_ms: u64,
    pub(crate) took_ms: u64,
}

impl NameInfo {
    pub(crate) fn file_name(&self) -> String {
        format!(
            "batch-{}_f{}_t{}_d{}.{EXT}",
            self.batch, self.failed, self.end_ms, self.took_ms
        )
    }

    /// Parses a result's file name; `None` for any other file.
    pub(crate) fn parse(name: &str) -> Option<NameInfo> {
        let rest = name.strip_prefix("batch-")?.strip_suffix(EXT)?;
        let rest = rest.strip_suffix('.')?;
        let mut parts = rest.split('_');
        let batch = parts.next()?.parse().ok()?;
        let failed = parts.next()?.strip_prefix('f')?.parse().ok()?;
        let end_ms = parts.next()?.strip_prefix('t')?.parse().ok()?;
        let took_ms = parts.next()?.strip_prefix('d')?.parse().ok()?;
        if parts.next().is_some() {
            return None;
        }
        Some(NameInfo {
            batch,
            failed,
            end_ms,
            took_ms,
        })
    }
}

/// A batch's result as read back.
#[derive(Debug)]
pub(crate) struct ReadResult {
    pub(crate) output: BatchOutput,
    pub(crate) host: String,
}

/// Why a result cannot be reaped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadResult {
    /// It could not be read.
    #[error("could not be read: {0}")]
    Read(String),
    /// It ends early.
    #[error("is truncated")]
    Truncated,
    /// It is not a result file.
    #[error("is not an xyz result file")]
    NotAResult,
    /// It was grown for another manifest: the crop was sown again since.
    #[error("was grown for another version of the crop (stale)")]
    Stale,
    /// Its header does not match its name or the plan.
    #[error("holds {found} where {expected} was expected")]
    Mismatch {
        /// What the plan expects.
        expected: String,
        /// What the file holds.
        found: String,
    },
    /// Its payload does not match its checksum.
    #[error("is corrupt: its checksum does not match")]
    Corrupt,
}

fn now_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// This machine's name, for provenance and temporary names.
pub(crate) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
        .replace(['/', '_', '.'], "-")
}

fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// Writes batch `batch`'s `output` into `dir` as described in the [module docs](self), and
/// returns its path. With `commit`, the result is first linked there exclusively (see
/// [`super::claims`]); `None` when that link exists, and the result was discarded.
pub(crate) fn write(
    dir: &Path,
    manifest_sha: &[u8; 32],
    batch: u64,
    output: &BatchOutput,
    commit: Option<&Path>,
) -> io::Result<Option<PathBuf>> {
    let took = output.took;
    let started = SystemTime::now() - took;
    let mut payload =
        Vec::with_capacity(64 + output.cols.iter().map(|c| 8 * c.len() + 5).sum::<usize>());
    let host = host_name();
    wire::write_str(&mut payload, &host)?;
    payload.extend_from_slice(&now_ms(started).to_le_bytes());
    payload.extend_from_slice(&(took.as_millis() as u64).to_le_bytes());
    for col in &output.cols {
        wire::write_column(&mut payload, col)?;
    }
    wire::write_u32(&mut payload, output.failures.len() as u32)?;
    for (pos, kind, message) in &output.failures {
        payload.extend_from_slice(&(*pos as u64).to_le_bytes());
        wire::write_u8(&mut payload, wire::kind_byte(*kind))?;
        wire::write_str(&mut payload, message)?;
    }
    let mut header = Vec::with_capacity(HEADER);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(manifest_sha);
    for v in [
        batch,
        output.n as u64,
        output.failures.len() as u64,
        payload.len() as u64,
    ] {
        header.extend_from_slice(&v.to_le_bytes());
    }
    header.extend_from_slice(&Sha256::digest(&payload));

    let tmp = dir.join(format!(
        "{TMP_PREFIX}{host}-{}-{:016x}",
        std::process::id(),
        random()
    ));
    let name = NameInfo {
        batch,
        failed: output.failures.len() as u64,
        end_ms: now_ms(SystemTime::now()),
        took_ms: took.as_millis() as u64,
    };
    let path = dir.join(name.file_name());
    let placed = super::publish_linked(&tmp, &path, &[&header, &payload], commit)?;
    Ok(placed.then_some(path))
}

fn le64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b.try_into().expect("8 bytes"))
}

/// Reads and checks the result at `path`, which must be batch `batch` of `cases` cases of the
/// crop whose manifest hashes to `manifest_sha`, with outputs `outputs`.
pub(crate) fn read(
    path: &Path,
    manifest_sha: &[u8; 32],
    batch: u64,
    cases: usize,
    outputs: &[xyz_abi::Output],
) -> Result<ReadResult, BadResult> {
    let mut file = std::fs::File::open(path).map_err(|e| BadResult::Read(e.to_string()))?;
    let mut header = [0u8; HEADER];
    read_exact(&mut file, &mut header)?;
    if &header[..8] != MAGIC {
        return Err(BadResult::NotAResult);
    }
    if &header[8..40] != manifest_sha {
        return Err(BadResult::Stale);
    }
    let (id, n, failed, len) = (
        le64(&header[40..48]),
        le64(&header[48..56]),
        le64(&header[56..64]),
        le64(&header[64..72]),
    );
    if id != batch || n != cases as u64 {
        return Err(BadResult::Mismatch {
            expected: format!("batch {batch} of {cases} cases"),
            found: format!("batch {id} of {n} cases"),
        });
    }
    let size = file
        .metadata()
        .map_err(|e| BadResult::Read(e.to_string()))?
        .len();
    if size < HEADER as u64 + len {
        return Err(BadResult::Truncated);
    }
    if size > HEADER as u64 + len {
        return Err(BadResult::Corrupt);
    }
    let mut payload = vec![0u8; len as usize];
    read_exact(&mut file, &mut payload)?;
    if Sha256::digest(&payload).as_slice() != &header[72..104] {
        return Err(BadResult::Corrupt);
    }
    // The checksum matched: what follows was written by `write`, so a decoding error means a
    // writer that disagrees with this reader.
    let mut r = &payload[..];
    let decode = |e: io::Error| BadResult::Mismatch {
        expected: "a payload this version of xyz reads".into(),
        found: e.to_string(),
    };
    let host = wire::read_str(&mut r).map_err(decode)?;
    let mut times = [0u8; 16];
    r.read_exact(&mut times).map_err(decode)?;
    let took = Duration::from_millis(le64(&times[8..]));
    let mut cols = Vec::with_capacity(outputs.len());
    for o in outputs {
        let mut col = Column::new(o.ty);
        wire::read_column(&mut r, &mut col, cases * o.elements()).map_err(decode)?;
        cols.push(col);
    }
    let count = wire::read_u32(&mut r).map_err(decode)? as u64;
    if count != failed {
        return Err(decode(wire::bad(format!(
            "{count} failures where the header says {failed}"
        ))));
    }
    let mut failures = Vec::with_capacity(count as usize);
    let mut last = None;
    for _ in 0..count {
        let mut pos = [0u8; 8];
        r.read_exact(&mut pos).map_err(decode)?;
        let pos = u64::from_le_bytes(pos) as usize;
        if pos >= cases || last.is_some_and(|l| pos <= l) {
            return Err(decode(wire::bad(format!("a failure at position {pos}"))));
        }
        last = Some(pos);
        let kind = wire::kind_from_byte(wire::read_u8(&mut r).map_err(decode)?).map_err(decode)?;
        failures.push((pos, kind, wire::read_str(&mut r).map_err(decode)?));
    }
    Ok(ReadResult {
        output: BatchOutput {
            n: cases,
            cols,
            failures,
            took,
        },
        host,
    })
}

fn read_exact(file: &mut std::fs::File, buf: &mut [u8]) -> Result<(), BadResult> {
    file.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => BadResult::Truncated,
        _ => BadResult::Read(e.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::FailureKind;

    fn outputs() -> Vec<xyz_abi::Output> {
        "f(a: i64) -> (y: f64[t=2], s: str)"
            .parse::<xyz_abi::Signature>()
            .unwrap()
            .outputs
    }

    fn sample() -> BatchOutput {
        BatchOutput {
            n: 3,
            cols: vec![
                Column::F64(vec![1.0, 2.0, 0.0, 0.0, 5.0, 6.0]),
                Column::Str(vec!["a".into(), "".into(), "c".into()]),
            ],
            failures: vec![(1, FailureKind::Panic, "boom".into())],
            took: Duration::from_millis(1500),
        }
    }

    #[test]
    fn results_round_trip_and_name_what_they_hold() {
        let dir = tempfile::tempdir().unwrap();
        let sha = [7u8; 32];
        let path = write(dir.path(), &sha, 4, &sample(), None)
            .unwrap()
            .unwrap();
        let name = NameInfo::parse(path.file_name().unwrap().to_str().unwrap()).unwrap();
        assert_eq!((name.batch, name.failed, name.took_ms), (4, 1, 1500));
        let back = read(&path, &sha, 4, 3, &outputs()).unwrap();
        assert_eq!(back.output, sample());
        assert_eq!(back.host, host_name());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn the_first_commit_of_a_batch_wins() {
        let dir = tempfile::tempdir().unwrap();
        let committed = tempfile::tempdir().unwrap();
        let link = committed.path().join("4");
        let sha = [7u8; 32];
        let first = write(dir.path(), &sha, 4, &sample(), Some(&link)).unwrap();
        let path = first.expect("committed");
        assert_eq!(std::fs::read(&link).unwrap(), std::fs::read(&path).unwrap());
        let second = write(dir.path(), &sha, 4, &sample(), Some(&link)).unwrap();
        assert_eq!(second, None, "discarded");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "one result, no temporary"
        );
    }

    #[test]
    fn damaged_or_foreign_results_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let sha = [7u8; 32];
        let path = write(dir.path(), &sha, 4, &sample(), None)
            .unwrap()
            .unwrap();
        let good = std::fs::read(&path).unwrap();
        let outs = outputs();
        assert_eq!(
            read(&path, &[8u8; 32], 4, 3, &outs).unwrap_err(),
            BadResult::Stale
        );
        assert!(matches!(
            read(&path, &sha, 5, 3, &outs).unwrap_err(),
            BadResult::Mismatch { .. }
        ));
        std::fs::write(&path, &good[..good.len() - 3]).unwrap();
        assert_eq!(
            read(&path, &sha, 4, 3, &outs).unwrap_err(),
            BadResult::Truncated
        );
        std::fs::write(&path, &good[..20]).unwrap();
        assert_eq!(
            read(&path, &sha, 4, 3, &outs).unwrap_err(),
            BadResult::Truncated
        );
        let mut flipped = good.clone();
        let last = flipped.len() - 9;
        flipped[last] ^= 0x10;
        std::fs::write(&path, &flipped).unwrap();
        assert_eq!(
            read(&path, &sha, 4, 3, &outs).unwrap_err(),
            BadResult::Corrupt
        );
        let mut foreign = good.clone();
        foreign[..8].copy_from_slice(b"PK\x03\x04zip!");
        std::fs::write(&path, &foreign).unwrap();
        assert_eq!(
            read(&path, &sha, 4, 3, &outs).unwrap_err(),
            BadResult::NotAResult
        );
    }

    #[test]
    fn only_result_names_parse() {
        for bad in [
            "batch-1.xyzr",
            "batch-x_f0_t1_d1.xyzr",
            ".tmp-h-1-2",
            "batch-1_f0_t1_d1_e.xyzr",
            "batch-1_f0_t1_d1.xyzrr",
        ] {
            assert_eq!(NameInfo::parse(bad), None, "{bad}");
        }
    }
}
