//! Keys: this user's secret, and the key results are authenticated with.
//!
//! The secret is 32 random bytes in `$XYZ_CACHE_KEY`, else `$XDG_CONFIG_HOME/xyz/cache-key`,
//! else `~/.config/xyz/cache-key`, made `0600` on first use and refused if anyone else may read
//! or write it. It authenticates the compiled-module cache, and it is never shown: what a
//! colleague is given, to trust results grown on this account, is the [`ResultKey`] derived
//! from it (HMAC-SHA256 of the secret over a label), from which the secret cannot be had back.
//!
//! A [`ResultKey`] seals each result file and pack with an HMAC-SHA256 tag; a reader accepts a
//! result only if the key that sealed it is one of its [`Trust`]: its own, and the keys it was
//! given (`--trust-key FILE`). A result is named by its key's ID, the first 8 bytes of the
//! key's SHA-256, in hex.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// What a result key is derived from the secret with.
const RESULT_LABEL: &[u8] = b"xyz result key 1";
/// How a result key file opens.
const FILE_MAGIC: &str = "xyz-result-key-1";

/// A key that seals results, and its ID.
#[derive(Clone, PartialEq, Eq)]
pub struct ResultKey {
    key: [u8; 32],
    id: [u8; 8],
}

impl std::fmt::Debug for ResultKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ResultKey({})", self.id_hex())
    }
}

/// Why a result key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// There is no secret: no place for it (no home directory), or one others may read.
    #[error(
        "no key to seal results with: xyz keeps one in ~/.config/xyz/cache-key (or \
         $XDG_CONFIG_HOME/xyz/cache-key, or the file $XYZ_CACHE_KEY names), made on first use \
         and readable by this user alone; there is none, no home directory to make it in, or \
         one others may read"
    )]
    NoSecret,
    /// A key file that could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// A key file that does not hold a key.
    #[error(
        "{}: not a result key (a line `{FILE_MAGIC} HEX`, as `xyz key --export FILE` writes)",
        path.display()
    )]
    NotAKey {
        /// The file.
        path: PathBuf,
    },
}

impl ResultKey {
    fn new(key: [u8; 32]) -> ResultKey {
        let digest = Sha256::digest(key);
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        ResultKey { key, id }
    }

    /// This user's result key, derived from the secret (made on first use).
    pub fn own() -> Result<ResultKey, KeyError> {
        let secret = user_key().ok_or(KeyError::NoSecret)?;
        Ok(ResultKey::derived(&secret))
    }

    /// The result key of `secret`.
    pub fn derived(secret: &[u8; 32]) -> ResultKey {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(RESULT_LABEL);
        ResultKey::new(mac.finalize().into_bytes().into())
    }

    /// The key in `path`, as [`ResultKey::export`] writes it.
    pub fn from_file(path: &Path) -> Result<ResultKey, KeyError> {
        let text = crate::shared_fs::read_regular_to_string(path, 4096).map_err(|source| {
            KeyError::Read {
                path: path.to_path_buf(),
                source,
            }
        })?;
        let not_a_key = || KeyError::NotAKey {
            path: path.to_path_buf(),
        };
        let hex = text
            .trim()
            .strip_prefix(FILE_MAGIC)
            .map(str::trim)
            .ok_or_else(not_a_key)?;
        let bytes = decode_hex(hex).ok_or_else(not_a_key)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| not_a_key())?;
        Ok(ResultKey::new(key))
    }

    /// The key as a file holds it: one line, `xyz-result-key-1 HEX`.
    pub fn export(&self) -> String {
        format!("{FILE_MAGIC} {}\n", hex(&self.key))
    }

    /// The key's ID.
    pub fn id(&self) -> [u8; 8] {
        self.id
    }

    /// The key's ID, in hex.
    pub fn id_hex(&self) -> String {
        hex(&self.id)
    }

    /// The tag of `parts`, end to end.
    pub(crate) fn seal(&self, parts: &[&[u8]]) -> [u8; 32] {
        self.mac(parts).finalize().into_bytes().into()
    }

    /// Whether `tag` is the tag of `parts`, end to end (compared in constant time).
    pub(crate) fn verify(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        self.mac(parts).verify_slice(tag).is_ok()
    }

    fn mac(&self, parts: &[&[u8]]) -> Hmac<Sha256> {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        for p in parts {
            mac.update(p);
        }
        mac
    }
}

/// The keys whose results a reader accepts: its own (if it has one), and those it was given.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    own: Option<ResultKey>,
    others: Vec<ResultKey>,
}

impl Trust {
    /// This user's own key alone, where there is one.
    pub fn own() -> Trust {
        Trust {
            own: ResultKey::own().ok(),
            others: Vec::new(),
        }
    }

    /// These keys: `own` seals what is written, and all are accepted.
    pub fn of(own: Option<ResultKey>, others: Vec<ResultKey>) -> Trust {
        Trust { own, others }
    }

    /// Also accepts results sealed by `key`.
    pub fn with(mut self, key: ResultKey) -> Trust {
        self.others.push(key);
        self
    }

