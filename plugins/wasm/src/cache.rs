//! The on-disk cache of compiled modules, and why it can be shared.
//!
//! Loading a compiled module runs native code that wasmtime does not check, and a crop's cache
//! sits in a directory that other users and nodes may write. So no entry is loaded unless it
//! proves that this user's xyz made it from the very module being loaded: each entry carries
//! an HMAC-SHA256 tag, keyed by a secret private to the user (a random 32-byte key in
//! `$XDG_CONFIG_HOME/xyz/cache-key` or `~/.config/xyz/cache-key`, created `0600` on first use,
//! refused if anyone else may read or write it), over the module's SHA-256, the engine's
//! compatibility hash and the compiled bytes. The bytes are read into memory, checked, and
//! only then handed to wasmtime, so what is loaded is what was checked.
//!
//! ```text
//!  0        8                 40
//!  +--------+-----------------+-------------------------------+
//!  |XYZCWASM|  tag (32 bytes) |  Module::serialize() output   |
//!  +--------+-----------------+-------------------------------+
//!  tag = HMAC-SHA256(key, "xyz-cwasm-1" | module sha256 | engine hash | compiled bytes)
//! ```
//!
//! An entry that fails the check (written by another user, by another key, tampered with, or
//! torn) is ignored, and the module is compiled and the entry replaced. Entries are written
//! under a temporary name and renamed into place. Without a key (no home directory) nothing is
//! cached. Entry names carry the engine's compatibility hash (wasmtime version, settings, CPU
//! features), so machines of other kinds sharing a crop each keep their own entry.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use wasmtime::{Engine, Module};

const MAGIC: &[u8; 8] = b"XYZCWASM";
const TAG: usize = 32;
const DOMAIN: &[u8] = b"xyz-cwasm-1";
/// Largest cache entry read: far above any compiled module xyz can load.
const MAX_ENTRY: u64 = 1 << 30;

/// A cache directory and the key that authenticates its entries.
pub(crate) struct Cache {
    dir: PathBuf,
    key: [u8; 32],
}

/// The cache entry of one module on one engine.
pub(crate) struct Entry<'a> {
    cache: &'a Cache,
    path: PathBuf,
    sha256: &'a str,
    engine_hash: u64,
}

impl Cache {
    /// The cache in `dir`, if this user has a usable key.
    pub(crate) fn open(dir: &Path) -> Option<Cache> {
        let key = xyz_core::keys::user_key()?;
        Some(Cache {
            dir: dir.to_path_buf(),
            key,
        })
    }

    /// The entry for a module with `sha256` on `engine`.
    pub(crate) fn entry<'a>(&'a self, engine: &Engine, sha256: &'a str) -> Entry<'a> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        let engine_hash = h.finish();
        Entry {
            cache: self,
            path: self.dir.join(format!("{sha256}-{engine_hash:016x}.cwasm")),
            sha256,
            engine_hash,
        }
    }
}

impl Entry<'_> {
    /// The MAC over this entry's module, engine and `compiled` bytes.
    fn mac(&self, compiled: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.cache.key)
            .expect("HMAC takes keys of any length");
        mac.update(DOMAIN);
        mac.update(self.sha256.as_bytes());
        mac.update(&self.engine_hash.to_le_bytes());
        mac.update(compiled);
        mac
    }

    /// The module from the cache, if an entry is there and this user's xyz made it from this
    /// module for this engine.
    pub(crate) fn load(&self, engine: &Engine) -> Option<Module> {
        let bytes = read_regular(&self.path)?;
        let compiled = self.verified(&bytes)?;
        // SAFETY: the tag proves that this user's xyz wrote these bytes with
        // `Module::serialize` of this module on an engine of this compatibility hash, and the
        // bytes handed over are the bytes checked.
        unsafe { Module::deserialize(engine, compiled) }.ok()
    }

    /// The compiled bytes of `entry`, if its tag checks.
    fn verified<'b>(&self, entry: &'b [u8]) -> Option<&'b [u8]> {
        let rest = entry.strip_prefix(MAGIC.as_slice())?;
        if rest.len() < TAG {
            return None;
        }
        let (tag, compiled) = rest.split_at(TAG);
        self.mac(compiled).verify_slice(tag).ok()?;
        Some(compiled)
    }

    /// Writes `module` to the cache; failures only cost a recompile next time.
    pub(crate) fn store(&self, module: &Module) {
        let Ok(compiled) = module.serialize() else {
            return;
        };
        if xyz_core::keys::create_private_dir(&self.cache.dir).is_err() {
            return;
        }
        let tag = self.mac(&compiled).finalize().into_bytes();
        let tmp = self.cache.dir.join(format!(
            ".{}.tmp-{}-{}",
            self.path
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default(),
            std::process::id(),
            nonce()
        ));
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .and_then(|mut f| {
                f.write_all(MAGIC)?;
                f.write_all(&tag)?;
                f.write_all(&compiled)?;
                f.sync_all()
            });
        if written.is_err() || std::fs::rename(&tmp, &self.path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }

    #[cfg(test)]
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// A few random bits for temporary names.
fn nonce() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b)
}

/// The contents of `path` if it is a regular file of a sane size.
fn read_regular(path: &Path) -> Option<Vec<u8>> {
    xyz_core::shared_fs::read_regular(path, MAX_ENTRY).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(dir: &Path, key: u8) -> Cache {
        Cache {
            dir: dir.to_path_buf(),
            key: [key; 32],
        }
    }

    #[test]
    fn an_entry_loads_only_with_its_key_its_module_and_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let module = Module::new(&engine, "(module (func (export \"f\")))").unwrap();
        let mine = cache(dir.path(), 1);
        let entry = mine.entry(&engine, "aa");
        entry.store(&module);
        assert!(entry.load(&engine).is_some(), "its own entry loads");

        // Another user's key: not proof.
        assert!(
            cache(dir.path(), 2)
                .entry(&engine, "aa")
                .load(&engine)
                .is_none()
        );

        // The same user's entry of another module, renamed onto this one's name.
        let other = mine.entry(&engine, "bb");
        std::fs::rename(entry.path(), other.path()).unwrap();
        assert!(other.load(&engine).is_none(), "bound to its module");
        std::fs::rename(other.path(), entry.path()).unwrap();

        // One flipped byte in the compiled code.
        let mut bytes = std::fs::read(entry.path()).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(entry.path(), &bytes).unwrap();
        assert!(entry.load(&engine).is_none(), "tampered");

        // A bare compiled module, as an older xyz wrote.
        std::fs::write(entry.path(), module.serialize().unwrap()).unwrap();
        assert!(entry.load(&engine).is_none(), "no tag");
    }
}
