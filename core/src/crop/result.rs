//! Result files: one per batch grown on its own (the batches one process grows together go
//! into a pack, see the `pack` module, whose payloads are these files' payloads).
//!
//! A result is written to a temporary name unique to its writer
//! (`.tmp-HOST-PID-RANDOM`), synced, and renamed into place, so a reader sees a whole file or
//! none. Its name carries what `xyz status` shows without opening it:
//! `batch-ID_fFAILED_tEND_dTOOK_gGROWER.xyzr` (failed cases, end time in Unix milliseconds, time taken
//! in milliseconds). Its content, all integers little endian:
//!
//! ```text
//! magic        8 bytes   "xyzres03"
//! manifest    32 bytes   SHA-256 of the crop's manifest.toml when the batch was grown
//! batch        u64       the batch id
//! cases        u64       cases in the batch
//! failed       u64       failed cases
//! length       u64       bytes of the payload
//! checksum    32 bytes   SHA-256 of the payload
//! key          8 bytes   the ID of the key that sealed it (see [`crate::keys`])
//! tag         32 bytes   HMAC-SHA256 of everything above, with that key
//! payload:     a postcard-encoded [`Payload`]: host, start time (Unix ms), time taken (ms),
//!              one column per output (numeric columns as one block of bytes, as in the worker
//!              protocol), and the failures (position in the batch, kind, message)
//! ```
//!
//! The fixed header is what `xyz check` reads; it stays the same across payload versions. A
//! result is reaped only if it was sealed by a key the reader trusts, and its manifest hash,
//! batch id, case count and checksum all match: a file put in `results/` by anyone without the
//! key, or one relabelled from another crop, is refused before its payload is read.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::borrow::Cow;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::grower::GrowerId;
use crate::encoding::ColumnBytes;
use crate::keys::{ResultKey, Trust};
use crate::runner::BatchOutput;
use crate::value::{Column, FailureKind};

const MAGIC: &[u8; 8] = b"xyzres03";
/// The magics of results older versions of xyz wrote, told apart for a clearer refusal.
const OLD_MAGICS: [&[u8; 8]; 2] = [b"xyzres01", b"xyzres02"];

/// A result's payload, as encoded after its header.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Payload<'a> {
    /// The host that grew the batch.
    #[serde(borrow)]
    host: Cow<'a, str>,
    /// When growing began, in Unix milliseconds.
    start_ms: u64,
    /// How long it took, in milliseconds.
    took_ms: u64,
    /// One column per output.
    #[serde(borrow)]
    cols: Vec<ColumnBytes<'a>>,
    /// The failed cases: position in the batch (increasing), kind, message.
    #[serde(borrow)]
    failures: Vec<(u64, FailureKind, Cow<'a, str>)>,
}
/// The bytes a result's seal covers, and the whole header.
const SEALED: usize = 8 + 32 + 8 * 4 + 32 + 8;
const HEADER: usize = SEALED + 32;
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
    /// The [grower](super::grower) that wrote it, if its name says.
    pub(crate) grower: Option<GrowerId>,
    /// Where in a pack it is, for a batch written in one (see [`super::pack`]); `None` for a
    /// result file of its own.
    pub(crate) packed: Option<Packed>,
}

impl NameInfo {
    /// The name of the file that holds this result: its own, or its pack's.
    pub(crate) fn file_name(&self) -> String {
        if let Some(packed) = &self.packed {
            return packed.file_name();
        }
        let grower = self
            .grower
            .as_ref()
            .map_or_else(String::new, |g| format!("_g{g}"));
        format!(
            "batch-{}_f{}_t{}_d{}{grower}.{EXT}",
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
        let grower = match parts.next() {
            None => None,
            Some(g) => Some(GrowerId::parse(g.strip_prefix('g')?)?),
        };
        if parts.next().is_some() {
            return None;
        }
        Some(NameInfo {
            batch,
            failed,
            end_ms,
            took_ms,
            grower,
            packed: None,
        })
    }
}

/// A batch's result as read back.
#[derive(Debug)]
pub(crate) struct ReadResult {
    pub(crate) output: BatchOutput,
    pub(crate) host: String,
}

/// Where a batch's result is in a pack (see [`super::pack`]): what its index says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Packed {
    /// The pack's file name.
    pub(crate) name: Arc<str>,
    /// Where the payload starts, from the start of the file.
    pub(crate) offset: u64,
    /// The payload's length.
    pub(crate) len: u64,
    /// Cases in the batch, as the index says.
    pub(crate) cases: u64,
    /// The payload's SHA-256.
    pub(crate) checksum: [u8; 32],
}

