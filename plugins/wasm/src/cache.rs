//! The on-disk cache of compiled modules.
//!
//! Loading a cached module runs native code that wasmtime does not check, so only xyz writes
//! here: the directory is created private to the user, entries are written under a temporary
//! name and renamed into place, and an entry that fails to load is recompiled and replaced.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use wasmtime::{Engine, Module};

/// The cache entry for a module with `sha256` on `engine`.
pub(crate) fn entry(dir: &Path, engine: &Engine, sha256: &str) -> PathBuf {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    dir.join(format!("{sha256}-{:016x}.cwasm", h.finish()))
}

/// The module from the cache, if a usable entry is there.
pub(crate) fn load(engine: &Engine, path: &Path) -> Option<Module> {
    if !path.is_file() {
        return None;
    }
    // SAFETY: entries are written only by `store` below, from `Module::serialize` of the same
    // engine configuration (the file name carries the compatibility hash).
    unsafe { Module::deserialize_file(engine, path) }.ok()
}

/// Writes `module` to the cache; failures only cost a recompile next time.
pub(crate) fn store(module: &Module, path: &Path) {
    let Ok(bytes) = module.serialize() else {
        return;
    };
    let Some(dir) = path.parent() else { return };
    if create_private_dir(dir).is_err() {
        return;
    }
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(&bytes)?;
        f.sync_all()
    });
    if written.is_err() || std::fs::rename(&tmp, path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}
