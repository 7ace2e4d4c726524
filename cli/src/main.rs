//! The `xyz` binary. Everything is in the `xyz_cli` library.

fn main() -> std::process::ExitCode {
    xyz_cli::main_impl()
}