impl Packed {
    /// The pack's file name.
    pub(crate) fn file_name(&self) -> String {
        self.name.to_string()
    }
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
    /// It was sealed by a key the reader does not trust, or its seal does not match.
    #[error(
        "was not sealed by a key this process trusts (key {key}): results grown on another \
         account are reaped with --trust-key FILE, FILE written there by `xyz key --export`"
    )]
    Untrusted {
        /// The ID of the key it names, in hex.
        key: String,
    },
    /// One batch of a pack cannot be reaped; the pack's other batches can.
    #[error("holds batch {batch}, which {reason}")]
    InPack {
        /// The batch.
        batch: u64,
        /// Why its result cannot be reaped.
        reason: Box<BadResult>,
    },
}

impl BadResult {
    /// This reason, for the result `info`: said of its batch when it is one of a pack.
    pub(crate) fn in_batch(self, info: &NameInfo) -> BadResult {
        match info.packed {
            Some(_) => BadResult::InPack {
                batch: info.batch,
                reason: Box::new(self),
            },
            None => self,
        }
    }
}

fn now_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A batch's result, encoded: its payload and what the header (or a pack's index) says of it.
#[derive(Debug, Clone)]
pub(crate) struct Encoded {
    /// The batch id.
    pub(crate) batch: u64,
    /// Cases in the batch.
    pub(crate) cases: u64,
    /// Failed cases.
    pub(crate) failed: u64,
    /// When the batch was done, in Unix milliseconds.
    pub(crate) end_ms: u64,
    /// How long it took, in milliseconds.
    pub(crate) took_ms: u64,
    /// The postcard-encoded [`Payload`].
    pub(crate) payload: Vec<u8>,
    /// The payload's SHA-256.
    pub(crate) checksum: [u8; 32],
}

/// The most bytes one batch's encoded results may take: a batch that would take more is not
/// written (it must be sown in smaller batches), and a result or a pack entry that claims more
/// is refused before a byte of it is read.
pub const MAX_PAYLOAD: u64 = 1 << 30;

/// A buffer of `len` bytes for a payload, whose length was checked against [`MAX_PAYLOAD`] and
/// the file's size: an allocation the machine cannot make is an error, not an abort.
pub(crate) fn payload_buffer(len: u64) -> Result<Vec<u8>, BadResult> {
    let mut buffer = Vec::new();
    buffer
        .try_reserve_exact(len as usize)
        .map_err(|_| BadResult::Read(format!("cannot allocate {len} bytes to read it")))?;
    buffer.resize(len as usize, 0);
    Ok(buffer)
}

/// Encodes batch `batch`'s `output`, as a result file or a pack holds it.
pub(crate) fn encode(batch: u64, output: &BatchOutput) -> io::Result<Encoded> {
    let took = output.took;
    let now = SystemTime::now();
    let host = crate::shared_fs::host_name();
    let payload = postcard::to_allocvec(&Payload {
        host: Cow::Borrowed(&host),
        start_ms: now_ms(now - took),
        took_ms: took.as_millis() as u64,
        cols: output.cols.iter().map(ColumnBytes::of).collect(),
        failures: output
            .failures
            .iter()
            .map(|(pos, kind, message)| (*pos as u64, *kind, Cow::Borrowed(message.as_str())))
            .collect(),
    })
    .map_err(|e| io::Error::other(e.to_string()))?;
    if payload.len() as u64 > MAX_PAYLOAD {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the results of batch {batch} take {} bytes, more than the {MAX_PAYLOAD} one \
                 batch's results may: sow the crop with smaller batches",
                payload.len()
            ),
        ));
    }
    Ok(Encoded {
        batch,
        cases: output.n as u64,
        failed: output.failures.len() as u64,
        end_ms: now_ms(now),
        took_ms: took.as_millis() as u64,
        checksum: Sha256::digest(&payload).into(),
        payload,
    })
}

/// A temporary name in `dir` unique to this writer.
pub(crate) fn temp_path(dir: &Path) -> PathBuf {
    dir.join(format!(
        "{TMP_PREFIX}{}-{}-{:016x}",
        crate::shared_fs::host_name(),
        std::process::id(),
        crate::shared_fs::random_token()
    ))
}

/// Damages the bytes of a file as the fuzz tests of results and packs do: overwrites a byte
/// at each of `edits`, then, with `truncate`, cuts them at `cut`.
#[cfg(test)]
pub(crate) fn damage(
    bytes: &mut Vec<u8>,
    edits: &[(proptest::sample::Index, u8)],
    cut: proptest::sample::Index,
    truncate: bool,
) {
    for (at, b) in edits {
        let i = at.index(bytes.len());
        bytes[i] = *b;
    }
    if truncate {
        bytes.truncate(cut.index(bytes.len()));
    }
}

