//! Packs: the results of many batches grown by one process, in one file.
//!
//! A process that grows many batches gathers their results and writes them together, so a crop
//! costs a file (and a sync) per pack, not per batch. A pack is written as a result is: under a
//! temporary name, synced, and renamed into place, so a reader sees all of it or none. It is
//! written when it holds [`MAX_BATCHES`] batches or [`MAX_BYTES`] of payload, when
//! [`INTERVAL`] has passed since its first batch was done, and when growing ends: a process
//! killed at any moment loses at most what it grew since its last pack, and leaves nothing that
//! reaps. A pack of one batch is written as a result file of its own.
//!
//! Its name is `pack-GROWER-SEQ.xyzp` (the [grower](super::grower) that wrote it, and a count
//! of its packs). Its content, all integers little endian:
//!
//! ```text
//! magic        8 bytes   "xyzpak02"
//! manifest    32 bytes   SHA-256 of the crop's manifest.toml when the batches were grown
//! batches      u64       batches in the pack
//! length       u64       bytes of the index
//! checksum    32 bytes   SHA-256 of the index
//! key          8 bytes   the ID of the key that sealed it (see [`crate::keys`])
//! tag         32 bytes   HMAC-SHA256 of everything above, with that key: so the index, and
//!                        through its checksums every payload, is the sealer's
//! index:       a postcard-encoded list, one entry per batch: its id, cases, failed cases, end
//!              time (Unix ms), time taken (ms), the offset of its payload from the end of the
//!              index, the payload's length and its SHA-256
//! payloads:    each as a result file holds it (see the `result` module)
//! ```
//!
//! `status` reads the header and index of each pack (a few tens of bytes per batch), and
//! refuses a pack sealed by a key it does not trust before reading more; reap reads each
//! batch's payload and checks it against its own checksum, so one damaged batch costs that
//! batch, not the pack.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

mod packer;

pub(crate) use packer::{Packer, Write};

use super::grower::GrowerId;
use super::result::{self, BadResult, Encoded, NameInfo, Packed, ReadResult};
use crate::keys::{ResultKey, Trust};

const MAGIC: &[u8; 8] = b"xyzpak02";
/// The magic of packs an older xyz wrote, with no seal.
const OLD_MAGIC: &[u8; 8] = b"xyzpak01";
/// The bytes a pack's seal covers, and the whole header.
const SEALED: usize = 8 + 32 + 8 + 8 + 32 + 8;
const HEADER: usize = SEALED + 32;
/// The extension of packs.
pub(crate) const EXT: &str = "xyzp";
/// A pack is written once it holds this many batches.
pub const MAX_BATCHES: usize = 1000;
/// A pack is written once its payloads take this many bytes.
pub const MAX_BYTES: usize = 64 << 20;
/// A pack is written this long after its first batch was done, whether or not another batch
/// is done meanwhile.
pub const INTERVAL: Duration = Duration::from_secs(5);
/// The most bytes an entry of the index takes: seven u64 varints and a checksum.
const MAX_ENTRY: u64 = 7 * 10 + 32;

/// An entry of a pack's index.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Entry {
    batch: u64,
    cases: u64,
    failed: u64,
    end_ms: u64,
    took_ms: u64,
    /// From the end of the index.
    offset: u64,
    len: u64,
    checksum: [u8; 32],
}

/// Whether `name` is a pack's file name, `pack-GROWER-SEQ.xyzp`; the grower if so.
pub(crate) fn parse_name(name: &str) -> Option<GrowerId> {
    let rest = name.strip_prefix("pack-")?.strip_suffix(EXT)?;
    let (grower, seq) = rest.strip_suffix('.')?.split_once('-')?;
    let seq_ok = !seq.is_empty() && seq.len() <= 20 && seq.bytes().all(|b| b.is_ascii_digit());
    GrowerId::parse(grower).filter(|_| seq_ok)
}

/// Results gathered to be written as one pack.
#[derive(Debug, Default)]
pub(crate) struct Pack {
    results: Vec<Encoded>,
    bytes: usize,
    since: Option<Instant>,
}

