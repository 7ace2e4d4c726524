//! `xyz inspect`: check a function (a module or a native library) and print its signature.

use std::path::PathBuf;

use serde_json::json;
use xyz::load::FunctionKind;

use super::EngineOpts;
use crate::exit_codes;

const AFTER_HELP: &str = "EXAMPLES:
  xyz inspect mandel.wasm
  xyz inspect mandel.wasm --json | jq .args";

/// Check a function (a WebAssembly module or a native library) and print its signature:
/// arguments, outputs and their types.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct InspectCommand {
    /// The function: a WebAssembly module (.wasm) or a native library (.so)
    module: PathBuf,

    /// Print JSON instead of text
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    cache: EngineOpts,
}

/// What inspect shows of a function, whatever its kind.
struct Facts {
    kind: &'static str,
    size: u64,
    sha256: String,
    imports: Option<Vec<String>>,
    signature: xyz_abi::Signature,
}

impl InspectCommand {
    fn facts(&self) -> anyhow::Result<Facts> {
        let bytes = xyz_core::read_function_file(&self.module)?;
        let sha256 = xyz_core::sha256_hex(&bytes);
        // Loaded first in a worker, within --load-timeout; a library is never loaded here.
        let signature = self.cache.probe(&self.module, &sha256)?;
        Ok(match FunctionKind::of(&self.module)? {
            FunctionKind::Native => Facts {
                kind: "native library",
                size: bytes.len() as u64,
                sha256,
                imports: None,
                signature,
            },
            FunctionKind::Wasm => {
                let info = xyz::load::module_info(&self.cache.loader()?, &self.module, &sha256)?;
                Facts {
                    kind: "WebAssembly module",
                    size: info.size,
                    sha256: info.sha256,
                    imports: Some(info.imports),
                    signature,
                }
            }
        })
    }

    pub(crate) fn execute(self) -> anyhow::Result<u8> {
        let facts = self.facts()?;
        let sig = &facts.signature;
        if self.json {
            let value = json!({
                "path": self.module,
                "kind": facts.kind,
                "size": facts.size,
                "sha256": facts.sha256,
                "abi_version": xyz_abi::ABI_VERSION,
                "signature": sig.to_string(),
                "name": sig.name,
                "args": sig.args,
                "outputs": sig.outputs,
                "imports": facts.imports,
            });
            println!("{}", serde_json::to_string_pretty(&value)?);
            return Ok(exit_codes::OK);
        }
        println!(
            "module     {} ({}, {} bytes)",
            self.module.display(),
            facts.kind,
            facts.size
        );
        println!("sha256     {}", facts.sha256);
        println!("abi        {}", xyz_abi::ABI_VERSION);
        println!("signature  {sig}");
        for arg in &sig.args {
            println!("  arg      {}: {}", arg.name, arg.ty);
        }
        for out in &sig.outputs {
            let dims: Vec<String> = out
                .dims
                .iter()
                .map(|d| format!("{}={}", d.name, d.size))
                .collect();
            if dims.is_empty() {
                println!("  output   {}: {}", out.name, out.ty);
            } else {
                println!("  output   {}: {} [{}]", out.name, out.ty, dims.join(", "));
            }
        }
        if let Some(imports) = &facts.imports {
            let imports = if imports.is_empty() {
                "none".to_string()
            } else {
                imports.join(", ")
            };
            println!("imports    {imports}");
        }
        Ok(exit_codes::OK)
    }
}
