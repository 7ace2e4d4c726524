//! The worker's side: receiving a function's file and serving calls to it.

use std::io::{self, BufReader, BufWriter, Read, Write};

use super::wire;

use crate::function::{Function, Instance};
use crate::value::{Column, Columns, EvalOutput};

/// Reads the function's file from `input`: the first message a parent sends a worker it
/// [launched](super::ProcessFunction::launch). The worker then loads it and [serves](serve) it over
/// the same `input`, which is read no further than that message.
pub fn receive_module(input: &mut impl Read) -> io::Result<Vec<u8>> {
    wire::read_module(input)
}

/// Serves `function` to a parent over `input` and `output` (a worker process's stdin and
/// stdout) until `input` ends. `function` is `Err` with a message when the worker could not
/// load it; the parent is told, and gets the message in its error.
///
/// A call that traps throws the instance away; the next call gets a fresh one.
pub fn serve(
    function: Result<&dyn Function, String>,
    input: impl Read,
    output: impl Write,
) -> io::Result<()> {
    let mut input = BufReader::with_capacity(1 << 16, input);
    let mut output = BufWriter::with_capacity(1 << 16, output);
    let function = match function {
        Ok(f) => f,
        Err(message) => return wire::write_fatal(&mut output, &message),
    };
    let sig = function.signature();
    wire::write_hello(&mut output, &sig.to_string(), function.sha256())?;
    let mut args = Columns {
        n: 0,
        cols: sig.args.iter().map(|a| Column::new(a.ty)).collect(),
    };
    let mut out = EvalOutput::default();
    let mut instance: Option<Box<dyn Instance>> = None;
    let mut buf = Vec::new();
    loop {
        if !wire::read_eval(&mut input, &mut buf, &mut args)? {
            return Ok(());
        }
        out.reset(&sig.outputs, args.n);
        match super::task::eval_in(function, &mut instance, &args, &mut out) {
            Ok(()) => wire::write_done(&mut output, &out)?,
            Err(trap) => wire::write_trapped(&mut output, &trap)?,
        }
    }
}