impl Pack {
    /// Adds a batch's result.
    pub(crate) fn push(&mut self, encoded: Encoded) {
        self.since.get_or_insert_with(Instant::now);
        self.bytes += encoded.payload.len();
        self.results.push(encoded);
    }

    /// Whether the pack is due to be written: full, or its first batch done long enough ago.
    pub(crate) fn is_due(&self) -> bool {
        self.results.len() >= MAX_BATCHES
            || self.bytes >= MAX_BYTES
            || self.since.is_some_and(|t| t.elapsed() >= INTERVAL)
    }

    /// Takes the results gathered, leaving the pack empty.
    pub(crate) fn take(&mut self) -> Pack {
        std::mem::take(self)
    }

    /// The batches gathered.
    pub(crate) fn batches(&self) -> impl Iterator<Item = u64> + '_ {
        self.results.iter().map(|r| r.batch)
    }

    /// Writes the results into `dir`: nothing when there are none, a result file of its own
    /// for one, a pack for more. Returns the file written.
    pub(crate) fn write(
        self,
        dir: &Path,
        manifest_sha: &[u8; 32],
        key: &ResultKey,
    ) -> io::Result<Option<PathBuf>> {
        match self.results.as_slice() {
            [] => Ok(None),
            [one] => result::write_encoded(dir, manifest_sha, one, None, key),
            many => write_pack(dir, manifest_sha, many, None, key).map(|(path, _)| path),
        }
    }

    /// As [`Pack::write`], but commits each batch first by an exclusive hard link in
    /// `committed` (see [`super::claims`]). Returns the results of the batches another
    /// process had committed first: they are left out of what is written, so no batch has two
    /// results.
    pub(crate) fn write_committed(
        self,
        dir: &Path,
        manifest_sha: &[u8; 32],
        committed: &Path,
        key: &ResultKey,
    ) -> io::Result<Vec<Encoded>> {
        let mut lost = Vec::new();
        let mut results = Vec::with_capacity(self.results.len());
        for r in self.results {
            if super::claims::is_committed(committed, r.batch)? {
                lost.push(r);
            } else {
                results.push(r);
            }
        }
        // Links are made all or none; a batch committed by another meanwhile is left out and
        // the rest written again.
        while !results.is_empty() {
            let linked = match results.as_slice() {
                [one] => {
                    let link = super::claims::commit_path(committed, one.batch);
                    vec![result::write_encoded(dir, manifest_sha, one, Some(&link), key)?.is_some()]
                }
                many => write_pack(dir, manifest_sha, many, Some(committed), key)?.1,
            };
            if !linked.contains(&false) {
                break;
            }
            let mut linked = linked.into_iter();
            let (kept, others): (Vec<Encoded>, Vec<Encoded>) = results
                .into_iter()
                .partition(|_| linked.next().unwrap_or(false));
            lost.extend(others);
            results = kept;
        }
        Ok(lost)
    }
}

/// Writes `results` as a pack in `dir`, each batch first committed by a link in `committed`
/// if given: the pack's path if it was placed, and which batches were linked.
fn write_pack(
    dir: &Path,
    manifest_sha: &[u8; 32],
    results: &[Encoded],
    committed: Option<&Path>,
    key: &ResultKey,
) -> io::Result<(Option<PathBuf>, Vec<bool>)> {
    static SEQ: AtomicU64 = AtomicU64::new(1);
    let mut offset = 0u64;
    let entries: Vec<Entry> = results
        .iter()
        .map(|r| {
            let entry = Entry {
                batch: r.batch,
                cases: r.cases,
                failed: r.failed,
                end_ms: r.end_ms,
                took_ms: r.took_ms,
                offset,
                len: r.payload.len() as u64,
                checksum: r.checksum,
            };
            offset += entry.len;
            entry
        })
        .collect();
    let index = postcard::to_allocvec(&entries).map_err(|e| io::Error::other(e.to_string()))?;
    let mut header = Vec::with_capacity(HEADER);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(manifest_sha);
    header.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    header.extend_from_slice(&(index.len() as u64).to_le_bytes());
    header.extend_from_slice(&Sha256::digest(&index));
    header.extend_from_slice(&key.id());
    let tag = key.seal(&[&header]);
    header.extend_from_slice(&tag);
    let mut parts: Vec<&[u8]> = Vec::with_capacity(results.len() + 2);
    parts.push(&header);
    parts.push(&index);
    parts.extend(results.iter().map(|r| r.payload.as_slice()));
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!("pack-{}-{seq}.{EXT}", GrowerId::this_process()));
    let links: Vec<PathBuf> = committed
        .map(|c| {
            results
                .iter()
                .map(|r| super::claims::commit_path(c, r.batch))
                .collect()
        })
        .unwrap_or_default();
    let linked = super::publish_linked(&result::temp_path(dir), &path, &parts, &links)?;
    let placed = !linked.contains(&false);
    Ok((placed.then_some(path), linked))
}