    /// The key that seals what this process writes.
    pub fn sealer(&self) -> Result<&ResultKey, KeyError> {
        self.own.as_ref().ok_or(KeyError::NoSecret)
    }

    /// The accepted key of ID `id`.
    pub fn key(&self, id: &[u8]) -> Option<&ResultKey> {
        self.own
            .iter()
            .chain(&self.others)
            .find(|k| k.id.as_slice() == id)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// A few random bits for temporary names.
fn nonce() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b)
}

/// Where this user's key lives: `$XYZ_CACHE_KEY`, else `$XDG_CONFIG_HOME/xyz/cache-key`, else
/// `~/.config/xyz/cache-key`.
fn key_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("XYZ_CACHE_KEY").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("xyz").join("cache-key"));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(home_of_user)?;
    Some(home.join(".config").join("xyz").join("cache-key"))
}

/// This user's home directory, as the password database gives it: for a process started with
/// no `HOME` (some batch systems start jobs so), whose results must still be sealed.
fn home_of_user() -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt as _;
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 << 10];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r writes the entry into `entry` and its strings into `buf`, whose size is
    // given; `found` points at `entry` on success. The strings are read before `buf` is dropped.
    unsafe {
        let uid = libc::geteuid();
        if libc::getpwuid_r(uid, &mut entry, buf.as_mut_ptr(), buf.len(), &mut found) != 0
            || found.is_null()
            || entry.pw_dir.is_null()
        {
            return None;
        }
        let dir = std::ffi::CStr::from_ptr(entry.pw_dir);
        let dir = std::ffi::OsStr::from_bytes(dir.to_bytes());
        (!dir.is_empty()).then(|| PathBuf::from(dir))
    }
}

/// This user's secret key, made on first use. `None` when there is no place for it, or when
/// the key file could be read or written by anyone else.
pub fn user_key() -> Option<[u8; 32]> {
    let path = key_path()?;
    if let Some(key) = read_key(&path) {
        return Some(key);
    }
    let dir = path.parent()?;
    create_private_dir(dir).ok()?;
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).ok()?;
    // Made whole under a private name, then linked into place: of several processes making
    // the key at once, one link wins and every process reads the winner's.
    let tmp = dir.join(format!(".cache-key.tmp-{}-{}", std::process::id(), nonce()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let made = options.open(&tmp).and_then(|mut f| {
        f.write_all(&key)?;
        f.sync_all()
    });
    let linked = made.and_then(|()| std::fs::hard_link(&tmp, &path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Some(key),
        Err(_) => read_key(&path),
    }
}

/// The key in `path`, if it is a 32-byte regular file that only this user may read or write.
fn read_key(path: &Path) -> Option<[u8; 32]> {
    let file = crate::shared_fs::open_regular(path).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() != 32 {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me || meta.mode() & 0o077 != 0 {
            return None;
        }
    }
    let mut key = [0u8; 32];
    (&file).read_exact(&mut key).ok()?;
    Some(key)
}

/// Makes `dir` and its missing parents, readable and writable by this user alone.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_keys_are_derived_exported_and_read_back() {
        let a = ResultKey::derived(&[1u8; 32]);
        assert_eq!(a, ResultKey::derived(&[1u8; 32]));
        assert_ne!(a, ResultKey::derived(&[2u8; 32]));
        assert_ne!(a.key, [1u8; 32], "the secret is not the key");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, a.export()).unwrap();
        assert_eq!(ResultKey::from_file(&path).unwrap(), a);
        for bad in [
            "",
            "xyz-result-key-1 zz",
            "xyz-result-key-1 00ff",
            "other 00",
        ] {
            std::fs::write(&path, bad).unwrap();
            let err = ResultKey::from_file(&path).unwrap_err().to_string();
            assert!(err.contains("not a result key"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_user_without_home_has_the_home_the_password_database_gives() {
        // Every user this runs as has an entry; root's is /root.
        let home = home_of_user().unwrap();
        assert!(home.is_absolute(), "{}", home.display());
    }

    #[test]
    fn a_tag_verifies_only_with_its_key_and_its_bytes() {
        let (a, b) = (
            ResultKey::derived(&[1u8; 32]),
            ResultKey::derived(&[2u8; 32]),
        );
        let tag = a.seal(&[b"head", b"er"]);
        assert!(a.verify(&[b"header"], &tag));
        assert!(!a.verify(&[b"headex"], &tag));
        assert!(!b.verify(&[b"header"], &tag));
        let trust = Trust::of(Some(a.clone()), vec![]);
        assert_eq!(trust.key(&a.id()), Some(&a));
        assert_eq!(trust.key(&b.id()), None);
        assert_eq!(trust.with(b.clone()).key(&b.id()), Some(&b));
    }

    #[cfg(unix)]
    #[test]
    fn a_key_others_may_read_is_not_used() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, [7u8; 32]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_key(&path), Some([7u8; 32]));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(read_key(&path), None);
        std::fs::write(&path, [7u8; 31]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_key(&path), None, "wrong length");
    }
}
