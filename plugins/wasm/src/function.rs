//! Loading and checking a module, and the [`WasmFunction`] that makes instances of it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use wasmtime::{
    Config, Engine, ExternType, InstanceAllocationStrategy, InstancePre, Linker, Module, OptLevel,
    PoolingAllocationConfig, Store, ValType,
};
use xyz_abi::{ABI_VERSION, Signature, SignatureError, exports, imports};
use xyz_core::{Function, Instance, InstantiateError};

use crate::cache;
use crate::config::WasmConfig;
use crate::epoch::Ticker;
use crate::instance::{StoreState, WasmInstance};

/// A module that could not be loaded, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", path.display())]
pub struct LoadError {
    /// The module's path.
    pub path: PathBuf,
    /// What is wrong.
    #[source]
    pub kind: LoadErrorKind,
}

/// What is wrong with a module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadErrorKind {
    /// The file could not be read, is no regular file, or is not the file expected.
    #[error(transparent)]
    Read(xyz_core::function_file::FunctionFileErrorKind),
    /// The file is not WebAssembly.
    #[error("not a WebAssembly module (it does not start with the bytes \\0asm)")]
    NotWasm,
    /// wasmtime could not compile the module.
    #[error("could not compile the module")]
    Compile(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The module imports something the sandbox does not give.
    #[error(
        "imports `{module}.{name}` ({kind}), which the sandbox does not provide: an xyz \
         function may import only `xyz.panic` and the functions of WASI preview 1 \
         (`wasi_snapshot_preview1`)"
    )]
    ForbiddenImport {
        /// The import's module.
        module: String,
        /// The import's name.
        name: String,
        /// What kind of item it is.
        kind: String,
    },
    /// A required export is missing or has the wrong type.
    #[error(
        "{problem} `{name}` ({expected}); build the module with the xyz guest kit or against \
         include/xyz.h"
    )]
    BadExport {
        /// The export.
        name: &'static str,
        /// Its expected type.
        expected: &'static str,
        /// `does not export` or `exports the wrong type for`.
        problem: &'static str,
    },
    /// The module speaks another version of the ABI.
    #[error("implements xyz ABI version {found}, but this xyz speaks version {expected}")]
    AbiVersion {
        /// The module's version.
        found: u32,
        /// This host's version.
        expected: u32,
    },
    /// The module's signature does not parse.
    #[error("declares an invalid signature `{text}`: {source}")]
    BadSignature {
        /// The text it declared.
        text: String,
        /// Why it is invalid.
        #[source]
        source: SignatureError,
    },
    /// The module could not be instantiated or called while checking it.
    #[error("could not be set up: {message}")]
    Setup {
        /// What went wrong.
        message: String,
    },
}

/// What `xyz inspect` shows about a module.
#[derive(Debug, Clone)]
pub struct ModuleInfo {
    /// SHA-256 of the module's bytes.
    pub sha256: String,
    /// Size of the module in bytes.
    pub size: u64,
    /// Its ABI version.
    pub abi_version: u32,
    /// Its imports, as `module.name`.
    pub imports: Vec<String>,
    /// Whether the compiled code came from the cache.
    pub cached: bool,
}

/// A WebAssembly module as an xyz [`Function`]. See the [crate docs](crate).
pub struct WasmFunction {
    pre: InstancePre<StoreState>,
    engine: Engine,
    signature: Signature,
    info: ModuleInfo,
    memory_limit: u64,
    deadline: Option<Duration>,
    /// Whether the module imports WASI.
    wasi: bool,
    /// Whether its WASI clocks and randomness are the host's.
    real_clocks: bool,
    _ticker: Option<Ticker>,
}

impl std::fmt::Debug for WasmFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmFunction")
            .field("signature", &self.signature.to_string())
            .field("sha256", &self.info.sha256)
            .finish()
    }
}

fn engine(config: &WasmConfig) -> Result<Engine, LoadErrorKind> {
    let mut c = Config::new();
    c.cranelift_opt_level(OptLevel::Speed);
    c.epoch_interruption(config.deadline.is_some());
    c.cranelift_nan_canonicalization(config.nan_canonicalization);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_core_instances(config.max_instances)
        .total_memories(config.max_instances)
        .total_tables(config.max_instances)
        .max_memories_per_module(1)
        .max_tables_per_module(1)
        // Leave a page of room so the store's own limiter is what refuses growth, with a
        // message that names the limit.
        .max_memory_size((config.memory_limit + (64 << 10)) as usize);
    c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&c).map_err(|e| LoadErrorKind::Setup {
        message: format!("{e:#}"),
    })
}