fn le64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b.try_into().expect("8 bytes"))
}

fn read_error(e: io::Error) -> BadResult {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => BadResult::Truncated,
        _ => BadResult::Read(e.to_string()),
    }
}

/// Reads the index of the pack `name` in `dir`, which must hold batches among `1..=batches`
/// of the crop whose manifest hashes to `manifest_sha`: one entry per batch, as the listing of
/// the results holds it.
pub(crate) fn read_index(
    dir: &Path,
    name: &str,
    manifest_sha: &[u8; 32],
    trust: &Trust,
    batches: u64,
) -> Result<Vec<NameInfo>, BadResult> {
    let grower = parse_name(name).ok_or(BadResult::NotAResult)?;
    let mut file = crate::shared_fs::open_regular(&dir.join(name))
        .map_err(|e| BadResult::Read(e.to_string()))?;
    let size = file
        .metadata()
        .map_err(|e| BadResult::Read(e.to_string()))?
        .len();
    let mut header = [0u8; HEADER];
    file.read_exact(&mut header[..8]).map_err(read_error)?;
    if &header[..8] == OLD_MAGIC {
        return Err(BadResult::Mismatch {
            expected: "pack format 2".into(),
            found: "format 1, with no seal (grow its batches again)".into(),
        });
    }
    if &header[..8] != MAGIC {
        return Err(BadResult::NotAResult);
    }
    file.read_exact(&mut header[8..]).map_err(read_error)?;
    // The seal first: nothing of a pack sealed by no key trusted here is read further.
    result::check_seal(&header, trust)?;
    if &header[8..40] != manifest_sha {
        return Err(BadResult::Stale);
    }
    let (count, len) = (le64(&header[40..48]), le64(&header[48..56]));
    let corrupt = || BadResult::Corrupt;
    // Sizes are checked before anything is allocated for them.
    // The index is the entries and their count (a varint of at most 10 bytes).
    if count > batches || len > count.saturating_mul(MAX_ENTRY).saturating_add(10) {
        return Err(corrupt());
    }
    let body = size.saturating_sub(HEADER as u64);
    if len > body {
        return Err(BadResult::Truncated);
    }
    // A pack is written once its payloads reach MAX_BYTES: the last batch may pass it, by at
    // most one batch's payload.
    if body - len > MAX_BYTES as u64 + result::MAX_PAYLOAD {
        return Err(corrupt());
    }
    let mut index = vec![0u8; len as usize];
    file.read_exact(&mut index).map_err(read_error)?;
    if Sha256::digest(&index).as_slice() != &header[56..88] {
        return Err(corrupt());
    }
    let entries: Vec<Entry> = postcard::from_bytes(&index).map_err(|_| corrupt())?;
    let payloads = body - len;
    let start = HEADER as u64 + len;
    let name: Arc<str> = Arc::from(name);
    let mut infos = Vec::with_capacity(entries.len());
    // The payloads follow one another in the order of the index, and end the file.
    let mut next = 0u64;
    for e in entries {
        let in_place = e.offset == next && e.len <= result::MAX_PAYLOAD;
        next = e.offset.saturating_add(e.len);
        if !(1..=batches).contains(&e.batch) || !in_place || e.failed > e.cases {
            return Err(corrupt());
        }
        infos.push(NameInfo {
            batch: e.batch,
            failed: e.failed,
            end_ms: e.end_ms,
            took_ms: e.took_ms,
            grower: Some(grower.clone()),
            packed: Some(Packed {
                name: name.clone(),
                offset: start + e.offset,
                len: e.len,
                cases: e.cases,
                checksum: e.checksum,
            }),
        });
    }
    if infos.len() as u64 != count || next != payloads {
        return Err(corrupt());
    }
    Ok(infos)
}