/// Writes batch `batch`'s `output` into `dir` as described in the [module docs](self), and
/// returns its path. With `commit`, the result is first linked there exclusively (see
/// [`super::claims`]); `None` when that link exists, and the result was discarded.
#[cfg(test)]
pub(crate) fn write(
    dir: &Path,
    manifest_sha: &[u8; 32],
    batch: u64,
    output: &BatchOutput,
    commit: Option<&Path>,
    key: &ResultKey,
) -> io::Result<Option<PathBuf>> {
    write_encoded(dir, manifest_sha, &encode(batch, output)?, commit, key)
}

/// As [`write`], for a result already encoded.
pub(crate) fn write_encoded(
    dir: &Path,
    manifest_sha: &[u8; 32],
    encoded: &Encoded,
    commit: Option<&Path>,
    key: &ResultKey,
) -> io::Result<Option<PathBuf>> {
    let mut header = Vec::with_capacity(HEADER);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(manifest_sha);
    for v in [
        encoded.batch,
        encoded.cases,
        encoded.failed,
        encoded.payload.len() as u64,
    ] {
        header.extend_from_slice(&v.to_le_bytes());
    }
    header.extend_from_slice(&encoded.checksum);
    header.extend_from_slice(&key.id());
    let tag = key.seal(&[&header]);
    header.extend_from_slice(&tag);
    let name = NameInfo {
        batch: encoded.batch,
        failed: encoded.failed,
        end_ms: encoded.end_ms,
        took_ms: encoded.took_ms,
        grower: Some(GrowerId::this_process().clone()),
        packed: None,
    };
    let path = dir.join(name.file_name());
    let links: Vec<PathBuf> = commit.into_iter().map(Path::to_path_buf).collect();
    let linked =
        super::publish_linked(&temp_path(dir), &path, &[&header, &encoded.payload], &links)?;
    Ok((!linked.contains(&false)).then_some(path))
}

fn le64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b.try_into().expect("8 bytes"))
}

/// Reads the header of the result in `file` and checks its seal (by a key of `trust`) and its
/// manifest (`manifest_sha`): what listing the results does for each result file.
fn sealed_header(
    file: &mut std::fs::File,
    manifest_sha: &[u8; 32],
    trust: &Trust,
) -> Result<[u8; HEADER], BadResult> {
    let mut header = [0u8; HEADER];
    read_exact(file, &mut header[..8])?;
    if OLD_MAGICS.iter().any(|m| header[..8] == m[..]) {
        return Err(BadResult::Mismatch {
            expected: "result format 3".into(),
            found: "an older format, with no seal (grow the batch again)".into(),
        });
    }
    if &header[..8] != MAGIC {
        return Err(BadResult::NotAResult);
    }
    read_exact(file, &mut header[8..])?;
    check_seal(&header, trust)?;
    if &header[8..40] != manifest_sha {
        return Err(BadResult::Stale);
    }
    Ok(header)
}

/// Checks the seal that ends `header` (a result's or a pack's): the ID of a key of `trust` in
/// the 8 bytes before its last 32, and those 32 the key's tag over all before them.
pub(crate) fn check_seal(header: &[u8], trust: &Trust) -> Result<(), BadResult> {
    let sealed = header.len().saturating_sub(32);
    let id = &header[sealed.saturating_sub(8)..sealed];
    let trusted = trust
        .key(id)
        .is_some_and(|key| key.verify(&[&header[..sealed]], &header[sealed..]));
    if trusted {
        Ok(())
    } else {
        Err(BadResult::Untrusted {
            key: id.iter().map(|b| format!("{b:02x}")).collect(),
        })
    }
}

/// Checks the header of the result at `path`: sealed by a key of `trust`, for the crop whose
/// manifest hashes to `manifest_sha`.
pub(crate) fn check_header(
    path: &Path,
    manifest_sha: &[u8; 32],
    trust: &Trust,
) -> Result<(), BadResult> {
    let mut file =
        crate::shared_fs::open_regular(path).map_err(|e| BadResult::Read(e.to_string()))?;
    sealed_header(&mut file, manifest_sha, trust).map(|_| ())
}

