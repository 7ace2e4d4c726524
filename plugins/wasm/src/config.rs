//! Settings of the WebAssembly host.

use std::path::PathBuf;
use std::time::Duration;

/// How WebAssembly functions are compiled, cached and confined. Build with [`WasmConfig::new`]
/// and the setters, each of which documents its default.
#[derive(Debug, Clone)]
pub struct WasmConfig {
    pub(crate) memory_limit: u64,
    pub(crate) deadline: Option<Duration>,
    pub(crate) cache_dir: Option<PathBuf>,
    pub(crate) nan_canonicalization: bool,
    pub(crate) max_instances: u32,
    pub(crate) real_clocks: bool,
}

/// Default cap on an instance's linear memory: 1 GiB.
pub const DEFAULT_MEMORY_LIMIT: u64 = 1 << 30;

/// Default deadline of one call: 10 minutes.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(600);

impl Default for WasmConfig {
    fn default() -> Self {
        WasmConfig::new()
    }
}

impl WasmConfig {
    /// The defaults: 1 GiB of memory per instance, a 10-minute deadline per call, the user's
    /// cache directory, no NaN canonicalization.
    pub fn new() -> WasmConfig {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
        WasmConfig {
            memory_limit: DEFAULT_MEMORY_LIMIT,
            deadline: Some(DEFAULT_DEADLINE),
            cache_dir: default_cache_dir(),
            nan_canonicalization: false,
            max_instances: 2 * cores + 8,
            real_clocks: false,
        }
    }

    /// Lets WASI modules see the host's clocks and randomness (default off: the clocks start
    /// at zero for each case and the randomness is seeded from the case, so a case gives the
    /// same result on every run).
    pub fn real_clocks(&mut self, yes: bool) -> &mut Self {
        self.real_clocks = yes;
        self
    }

    /// Caps each instance's linear memory at `bytes` (default 1 GiB). A case that grows past
    /// it fails with a memory error.
    pub fn memory_limit(&mut self, bytes: u64) -> &mut Self {
        self.memory_limit = bytes.max(64 << 10);
        self
    }

    /// Stops any call that runs longer than `deadline` (default 10 minutes); `None` turns
    /// deadlines off, which also removes the interruption checks from the compiled code and so
    /// makes tight loops faster. The runner keeps calls short (milliseconds) by sizing chunks,
    /// so the deadline is in effect the longest one case may take.
    pub fn deadline(&mut self, deadline: Option<Duration>) -> &mut Self {
        self.deadline = deadline;
        self
    }

    /// Where compiled modules are cached (default `$XYZ_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/xyz/modules`, else `~/.cache/xyz/modules`); `None` turns the cache off.
    pub fn cache_dir(&mut self, dir: Option<PathBuf>) -> &mut Self {
        self.cache_dir = dir;
        self
    }

    /// Makes every NaN a float operation produces the canonical NaN (default off), so results
    /// are bit-identical across CPUs.
    pub fn nan_canonicalization(&mut self, yes: bool) -> &mut Self {
        self.nan_canonicalization = yes;
        self
    }

    /// How many instances may be alive at once (default twice the cores, plus 8): the size of
    /// the pooling allocator.
    pub fn max_instances(&mut self, n: u32) -> &mut Self {
        self.max_instances = n.max(1);
        self
    }
}

fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("XYZ_CACHE_DIR") {
        return (!dir.is_empty()).then(|| PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("xyz").join("modules"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".cache").join("xyz").join("modules"))
}