fn expect_func(
    module: &Module,
    name: &'static str,
    params: &[ValType],
    results: &[ValType],
    expected: &'static str,
) -> Result<(), LoadErrorKind> {
    let bad = |problem| LoadErrorKind::BadExport {
        name,
        expected,
        problem,
    };
    match module.get_export(name) {
        None => Err(bad("does not export")),
        Some(ExternType::Func(f)) => {
            let same = |a: &[ValType], b: Vec<ValType>| {
                a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| ValType::eq(x, y))
            };
            if same(params, f.params().collect()) && same(results, f.results().collect()) {
                Ok(())
            } else {
                Err(bad("exports the wrong type for"))
            }
        }
        Some(_) => Err(bad("exports the wrong type for")),
    }
}

/// Checks a module's imports and exports; gives its imports, and whether it uses WASI.
fn check_module(module: &Module) -> Result<(Vec<String>, bool), LoadErrorKind> {
    let mut list = Vec::new();
    let mut wasi = false;
    for import in module.imports() {
        let is_wasi =
            import.module() == crate::wasi::MODULE && matches!(import.ty(), ExternType::Func(_));
        wasi |= is_wasi;
        let ok = is_wasi
            || import.module() == imports::MODULE
                && import.name() == imports::PANIC
                && matches!(import.ty(), ExternType::Func(ref f)
                if f.params().len() == 2
                    && f.params().all(|p| matches!(p, ValType::I32))
                    && f.results().len() == 0);
        if !ok {
            let kind = match import.ty() {
                ExternType::Func(_) => "a function",
                ExternType::Memory(_) => "a memory",
                ExternType::Table(_) => "a table",
                ExternType::Global(_) => "a global",
                _ => "an item",
            };
            return Err(LoadErrorKind::ForbiddenImport {
                module: import.module().to_string(),
                name: import.name().to_string(),
                kind: kind.to_string(),
            });
        }
        list.push(format!("{}.{}", import.module(), import.name()));
    }
    const I32: ValType = ValType::I32;
    let expected: [(&str, &[ValType], &[ValType], &str); 5] = [
        (exports::ABI_VERSION, &[], &[I32], "a function () -> i32"),
        (exports::SIGNATURE, &[], &[I32], "a function () -> i32"),
        (
            exports::ALLOC,
            &[I32, I32],
            &[I32],
            "a function (i32, i32) -> i32",
        ),
        (
            exports::FREE,
            &[I32, I32, I32],
            &[],
            "a function (i32, i32, i32)",
        ),
        (exports::EVAL, &[I32], &[I32], "a function (i32) -> i32"),
    ];
    for (name, params, results, shape) in expected {
        expect_func(module, name, params, results, shape)?;
    }
    match module.get_export(exports::MEMORY) {
        Some(ExternType::Memory(m)) if !m.is_64() => Ok((list, wasi)),
        Some(_) => Err(LoadErrorKind::BadExport {
            name: exports::MEMORY,
            expected: "a 32-bit linear memory",
            problem: "exports the wrong type for",
        }),
        None => Err(LoadErrorKind::BadExport {
            name: exports::MEMORY,
            expected: "its linear memory",
            problem: "does not export",
        }),
    }
}

impl WasmFunction {
    /// Loads, checks and compiles (or loads from the cache) the module at `path`.
    pub fn load(path: &Path, config: &WasmConfig) -> Result<WasmFunction, LoadError> {
        WasmFunction::load_expecting(path, config, None)
    }

    /// Like [`load`](Self::load), refusing the module before compiling it unless its SHA-256
    /// is `sha256` (when given).
    pub fn load_expecting(
        path: &Path,
        config: &WasmConfig,
        sha256: Option<&str>,
    ) -> Result<WasmFunction, LoadError> {
        let err = |kind| LoadError {
            path: path.to_path_buf(),
            kind,
        };
        let (bytes, found) = xyz_core::function_file::read_verified(path, sha256)
            .map_err(|e| err(LoadErrorKind::Read(e.kind)))?;
        WasmFunction::compile(&bytes, found, config).map_err(err)
    }

    /// Checks and compiles the module in `bytes`.
    pub fn from_bytes(bytes: &[u8], config: &WasmConfig) -> Result<WasmFunction, LoadErrorKind> {
        WasmFunction::compile(bytes, xyz_core::sha256_hex(bytes), config)
    }

