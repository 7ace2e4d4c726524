//! `faulty(mode, x) -> y`: fails on purpose, to show that one failing case fails alone.
//!
//! | `mode` | what happens |
//! |---|---|
//! | `"ok"` | returns `x + 1` |
//! | `"err"` | returns an error |
//! | `"panic"` | panics |
//! | `"loop"` | loops forever (stopped by the host's deadline) |
//! | `"alloc"` | allocates without bound (stopped by the host's memory limit) |
//! | `"abort"` | aborts the process: a trap in WebAssembly, a crash in a native library |

use std::hint::black_box;

/// Returns `x + 1`, or fails as `mode` says.
#[xyz_guest::function(outputs = ["y"])]
pub fn faulty(mode: &str, x: f64) -> Result<f64, String> {
    match mode {
        "ok" => Ok(x + 1.0),
        "err" => Err(format!("refused x = {x}")),
        "panic" => panic!("faulty panics at x = {x}"),
        "loop" => {
            let mut i = 0u64;
            loop {
                i = black_box(i.wrapping_add(1));
            }
        }
        "alloc" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                black_box(&hoard);
            }
        }
        "abort" => std::process::abort(),
        other => Err(format!("unknown mode `{other}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::faulty;

    #[test]
    fn ok_and_err() {
        assert_eq!(faulty("ok", 1.0), Ok(2.0));
        assert_eq!(faulty("err", 1.0), Err("refused x = 1".into()));
    }
}
