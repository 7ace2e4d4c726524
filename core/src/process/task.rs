//! A call handed to another process as one message, and its reply: what a task pool (a Python
//! executor, a cluster's futures) carries when it evaluates chunks of cases far from the
//! process that runs the sweep.
//!
//! The bytes are the worker protocol's frames (see the `wire` module): a call is an `Eval`
//! frame of argument columns, a reply a `Done` or `Trapped` frame. Every length in them is
//! checked before use, so bytes that arrive damaged are refused, never trusted.

use std::io;

use xyz_abi::Signature;

use super::wire;
use crate::function::{Function, Instance, Trap};
use crate::value::{Column, Columns, EvalOutput, FailureKind};

/// The message that asks for the cases in `args`.
pub fn encode_call(args: &Columns) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    wire::write_eval(&mut bytes, args)?;
    Ok(bytes)
}

/// The cases a call message asks for, as argument columns of `sig`.
pub fn decode_call(mut bytes: &[u8], sig: &Signature) -> io::Result<Columns> {
    let mut args = Columns {
        n: 0,
        cols: sig.args.iter().map(|a| Column::new(a.ty)).collect(),
    };
    let mut buf = Vec::new();
    if !wire::read_eval(&mut bytes, &mut buf, &mut args)? {
        return Err(wire::bad("an empty call"));
    }
    Ok(args)
}

/// The reply to a call: the outputs and failures of its cases, or the trap that ended it.
pub fn encode_reply(result: Result<&EvalOutput, &Trap>) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    match result {
        Ok(out) => wire::write_done(&mut bytes, out)?,
        Err(trap) => wire::write_trapped(&mut bytes, trap)?,
    }
    Ok(bytes)
}

/// Reads a reply into `out`, already shaped for the call's cases by [`EvalOutput::reset`]
/// with `sig`'s outputs: `Ok(Ok(()))` when the cases were evaluated, `Ok(Err(trap))` when the
/// call trapped.
pub fn decode_reply(
    mut bytes: &[u8],
    sig: &Signature,
    out: &mut EvalOutput,
) -> io::Result<Result<(), Trap>> {
    let mut buf = Vec::new();
    wire::read_reply(&mut bytes, &mut buf, &sig.outputs, out)
}

/// Evaluates the call `call` with `instance` (made anew from `function` when `None`, and
/// dropped again after a trap) and gives the reply.
pub fn evaluate(
    function: &dyn Function,
    instance: &mut Option<Box<dyn Instance>>,
    call: &[u8],
) -> io::Result<Vec<u8>> {
    let sig = function.signature();
    let args = decode_call(call, sig)?;
    let mut out = EvalOutput::default();
    out.reset(&sig.outputs, args.n);
    match eval_in(function, instance, &args, &mut out) {
        Ok(()) => encode_reply(Ok(&out)),
        Err(trap) => encode_reply(Err(&trap)),
    }
}

/// Evaluates `args` into `out` (shaped for them) with the instance in `slot`, made from
/// `function` when the slot is empty; a trap (or an instance that could not be made) empties
/// the slot and is given back.
pub(crate) fn eval_in(
    function: &dyn Function,
    slot: &mut Option<Box<dyn Instance>>,
    args: &Columns,
    out: &mut EvalOutput,
) -> Result<(), Trap> {
    let instance = match slot {
        Some(i) => i,
        None => slot.insert(function.instantiate().map_err(|e| Trap {
            kind: FailureKind::Trap,
            message: e.to_string(),
        })?),
    };
    let result = instance.eval(args, out);
    if result.is_err() {
        *slot = None;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::function::ClosureFunction;
    use crate::value::Value;

    fn halve() -> ClosureFunction {
        ClosureFunction::new(
            "halve(x: i64) -> (y: f64)".parse().unwrap(),
            |args| match args {
                [Value::I64(0)] => Err("zero".into()),
                [Value::I64(x)] => Ok(vec![Value::F64(*x as f64 / 2.0)]),
                _ => unreachable!(),
            },
        )
    }

    #[test]
    fn a_call_evaluated_elsewhere_gives_what_it_gives_here() {
        let f = halve();
        let args = Columns {
            n: 3,
            cols: vec![Column::I64(vec![1, 0, 4])],
        };
        let call = encode_call(&args).unwrap();
        let reply = evaluate(&f, &mut None, &call).unwrap();
        let mut out = EvalOutput::default();
        out.reset(&f.signature().outputs, 3);
        decode_reply(&reply, f.signature(), &mut out)
            .unwrap()
            .unwrap();
        assert_eq!(out.cols[0].get(0), Value::F64(0.5));
        assert_eq!(out.cols[0].get(2), Value::F64(2.0));
        assert_eq!(out.errors, vec![(1, "zero".to_string())]);
    }

    #[test]
    fn damaged_messages_are_refused() {
        let f = halve();
        let args = Columns {
            n: 2,
            cols: vec![Column::I64(vec![1, 2])],
        };
        let call = encode_call(&args).unwrap();
        for cut in 0..call.len() {
            assert!(
                evaluate(&f, &mut None, &call[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let other: Signature = "g(x: f64, y: f64) -> (z: f64)".parse().unwrap();
        assert!(decode_call(&call, &other).is_err());
        let reply = evaluate(&f, &mut None, &call).unwrap();
        let mut out = EvalOutput::default();
        out.reset(&other.outputs, 5);
        let damaged = &reply[..reply.len() - 1];
        assert!(decode_reply(damaged, f.signature(), &mut out).is_err());
    }
}