/// Packs opened for reading, one at a time: reading batches in id order opens each pack about
/// once, and reads it ahead a window of [`READ_AHEAD`] bytes at a time, so a pack of many small
/// batches costs a few reads, not one per batch.
#[derive(Debug, Default)]
pub(crate) struct Reader {
    open: Option<OpenPack>,
}

/// The pack being read, and the window of it read last.
#[derive(Debug)]
struct OpenPack {
    name: Arc<str>,
    file: File,
    /// The pack's length.
    len: u64,
    /// Bytes of the pack from `at`.
    window: Vec<u8>,
    at: u64,
}

/// How much of a pack a read takes at once (more when a payload is larger).
const READ_AHEAD: u64 = 1 << 20;

impl Reader {
    /// The payload of the result `packed`, checked against its checksum.
    fn payload(&mut self, dir: &Path, packed: &Packed) -> Result<Vec<u8>, BadResult> {
        let open = match &mut self.open {
            Some(open) if open.name == packed.name => open,
            _ => {
                let file = crate::shared_fs::open_regular(&dir.join(&*packed.name))
                    .map_err(|e| BadResult::Read(e.to_string()))?;
                let len = file.metadata().map_err(read_error)?.len();
                self.open.insert(OpenPack {
                    name: packed.name.clone(),
                    file,
                    len,
                    window: Vec::new(),
                    at: 0,
                })
            }
        };
        let end = packed
            .offset
            .checked_add(packed.len)
            .ok_or(BadResult::Corrupt)?;
        if end > open.len {
            return Err(read_error(io::ErrorKind::UnexpectedEof.into()));
        }
        let held = open.at + open.window.len() as u64;
        if packed.offset < open.at || end > held {
            let want = packed.len.max(READ_AHEAD.min(open.len - packed.offset));
            open.window = result::payload_buffer(want)?;
            open.at = packed.offset;
            open.file
                .read_exact_at(&mut open.window, packed.offset)
                .map_err(read_error)?;
        }
        let from = (packed.offset - open.at) as usize;
        let payload = &open.window[from..from + packed.len as usize];
        if Sha256::digest(payload).as_slice() != packed.checksum {
            return Err(BadResult::Corrupt);
        }
        Ok(payload.to_vec())
    }

    /// Reads and checks the result `info` (in a pack of `dir`), which must be a batch of
    /// `cases` cases with outputs `outputs`.
    pub(crate) fn read(
        &mut self,
        dir: &Path,
        info: &NameInfo,
        cases: usize,
        outputs: &[xyz_abi::Output],
    ) -> Result<ReadResult, BadResult> {
        let packed = info.packed.as_ref().ok_or(BadResult::NotAResult)?;
        if packed.cases != cases as u64 {
            return Err(BadResult::Mismatch {
                expected: format!("batch {} of {cases} cases", info.batch),
                found: format!("batch {} of {} cases", info.batch, packed.cases),
            });
        }
        let payload = self.payload(dir, packed)?;
        result::decode(&payload, cases, info.failed, outputs)
    }

    /// The result `info` as it was encoded, checked against its checksum, to be written
    /// again.
    pub(crate) fn encoded(&mut self, dir: &Path, info: &NameInfo) -> Result<Encoded, BadResult> {
        let packed = info.packed.as_ref().ok_or(BadResult::NotAResult)?;
        Ok(Encoded {
            batch: info.batch,
            cases: packed.cases,
            failed: info.failed,
            end_ms: info.end_ms,
            took_ms: info.took_ms,
            payload: self.payload(dir, packed)?,
            checksum: packed.checksum,
        })
    }
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
    use crate::runner::BatchOutput;
    use crate::value::{Column, FailureKind};