    /// Checks and compiles the module in `bytes`, whose SHA-256 is `sha256`.
    fn compile(
        bytes: &[u8],
        sha256: String,
        config: &WasmConfig,
    ) -> Result<WasmFunction, LoadErrorKind> {
        if !bytes.starts_with(b"\0asm") {
            return Err(LoadErrorKind::NotWasm);
        }
        let engine = engine(config)?;
        let cache = config.cache_dir.as_deref().and_then(cache::Cache::open);
        let entry = cache.as_ref().map(|c| c.entry(&engine, &sha256));
        let cached = entry.as_ref().and_then(|e| e.load(&engine));
        let was_cached = cached.is_some();
        let module = match cached {
            Some(m) => m,
            None => {
                let m = Module::from_binary(&engine, bytes)
                    .map_err(|e| LoadErrorKind::Compile(e.into_boxed_dyn_error()))?;
                if let Some(e) = &entry {
                    e.store(&m);
                }
                m
            }
        };
        let (imports, wasi) = check_module(&module)?;
        let mut linker = Linker::new(&engine);
        linker
            .func_wrap(imports::MODULE, imports::PANIC, crate::instance::host_panic)
            .map_err(|e| LoadErrorKind::Setup {
                message: format!("{e:#}"),
            })?;
        if wasi {
            wasmtime_wasi::p1::add_to_linker_sync(&mut linker, StoreState::wasi)
                .and_then(|_| {
                    // The one call that waits is xyz's own, so a deadline reaches it.
                    linker.allow_shadowing(true).func_wrap(
                        crate::wasi::MODULE,
                        "poll_oneoff",
                        crate::wasi::poll::poll_oneoff,
                    )?;
                    Ok(())
                })
                .map_err(|e| LoadErrorKind::Setup {
                    message: format!("{e:#}"),
                })?;
        }
        let pre = linker
            .instantiate_pre(&module)
            .map_err(|e| LoadErrorKind::Setup {
                message: format!("{e:#}"),
            })?;
        let mut f = WasmFunction {
            pre,
            engine: engine.clone(),
            signature: Signature {
                name: String::new(),
                args: Vec::new(),
                outputs: Vec::new(),
            },
            info: ModuleInfo {
                sha256,
                size: bytes.len() as u64,
                abi_version: 0,
                imports,
                cached: was_cached,
            },
            memory_limit: config.memory_limit,
            deadline: config.deadline,
            wasi,
            real_clocks: config.real_clocks,
            _ticker: None,
        };
        let (version, text) = f.probe()?;
        f.info.abi_version = version;
        if version != ABI_VERSION {
            return Err(LoadErrorKind::AbiVersion {
                found: version,
                expected: ABI_VERSION,
            });
        }
        f.signature = text
            .parse()
            .map_err(|source| LoadErrorKind::BadSignature { text, source })?;
        if config.deadline.is_some() {
            f._ticker = Some(Ticker::start(&engine));
        }
        Ok(f)
    }

    /// Reads the ABI version and the signature text from a fresh instance.
    fn probe(&self) -> Result<(u32, String), LoadErrorKind> {
        let setup = |e: wasmtime::Error| LoadErrorKind::Setup {
            message: format!("{e:#}"),
        };
        let mut store = self.new_store();
        // Probing has no deadline of its own beyond a generous one: start-up code is short.
        store.set_epoch_deadline(u64::MAX / 2);
        let instance = self.pre.instantiate(&mut store).map_err(setup)?;
        crate::instance::initialize(&instance, &mut store).map_err(setup)?;
        let version = instance
            .get_typed_func::<(), i32>(&mut store, exports::ABI_VERSION)
            .and_then(|f| f.call(&mut store, ()))
            .map_err(setup)? as u32;
        if version != ABI_VERSION {
            return Ok((version, String::new()));
        }
        let ptr = instance
            .get_typed_func::<(), i32>(&mut store, exports::SIGNATURE)
            .and_then(|f| f.call(&mut store, ()))
            .map_err(setup)? as u32 as usize;
        let memory = instance
            .get_memory(&mut store, exports::MEMORY)
            .ok_or_else(|| LoadErrorKind::Setup {
                message: "no memory".into(),
            })?;
        let data = memory.data(&store);
        let rest = data.get(ptr..).unwrap_or(&[]);
        let end = rest
            .iter()
            .take(1 << 16)
            .position(|b| *b == 0)
            .ok_or_else(|| LoadErrorKind::Setup {
                message: "xyz_signature returned no NUL-terminated text".into(),
            })?;
        let text = std::str::from_utf8(&rest[..end])
            .map_err(|_| LoadErrorKind::Setup {
                message: "xyz_signature returned text that is not UTF-8".into(),
            })?
            .to_string();
        Ok((version, text))
    }

    pub(crate) fn new_store(&self) -> Store<StoreState> {
        let mut store = Store::new(
            &self.engine,
            StoreState::new(self.memory_limit, self.wasi, self.real_clocks),
        );
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_trap();
        store
    }

    /// Facts about the module, for display.
    pub fn info(&self) -> &ModuleInfo {
        &self.info
    }
}

impl Function for WasmFunction {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn sha256(&self) -> Option<&str> {
        Some(&self.info.sha256)
    }

    fn instantiate(&self) -> Result<Box<dyn Instance>, InstantiateError> {
        let store = self.new_store();
        let wasi_sha256 = self.wasi.then(|| self.info.sha256.as_bytes().to_vec());
        WasmInstance::new(
            store,
            &self.pre,
            &self.signature,
            self.deadline,
            wasi_sha256,
        )
        .map(|i| Box::new(i) as Box<dyn Instance>)
        .map_err(|e| InstantiateError {
            function: self.signature.name.clone(),
            message: format!("{e:#}"),
            source: Some(e.into_boxed_dyn_error()),
        })
    }
}