/// Reads and checks the result at `path`, which must be batch `batch` of `cases` cases of the
/// crop whose manifest hashes to `manifest_sha`, with outputs `outputs`, sealed by a key of
/// `trust`.
pub(crate) fn read(
    path: &Path,
    manifest_sha: &[u8; 32],
    trust: &Trust,
    batch: u64,
    cases: usize,
    outputs: &[xyz_abi::Output],
) -> Result<ReadResult, BadResult> {
    let mut file =
        crate::shared_fs::open_regular(path).map_err(|e| BadResult::Read(e.to_string()))?;
    let header = sealed_header(&mut file, manifest_sha, trust)?;
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
    if len > MAX_PAYLOAD {
        return Err(BadResult::Corrupt);
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
    let mut payload = payload_buffer(len)?;
    read_exact(&mut file, &mut payload)?;
    if Sha256::digest(&payload).as_slice() != &header[72..104] {
        return Err(BadResult::Corrupt);
    }
    decode(&payload, cases, failed, outputs)
}

/// Decodes a payload whose checksum matched, of a batch of `cases` cases with `failed` failed
/// ones, as the header or index says, with outputs `outputs`.
pub(crate) fn decode(
    payload: &[u8],
    cases: usize,
    failed: u64,
    outputs: &[xyz_abi::Output],
) -> Result<ReadResult, BadResult> {
    // The checksum matched: what follows was written by `write`, so a decoding error means a
    // writer that disagrees with this reader.
    let decode = |message: String| BadResult::Mismatch {
        expected: "a payload this version of xyz reads".into(),
        found: message,
    };
    let p: Payload<'_> = postcard::from_bytes(payload).map_err(|e| decode(e.to_string()))?;
    if p.cols.len() != outputs.len() {
        return Err(decode(format!(
            "{} output columns where {} were due",
            p.cols.len(),
            outputs.len()
        )));
    }
    let mut cols = Vec::with_capacity(outputs.len());
    for (o, bytes) in outputs.iter().zip(&p.cols) {
        let mut col = Column::new(o.ty);
        bytes
            .read_into(&mut col, cases * o.elements())
            .map_err(decode)?;
        cols.push(col);
    }
    if p.failures.len() as u64 != failed {
        return Err(decode(format!(
            "{} failures where the header says {failed}",
            p.failures.len()
        )));
    }
    let mut failures = Vec::with_capacity(p.failures.len());
    let mut last = None;
    for (pos, kind, message) in p.failures {
        let pos = usize::try_from(pos).unwrap_or(usize::MAX);
        if pos >= cases || last.is_some_and(|l| pos <= l) {
            return Err(decode(format!("a failure at position {pos}")));
        }
        last = Some(pos);
        failures.push((pos, kind, message.into_owned()));
    }
    let took = Duration::from_millis(p.took_ms);
    let host = p.host.into_owned();
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
    use crate::keys::{ResultKey, Trust};

    fn key() -> ResultKey {
        ResultKey::derived(&[5u8; 32])
    }

    fn trust() -> Trust {
        Trust::of(Some(key()), Vec::new())
    }
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
        let path = write(dir.path(), &sha, 4, &sample(), None, &key())
            .unwrap()
            .unwrap();
        let name = NameInfo::parse(path.file_name().unwrap().to_str().unwrap()).unwrap();
        assert_eq!((name.batch, name.failed, name.took_ms), (4, 1, 1500));
        let back = read(&path, &sha, &trust(), 4, 3, &outputs()).unwrap();
        assert_eq!(back.output, sample());
        assert_eq!(back.host, crate::shared_fs::host_name());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn the_first_commit_of_a_batch_wins() {
        let dir = tempfile::tempdir().unwrap();
        let committed = tempfile::tempdir().unwrap();
        let link = committed.path().join("4");
        let sha = [7u8; 32];
        let first = write(dir.path(), &sha, 4, &sample(), Some(&link), &key()).unwrap();
        let path = first.expect("committed");
        assert_eq!(std::fs::read(&link).unwrap(), std::fs::read(&path).unwrap());
        let second = write(dir.path(), &sha, 4, &sample(), Some(&link), &key()).unwrap();
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
        let path = write(dir.path(), &sha, 4, &sample(), None, &key())
            .unwrap()
            .unwrap();
        let good = std::fs::read(&path).unwrap();
        let outs = outputs();
        assert_eq!(
            read(&path, &[8u8; 32], &trust(), 4, 3, &outs).unwrap_err(),
            BadResult::Stale
        );
        // Sealed by a key this reader does not trust; relabelled for another crop; the
        // format before seals.
        let other = Trust::of(Some(ResultKey::derived(&[6u8; 32])), Vec::new());
        assert!(matches!(
            read(&path, &sha, &other, 4, 3, &outs).unwrap_err(),
            BadResult::Untrusted { .. }
        ));
        assert!(check_header(&path, &sha, &other).is_err());
        check_header(&path, &sha, &trust()).unwrap();
        let mut relabelled = good.clone();
        relabelled[8..40].copy_from_slice(&[8u8; 32]);
        std::fs::write(&path, &relabelled).unwrap();
        assert!(matches!(
            read(&path, &[8u8; 32], &trust(), 4, 3, &outs).unwrap_err(),
            BadResult::Untrusted { .. }
        ));
        let mut old = good.clone();
        old[..8].copy_from_slice(b"xyzres02");
        std::fs::write(&path, &old).unwrap();
        assert!(matches!(
            read(&path, &sha, &trust(), 4, 3, &outs).unwrap_err(),
            BadResult::Mismatch { .. }
        ));
        std::fs::write(&path, &good).unwrap();
        assert!(matches!(
            read(&path, &sha, &trust(), 5, 3, &outs).unwrap_err(),
            BadResult::Mismatch { .. }
        ));
        std::fs::write(&path, &good[..good.len() - 3]).unwrap();
        assert_eq!(
            read(&path, &sha, &trust(), 4, 3, &outs).unwrap_err(),
            BadResult::Truncated
        );
        std::fs::write(&path, &good[..20]).unwrap();
        assert_eq!(
            read(&path, &sha, &trust(), 4, 3, &outs).unwrap_err(),
            BadResult::Truncated
        );
        let mut flipped = good.clone();
        let last = flipped.len() - 9;
        flipped[last] ^= 0x10;
        std::fs::write(&path, &flipped).unwrap();
        assert_eq!(
            read(&path, &sha, &trust(), 4, 3, &outs).unwrap_err(),
            BadResult::Corrupt
        );
        let mut foreign = good.clone();
        foreign[..8].copy_from_slice(b"PK\x03\x04zip!");
        std::fs::write(&path, &foreign).unwrap();
        assert_eq!(
            read(&path, &sha, &trust(), 4, 3, &outs).unwrap_err(),
            BadResult::NotAResult
        );
    }

    #[test]
    fn a_result_that_claims_a_huge_payload_is_refused_before_reading_it() {
        let dir = tempfile::tempdir().unwrap();
        let sha = [7u8; 32];
        let path = write(dir.path(), &sha, 4, &sample(), None, &key())
            .unwrap()
            .unwrap();
        let good = std::fs::read(&path).unwrap();
        for claim in [8u64 << 30, 1 << 40] {
            let mut bytes = good.clone();
            bytes[64..72].copy_from_slice(&claim.to_le_bytes());
            // Sealed again, as a holder of the key could.
            let tag = key().seal(&[&bytes[..SEALED]]);
            bytes[SEALED..HEADER].copy_from_slice(&tag);
            std::fs::write(&path, &bytes).unwrap();
            // As long as it claims to be, and sparse.
            let file = std::fs::File::options().write(true).open(&path).unwrap();
            file.set_len(HEADER as u64 + claim).unwrap();
            assert_eq!(
                read(&path, &sha, &trust(), 4, 3, &outputs()).unwrap_err(),
                BadResult::Corrupt
            );
        }
    }

    #[test]
    fn only_result_names_parse() {
        for bad in [
            "batch-1.xyzr",
            "batch-x_f0_t1_d1.xyzr",
            ".tmp-h-1-2",
            "batch-1_f0_t1_d1_e.xyzr",
            "batch-1_f0_t1_d1_gxyz.xyzr",
            "batch-1_f0_t1_d1_g0_g1.xyzr",
            "batch-1_f0_t1_d1.xyzrr",
        ] {
            assert_eq!(NameInfo::parse(bad), None, "{bad}");
        }
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: 300,
                failure_persistence: None,
                ..ProptestConfig::default()
            })]

            #[test]
            fn a_damaged_result_is_refused_never_misread(
                edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
                cut in any::<prop::sample::Index>(),
                truncate in any::<bool>(),
            ) {
                let dir = tempfile::tempdir().unwrap();
                let sha = [7u8; 32];
                let path = write(dir.path(), &sha, 4, &sample(), None, &key()).unwrap().unwrap();
                let original = std::fs::read(&path).unwrap();
                let mut bytes = original.clone();
                damage(&mut bytes, &edits, cut, truncate);
                std::fs::write(&path, &bytes).unwrap();
                match read(&path, &sha, &trust(), 4, 3, &outputs()) {
                    // Accepted only if the damage changed nothing.
                    Ok(r) => {
                        prop_assert_eq!(&bytes, &original);
                        prop_assert_eq!(r.output.failures, sample().failures);
                    }
                    Err(e) => prop_assert!(!e.to_string().is_empty()),
                }
            }
        }
    }
}