    const SHA: [u8; 32] = [7u8; 32];

    fn outputs() -> Vec<xyz_abi::Output> {
        "f(a: i64) -> (y: f64, s: str)"
            .parse::<xyz_abi::Signature>()
            .unwrap()
            .outputs
    }

    /// Batch `id`'s output: `id + 1` cases, the second failed.
    fn output(id: u64) -> BatchOutput {
        let n = id as usize + 1;
        BatchOutput {
            n,
            cols: vec![
                Column::F64((0..n).map(|i| (id * 10 + i as u64) as f64).collect()),
                Column::Str((0..n).map(|i| format!("{id}.{i}")).collect()),
            ],
            failures: vec![(1, FailureKind::Panic, format!("batch {id} fails"))],
            took: Duration::from_millis(id),
        }
    }

    fn pack_of(dir: &Path, ids: &[u64]) -> Option<PathBuf> {
        let mut pack = Pack::default();
        for &id in ids {
            pack.push(result::encode(id, &output(id)).unwrap());
        }
        pack.write(dir, &SHA, &key()).unwrap()
    }

    fn name(path: &Path) -> &str {
        path.file_name().unwrap().to_str().unwrap()
    }

    #[test]
    fn a_pack_holds_its_batches_each_checked_on_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = pack_of(dir.path(), &[3, 1, 2]).unwrap();
        assert_eq!(
            parse_name(name(&path)).as_ref(),
            Some(GrowerId::this_process())
        );
        let infos = read_index(dir.path(), name(&path), &SHA, &trust(), 3).unwrap();
        assert_eq!(
            infos
                .iter()
                .map(|i| (i.batch, i.failed))
                .collect::<Vec<_>>(),
            [(3, 1), (1, 1), (2, 1)]
        );
        let mut reader = Reader::default();
        for info in &infos {
            let n = info.batch as usize + 1;
            let back = reader.read(dir.path(), info, n, &outputs()).unwrap();
            assert_eq!(back.output.cols, output(info.batch).cols);
            assert_eq!(back.output.failures, output(info.batch).failures);
        }
        // A batch of another size than the plan's is refused.
        assert!(matches!(
            reader.read(dir.path(), &infos[0], 3, &outputs()),
            Err(BadResult::Mismatch { .. })
        ));
        // Damage to one batch's payload costs that batch only.
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let mut reader = Reader::default();
        let read: Vec<bool> = infos
            .iter()
            .map(|i| {
                let n = i.batch as usize + 1;
                reader.read(dir.path(), i, n, &outputs()).is_ok()
            })
            .collect();
        assert_eq!(read, [true, true, false]);
    }

    #[test]
    fn a_pack_larger_than_a_read_ahead_reads_right_in_any_order() {
        let dir = tempfile::tempdir().unwrap();
        // Batches of about 100 kB each: a pack of 40 spans more than two read-ahead windows.
        let big = |id: u64| {
            let n = 6000 + id as usize;
            BatchOutput {
                n,
                cols: vec![
                    Column::F64((0..n).map(|i| (id as usize * n + i) as f64).collect()),
                    Column::Str((0..n).map(|i| format!("{id}.{i}")).collect()),
                ],
                failures: Vec::new(),
                took: Duration::from_millis(id),
            }
        };
        let mut pack = Pack::default();
        for id in 1..=40 {
            pack.push(result::encode(id, &big(id)).unwrap());
        }
        let path = pack.write(dir.path(), &SHA, &key()).unwrap().unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 2 * READ_AHEAD);
        let infos = read_index(dir.path(), name(&path), &SHA, &trust(), 40).unwrap();
        let mut order: Vec<&NameInfo> = infos.iter().collect();
        let forwards = order.clone();
        order.reverse();
        let backwards = order.clone();
        order.sort_by_key(|i| (i.batch * 7) % 40);
        for order in [forwards, backwards, order] {
            let mut reader = Reader::default();
            for info in order {
                let n = 6000 + info.batch as usize;
                let back = reader.read(dir.path(), info, n, &outputs()).unwrap();
                assert_eq!(back.output.cols, big(info.batch).cols);
            }
        }
        // A pack cut short: the batches past its end are refused, those before it read.
        let len = std::fs::metadata(&path).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len / 2)
            .unwrap();
        let mut reader = Reader::default();
        let read: Vec<bool> = infos
            .iter()
            .map(|i| {
                let n = 6000 + i.batch as usize;
                reader.read(dir.path(), i, n, &outputs()).is_ok()
            })
            .collect();
        assert!(read[0] && !read[39], "{read:?}");
    }

    #[test]
    fn a_committed_pack_leaves_out_what_another_committed_first() {
        let dir = tempfile::tempdir().unwrap();
        let committed = tempfile::tempdir().unwrap();
        // Batch 2 was committed by another worker: its link has a second name, the result.
        let theirs = committed.path().join("their-result");
        std::fs::write(&theirs, b"a result").unwrap();
        std::fs::hard_link(
            &theirs,
            super::super::claims::commit_path(committed.path(), 2),
        )
        .unwrap();
        // Batch 3's link is stale (its result was deleted): it is cleared and committed anew.
        std::fs::write(super::super::claims::commit_path(committed.path(), 3), b"").unwrap();
        let mut pack = Pack::default();
        for id in [1, 2, 3] {
            pack.push(result::encode(id, &output(id)).unwrap());
        }
        let lost = pack
            .write_committed(dir.path(), &SHA, committed.path(), &key())
            .unwrap();
        assert_eq!(lost.iter().map(|r| r.batch).collect::<Vec<_>>(), [2]);
        let files: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        let infos = read_index(dir.path(), &files[0], &SHA, &trust(), 3).unwrap();
        assert_eq!(infos.iter().map(|i| i.batch).collect::<Vec<_>>(), [1, 3]);
        for id in [1, 3] {
            assert!(super::super::claims::is_committed(committed.path(), id).unwrap());
        }
    }

    #[test]
    fn one_batch_is_a_result_file_and_none_is_no_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(pack_of(dir.path(), &[]), None);
        let path = pack_of(dir.path(), &[4]).unwrap();
        let info = NameInfo::parse(name(&path)).expect("a result file's name");
        assert_eq!(info.batch, 4);
        let back = result::read(&path, &SHA, &trust(), 4, 5, &outputs()).unwrap();
        assert_eq!(back.output.cols, output(4).cols);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_foreign_stale_or_damaged_index_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = pack_of(dir.path(), &[1, 2]).unwrap();
        let n = name(&path).to_string();
        assert_eq!(
            read_index(dir.path(), &n, &[8u8; 32], &trust(), 2).unwrap_err(),
            BadResult::Stale
        );
        // Batches beyond the plan: not this crop's pack.
        assert_eq!(
            read_index(dir.path(), &n, &SHA, &trust(), 1).unwrap_err(),
            BadResult::Corrupt
        );
        let good = std::fs::read(&path).unwrap();
        std::fs::write(&path, &good[..50]).unwrap();
        assert_eq!(
            read_index(dir.path(), &n, &SHA, &trust(), 2).unwrap_err(),
            BadResult::Truncated
        );
        let mut flipped = good.clone();
        flipped[HEADER + 1] ^= 0x40;
        std::fs::write(&path, &flipped).unwrap();
        assert_eq!(
            read_index(dir.path(), &n, &SHA, &trust(), 2).unwrap_err(),
            BadResult::Corrupt
        );
        let mut foreign = good.clone();
        foreign[..8].copy_from_slice(b"PK\x03\x04zip!");
        std::fs::write(&path, &foreign).unwrap();
        assert_eq!(
            read_index(dir.path(), &n, &SHA, &trust(), 2).unwrap_err(),
            BadResult::NotAResult
        );
        // A header changed by anyone without the key: refused before anything else is read.
        let mut huge = good.clone();
        huge[48..56].copy_from_slice(&u64::MAX.to_le_bytes());
        std::fs::write(&path, &huge).unwrap();
        assert!(matches!(
            read_index(dir.path(), &n, &SHA, &trust(), 2).unwrap_err(),
            BadResult::Untrusted { .. }
        ));
        // The same by a holder of the key: a count that claims more than the file could hold
        // allocates nothing.
        reseal(&mut huge);
        std::fs::write(&path, &huge).unwrap();
        assert_eq!(
            read_index(dir.path(), &n, &SHA, &trust(), 2).unwrap_err(),
            BadResult::Corrupt
        );
        // A pack sealed by another key, or by none this reader trusts.
        std::fs::write(&path, &good).unwrap();
        let other = Trust::of(Some(ResultKey::derived(&[6u8; 32])), Vec::new());
        let err = read_index(dir.path(), &n, &SHA, &other, 2).unwrap_err();
        assert_eq!(
            err,
            BadResult::Untrusted {
                key: key().id_hex()
            }
        );
        assert!(read_index(dir.path(), &n, &SHA, &other.with(key()), 2).is_ok());
    }

    /// Seals the header of the pack in `bytes` again with the test key, as a holder of it would.
    fn reseal(bytes: &mut [u8]) {
        let tag = key().seal(&[&bytes[..SEALED]]);
        bytes[SEALED..HEADER].copy_from_slice(&tag);
    }

    /// The pack at `path` with its index changed by `edit`, given a fresh checksum and sealed
    /// again (a forgery by a holder of the key, not damage), and the file then set to `size(index length, payloads)` bytes (sparse).
    fn forge(path: &Path, edit: impl FnOnce(&mut Vec<Entry>), size: impl FnOnce(u64, u64) -> u64) {
        let bytes = std::fs::read(path).unwrap();
        let len = le64(&bytes[48..56]) as usize;
        let mut entries: Vec<Entry> = postcard::from_bytes(&bytes[HEADER..HEADER + len]).unwrap();
        let payloads = bytes[HEADER + len..].to_vec();
        edit(&mut entries);
        let index = postcard::to_allocvec(&entries).unwrap();
        let mut out = bytes[..48].to_vec();
        out.extend_from_slice(&(index.len() as u64).to_le_bytes());
        out.extend_from_slice(&Sha256::digest(&index));
        out.extend_from_slice(&key().id());
        out.extend_from_slice(&[0u8; 32]);
        reseal(&mut out);
        out.extend_from_slice(&index);
        out.extend_from_slice(&payloads);
        std::fs::write(path, &out).unwrap();
        let file = File::options().write(true).open(path).unwrap();
        file.set_len(size((HEADER + index.len()) as u64, payloads.len() as u64))
            .unwrap();
    }

    #[test]
    fn an_index_that_claims_huge_or_overlapping_payloads_is_refused_before_reading_them() {
        let dir = tempfile::tempdir().unwrap();
        for claim in [8u64 << 30, 1 << 40, u64::MAX] {
            let path = pack_of(dir.path(), &[1, 2]).unwrap();
            let n = name(&path).to_string();
            // The file made as long as the claim says (a sparse file costs nothing to make).
            forge(
                &path,
                |e| e[1].len = claim,
                |start, _| start.saturating_add(claim).min(1 << 41),
            );
            assert_eq!(
                read_index(dir.path(), &n, &SHA, &trust(), 2).unwrap_err(),
                BadResult::Corrupt,
                "{claim}"
            );
            std::fs::remove_file(&path).unwrap();
        }
        // Two entries over the same bytes, an entry after a gap, bytes past the last entry.
        let edits: [fn(&mut Vec<Entry>); 3] = [|e| e[1].offset = 0, |e| e[1].offset += 1, |_| {}];
        for (i, edit) in edits.into_iter().enumerate() {
            let path = pack_of(dir.path(), &[1, 2]).unwrap();
            let n = name(&path).to_string();
            forge(&path, edit, |start, payloads| {
                start + payloads + u64::from(i == 2)
            });
            assert_eq!(
                read_index(dir.path(), &n, &SHA, &trust(), 2).unwrap_err(),
                BadResult::Corrupt,
                "edit {i}"
            );
            std::fs::remove_file(&path).unwrap();
        }
        // Unchanged, the forger's code reads the pack back.
        let path = pack_of(dir.path(), &[1, 2]).unwrap();
        forge(&path, |_| {}, |start, payloads| start + payloads);
        assert_eq!(
            read_index(dir.path(), name(&path), &SHA, &trust(), 2)
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn only_pack_names_parse() {
        for bad in [
            "pack-.xyzp",
            "pack-00ff-.xyzp",
            "pack-00ff-1.xyzr",
            "pack-xyz-1.xyzp",
            "pack-00ff-1x.xyzp",
            "pack-00ff-1-2.xyzp",
            "batch-1_f0_t1_d1.xyzr",
        ] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
        assert_eq!(
            parse_name("pack-00ff-12.xyzp")
                .as_ref()
                .map(GrowerId::as_str),
            Some("00ff")
        );
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
            fn a_damaged_pack_is_refused_never_misread(
                edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
                cut in any::<prop::sample::Index>(),
                truncate in any::<bool>(),
            ) {
                let dir = tempfile::tempdir().unwrap();
                let path = pack_of(dir.path(), &[1, 2, 3]).unwrap();
                let n = name(&path).to_string();
                let mut bytes = std::fs::read(&path).unwrap();
                result::damage(&mut bytes, &edits, cut, truncate);
                std::fs::write(&path, &bytes).unwrap();
                let Ok(infos) = read_index(dir.path(), &n, &SHA, &trust(), 3) else {
                    return Ok(());
                };
                let mut reader = Reader::default();
                for info in &infos {
                    let cases = info.batch as usize + 1;
                    // Accepted only as written.
                    if let Ok(r) = reader.read(dir.path(), info, cases, &outputs()) {
                        prop_assert_eq!(&r.output.cols, &output(info.batch).cols);
                        prop_assert_eq!(&r.output.failures, &output(info.batch).failures);
                    }
                }
            }

            /// An index forged by a holder of the key, with any batches, offsets, lengths and
            /// counts, and the file any length (sparse): refused, or read back as written,
            /// never past the file or the bound on a payload, never a panic.
            #[test]
            fn a_forged_index_reads_nothing_it_should_not(
                entries in prop::collection::vec(
                    (0u64..5, 0u64..10, 0u64..12, prop_oneof![
                        0u64..400, Just(MAX_BYTES as u64), Just(result::MAX_PAYLOAD + 1),
                        Just(u64::MAX),
                    ]),
                    0..5,
                ),
                extra in prop_oneof![Just(0u64), 0u64..64, Just(1 << 33)],
            ) {
                let dir = tempfile::tempdir().unwrap();
                let path = pack_of(dir.path(), &[1, 2, 3]).unwrap();
                let n = name(&path).to_string();
                forge(
                    &path,
                    |e| {
                        let template = e[0].checksum;
                        *e = entries
                            .iter()
                            .map(|&(batch, cases, failed, len)| Entry {
                                batch,
                                cases,
                                failed,
                                end_ms: 0,
                                took_ms: 0,
                                offset: len / 3,
                                len,
                                checksum: template,
                            })
                            .collect();
                    },
                    |start, payloads| start.saturating_add(payloads).saturating_add(extra),
                );
                let size = std::fs::metadata(&path).unwrap().len();
                let Ok(infos) = read_index(dir.path(), &n, &SHA, &trust(), 3) else {
                    return Ok(());
                };
                let mut reader = Reader::default();
                for info in &infos {
                    let packed = info.packed.as_ref().unwrap();
                    prop_assert!(packed.len <= result::MAX_PAYLOAD);
                    prop_assert!(packed.offset.saturating_add(packed.len) <= size);
                    let cases = info.batch as usize + 1;
                    if let Ok(r) = reader.read(dir.path(), info, cases, &outputs()) {
                        prop_assert_eq!(&r.output.cols, &output(info.batch).cols);
                    }
                }
            }
        }
    }
}
