//! What the engine evaluates: a [`Function`] makes per-worker [`Instance`]s, and an instance
//! evaluates whole chunks of cases, column in, columns out.
//!
//! `xyz-wasm` implements these over WebAssembly modules; [`ClosureFunction`] over a plain Rust
//! closure, for library users and tests.

use std::fmt;

use xyz_abi::Signature;

use crate::value::{Column, Columns, EvalOutput, FailureKind, Value};

/// A function the engine can evaluate. Shared by every worker.
pub trait Function: Send + Sync {
    /// What the function takes and returns.
    fn signature(&self) -> &Signature;

    /// The SHA-256 of the function's code, lowercase hex, recorded in the dataset's
    /// provenance; `None` for functions without code of their own (closures).
    fn sha256(&self) -> Option<&str>;

    /// A fresh instance, for one worker. Called once per worker, and again after a trap.
    fn instantiate(&self) -> Result<Box<dyn Instance>, InstantiateError>;
}

/// One worker's live copy of a function.
pub trait Instance {
    /// Evaluates the `args.n` cases in `args`. On `Ok`, `out` (already shaped by
    /// [`EvalOutput::reset`]) holds every output of the cases that succeeded and the message of
    /// each that failed. On `Err`, the whole call was aborted and this instance must not be used
    /// again: the engine makes a new one and re-runs the chunk case by case.
    fn eval(&mut self, args: &Columns, out: &mut EvalOutput) -> Result<(), Trap>;
}

/// An evaluation aborted by the sandbox or the function: a panic, a deadline, the memory
/// limit, or a fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct Trap {
    /// What kind of failure it was.
    pub kind: FailureKind,
    /// What happened, as precisely as the runtime says.
    pub message: String,
}

/// A function that could not be instantiated for a worker.
#[derive(Debug, thiserror::Error)]
#[error("could not instantiate {function}: {message}")]
pub struct InstantiateError {
    /// The function's name.
    pub function: String,
    /// Why.
    pub message: String,
    /// The underlying error, if any.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// The closure behind a [`ClosureFunction`]: arguments in signature order in, output values
/// out, flattened (an array output of `k` elements gives `k` values), or an error message.
pub type CaseFn = dyn Fn(&[Value]) -> Result<Vec<Value>, String> + Send + Sync;

/// A plain Rust closure as a function.
///
/// ```
/// use xyz_core::{ClosureFunction, Value};
///
/// let add = ClosureFunction::new("add(a: f64, b: f64) -> (sum: f64)".parse()?, |args| {
///     match args {
///         [Value::F64(a), Value::F64(b)] => Ok(vec![Value::F64(a + b)]),
///         _ => Err("unexpected arguments".into()),
///     }
/// });
/// # let _ = add;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ClosureFunction {
    signature: Signature,
    f: std::sync::Arc<CaseFn>,
    sha256: Option<String>,
}

impl ClosureFunction {
    /// Wraps `f`, which must return values of the types `signature` declares.
    pub fn new<F>(signature: Signature, f: F) -> ClosureFunction
    where
        F: Fn(&[Value]) -> Result<Vec<Value>, String> + Send + Sync + 'static,
    {
        ClosureFunction {
            signature,
            f: std::sync::Arc::new(f),
            sha256: None,
        }
    }

    /// Gives the closure an identity, reported as its [`Function::sha256`]: the SHA-256 of
    /// whatever stands for its code, so that it can grow a crop sown with the same identity.
    pub fn with_sha256(mut self, sha256: impl Into<String>) -> ClosureFunction {
        self.sha256 = Some(sha256.into());
        self
    }
}

impl fmt::Debug for ClosureFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClosureFunction")
            .field("signature", &self.signature.to_string())
            .finish()
    }
}

impl Function for ClosureFunction {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn sha256(&self) -> Option<&str> {
        self.sha256.as_deref()
    }

    fn instantiate(&self) -> Result<Box<dyn Instance>, InstantiateError> {
        Ok(Box::new(ClosureInstance {
            signature: self.signature.clone(),
            f: self.f.clone(),
            args: Vec::new(),
        }))
    }
}

struct ClosureInstance {
    signature: Signature,
    f: std::sync::Arc<CaseFn>,
    args: Vec<Value>,
}

impl Instance for ClosureInstance {
    fn eval(&mut self, args: &Columns, out: &mut EvalOutput) -> Result<(), Trap> {
        for i in 0..args.n {
            self.args.clear();
            self.args.extend(args.cols.iter().map(|c| c.get(i)));
            let result =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.f)(&self.args)));
            let values = match result {
                Ok(Ok(values)) => values,
                Ok(Err(message)) => {
                    out.errors.push((i, message));
                    continue;
                }
                Err(payload) => {
                    let message = payload
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "panicked".to_string());
                    out.errors.push((i, format!("panicked: {message}")));
                    continue;
                }
            };
            if let Err(message) = store(&self.signature, &values, i, &mut out.cols) {
                out.errors.push((i, message));
            }
        }
        Ok(())
    }
}

/// Stores a closure's flattened outputs for case `i`, checking their number and types.
fn store(sig: &Signature, values: &[Value], i: usize, cols: &mut [Column]) -> Result<(), String> {
    let expected: usize = sig.outputs.iter().map(|o| o.elements()).sum();
    if values.len() != expected {
        return Err(format!(
            "the closure returned {} values; the signature's outputs take {expected}",
            values.len()
        ));
    }
    let mut at = 0;
    for out in &sig.outputs {
        for v in &values[at..at + out.elements()] {
            if v.ty() != out.ty {
                return Err(format!(
                    "output `{}` must be {}, the closure returned {v}",
                    out.name, out.ty
                ));
            }
        }
        at += out.elements();
    }
    let mut at = 0;
    for (out, col) in sig.outputs.iter().zip(cols.iter_mut()) {
        let k = out.elements();
        for (j, v) in values[at..at + k].iter().enumerate() {
            let p = i * k + j;
            match (&mut *col, v) {
                (Column::I64(c), Value::I64(x)) => c[p] = *x,
                (Column::F64(c), Value::F64(x)) => c[p] = *x,
                (Column::C128(c), Value::C128(x)) => c[p] = *x,
                (Column::Bool(c), Value::Bool(x)) => c[p] = *x,
                (Column::Str(c), Value::Str(x)) => c[p].clone_from(x),
                _ => unreachable!("types checked above"),
            }
        }
        at += k;
    }
    Ok(())
}
