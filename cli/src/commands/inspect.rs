//! `xyz inspect`: check a module and print its signature.

use std::path::PathBuf;

use serde_json::json;
use xyz_core::Function as _;

use super::CacheOpts;
use crate::exit_codes;

const AFTER_HELP: &str = "EXAMPLES:
  xyz inspect mandel.wasm
  xyz inspect mandel.wasm --json | jq .args";

/// Check a function module and print its signature: arguments, outputs and their types.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct InspectCommand {
    /// The module (.wasm)
    module: PathBuf,

    /// Print JSON instead of text
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    cache: CacheOpts,
}

impl InspectCommand {
    pub(crate) fn execute(self) -> anyhow::Result<u8> {
        let config = self.cache.config(None);
        let f = xyz_wasm::WasmFunction::load(&self.module, &config)?;
        let sig = f.signature();
        let info = f.info();
        if self.json {
            let value = json!({
                "path": self.module,
                "size": info.size,
                "sha256": info.sha256,
                "abi_version": info.abi_version,
                "signature": sig.to_string(),
                "name": sig.name,
                "args": sig.args,
                "outputs": sig.outputs,
                "imports": info.imports,
            });
            println!("{}", serde_json::to_string_pretty(&value)?);
            return Ok(exit_codes::OK);
        }
        println!("module     {} ({} bytes)", self.module.display(), info.size);
        println!("sha256     {}", info.sha256);
        println!("abi        {}", info.abi_version);
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
        let imports = if info.imports.is_empty() {
            "none".to_string()
        } else {
            info.imports.join(", ")
        };
        println!("imports    {imports}");
        Ok(exit_codes::OK)
    }
}
