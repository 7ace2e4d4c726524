//! `xyz show`: a summary of a dataset xyz wrote, or of a crop's results so far, like xarray's
//! repr.

use serde_json::json;
use xyz_core::{CellState, Column, Dataset};

use super::source::SourceArgs;
use crate::exit_codes;

const AFTER_HELP: &str = "EXAMPLES:
  A dataset:
    xyz show mandel.zarr

  The results of crop `mandel` so far, while it grows (the cells not grown yet are not
  evaluated):
    xyz show mandel";

/// Summarise a dataset xyz wrote, or the results of a crop so far: dims with sizes,
/// coordinates, data variables with types and missing cells, the cells' states, attributes; or
/// list its failed cases.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct ShowCommand {
    #[command(flatten)]
    source: SourceArgs,

    /// Print JSON instead of text
    #[arg(long)]
    json: bool,

    /// List the failed cases instead, each with its arguments and failure
    #[arg(long)]
    failures: bool,
}

/// A few values of a column, like xarray shows them: the first and last three.
fn preview(c: &Column) -> String {
    preview_where(c, |_| true)
}

/// A few values of a variable, as [`preview`], those of cells without a value as `NaN`.
fn preview_var(ds: &Dataset, v: &xyz_core::DataVar) -> String {
    let e = v.elements().max(1);
    preview_where(&v.data, |i| ds.cells.get(i / e) == Some(&CellState::Ok))
}

/// A few values of a column, the value at `i` shown where `has(i)` and `NaN` elsewhere.
fn preview_where(c: &Column, has: impl Fn(usize) -> bool) -> String {
    let n = c.len();
    // Four decimals, as xarray prints them.
    let short = |x: f64| {
        if x.is_finite() && x.fract() != 0.0 {
            format!("{x:.4}").trim_end_matches('0').to_string()
        } else {
            xyz_core::Value::F64(x).to_string()
        }
    };
    let show = |i: usize| match c.get(i) {
        _ if !has(i) => "NaN".to_string(),
        xyz_core::Value::F64(x) => short(x),
        xyz_core::Value::C128(z) => {
            let im = short(z.im);
            let im = im.strip_suffix(".0").unwrap_or(&im);
            let re = short(z.re);
            let re = re.strip_suffix(".0").unwrap_or(&re);
            let sign = if im.starts_with('-') { "" } else { "+" };
            format!("{re}{sign}{im}j")
        }
        v => v.to_string(),
    };
    let parts: Vec<String> = if n <= 6 {
        (0..n).map(show).collect()
    } else {
        let mut v: Vec<String> = (0..3).map(show).collect();
        v.push("...".into());
        v.extend((n - 3..n).map(show));
        v
    };
    parts.join(" ")
}

/// Missing values of a variable: those of the cells without values.
fn missing(ds: &Dataset, var: &xyz_core::DataVar) -> usize {
    ds.cells.iter().filter(|c| **c != CellState::Ok).count() * var.elements()
}

/// The cells' states, counted, as `show` words them.
fn states(ds: &Dataset) -> [(&'static str, u64); 4] {
    let (ok, failed, pending, absent) = ds.counts();
    [
        ("ok", ok),
        ("failed", failed),
        ("not evaluated", pending),
        ("not reached", absent),
    ]
}

/// The failed cells: each one's arguments (its coordinates, then the constants) and failure.
fn failures(ds: &Dataset) -> Vec<(Vec<(String, xyz_core::Value)>, String)> {
    let shape = ds.shape();
    let free = ds.free_attr_names();
    let consts = ds
        .attrs
        .iter()
        .take_while(|(k, _)| !k.starts_with("xyz_"))
        .filter(|(k, _)| !free.contains(k));
    let consts: Vec<(String, xyz_core::Value)> = consts.cloned().collect();
    ds.cells
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == CellState::Failed)
        .map(|(cell, _)| {
            let mut rest = cell;
            let mut args = vec![(String::new(), xyz_core::Value::I64(0)); shape.len()];
            for d in (0..shape.len()).rev() {
                args[d] = (
                    ds.dims[d].name.clone(),
                    ds.dims[d].coords.get(rest % shape[d]),
                );
                rest /= shape[d];
            }
            args.extend(consts.iter().cloned());
            let error = ds
                .errors
                .get(&cell)
                .cloned()
                .unwrap_or_else(|| "(no failure on record)".into());
            (args, error)
        })
        .collect()
}

fn dims_of(ds: &Dataset) -> Vec<(String, usize)> {
    let mut dims: Vec<(String, usize)> = ds
        .dims
        .iter()
        .map(|d| (d.name.clone(), d.coords.len()))
        .collect();
    for v in &ds.vars {
        for d in &v.extra_dims {
            if !dims.iter().any(|(n, _)| *n == d.name) {
                dims.push((d.name.clone(), d.size as usize));
            }
        }
    }
    dims
}

impl ShowCommand {
    pub(crate) fn execute(self) -> anyhow::Result<u8> {
        let source = self.source.open()?;
        let read = source.read()?;
        let ds = read.dataset;
        let name = source.describe();
        if self.failures {
            return self.list_failures(&ds, &name);
        }
        let dims = dims_of(&ds);
        let states = states(&ds);
        if self.json {
            let value = json!({
                "path": self.source.data,
                "grown_batches": read.grown.map(|(grown, batches)| json!({"grown": grown, "batches": batches})),
                "dims": dims.iter().map(|(n, s)| json!({"name": n, "size": s})).collect::<Vec<_>>(),
                "coords": ds.dims.iter().chain(&ds.extra_coords).map(|d| json!({
                    "name": d.name, "type": d.coords.ty().to_string(), "size": d.coords.len(),
                })).chain(ds.aux_coords.iter().map(|a| json!({
                    "name": a.name, "type": a.values.ty().to_string(), "size": a.values.len(),
                    "along": a.dim,
                }))).collect::<Vec<_>>(),
                "data_vars": ds.vars.iter().map(|v| {
                    let mut vdims: Vec<String> = ds.dims.iter().map(|d| d.name.clone()).collect();
                    vdims.extend(v.extra_dims.iter().map(|d| d.name.clone()));
                    json!({"name": v.name, "type": v.ty.to_string(), "dims": vdims,
                           "missing": missing(&ds, v)})
                }).collect::<Vec<_>>(),
                "cells": states
                    .iter()
                    .map(|(k, n)| (k.replace(' ', "_"), json!(n)))
                    .collect::<serde_json::Map<_, _>>(),
                "attrs": ds.attrs.iter().map(|(k, v)| (k.clone(), v.to_json())).collect::<serde_json::Map<_, _>>(),
            });
            println!("{}", serde_json::to_string_pretty(&value)?);
            return Ok(exit_codes::OK);
        }
        match read.grown {
            Some((grown, batches)) => println!(
                "<xyz dataset> {name}: {grown}/{batches} batches grown{}",
                if grown < batches { " so far" } else { "" }
            ),
            None => println!("<xyz dataset> {name}"),
        }
        let dim_list: Vec<String> = dims.iter().map(|(n, s)| format!("{n}: {s}")).collect();
        println!("Dimensions:  ({})", dim_list.join(", "));
        println!("Coordinates:");
        let width = ds
            .dims
            .iter()
            .map(|d| d.name.len())
            .chain(ds.aux_coords.iter().map(|a| a.name.len()))
            .chain(ds.vars.iter().map(|v| v.name.len()))
            .max()
            .unwrap_or(0);
        for d in ds.dims.iter().chain(&ds.extra_coords) {
            println!(
                "  * {:<width$}  ({}) {} {}",
                d.name,
                d.name,
                d.coords.ty(),
                preview(&d.coords)
            );
        }
        for a in &ds.aux_coords {
            println!(
                "    {:<width$}  ({}) {} {}",
                a.name,
                a.dim,
                a.values.ty(),
                preview(&a.values)
            );
        }
        println!("Data variables:");
        for v in &ds.vars {
            let mut vdims: Vec<&str> = ds.dims.iter().map(|d| d.name.as_str()).collect();
            vdims.extend(v.extra_dims.iter().map(|d| d.name.as_str()));
            let m = missing(&ds, v);
            let note = if m > 0 {
                format!(" ({m} missing)")
            } else {
                String::new()
            };
            println!(
                "    {:<width$}  ({}) {} {}{note}",
                v.name,
                vdims.join(", "),
                v.ty,
                preview_var(&ds, v)
            );
        }
        let counts: Vec<String> = states
            .iter()
            .filter(|(k, n)| *n > 0 || *k == "ok")
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        println!("Cells: {}", counts.join(", "));
        if states[1].1 > 0 {
            println!(
                "  (`xyz show {} --failures` lists the failed cases)",
                self.source.data.display()
            );
        }
        if !ds.attrs.is_empty() {
            println!("Attributes:");
            for (k, v) in &ds.attrs {
                println!("    {k}: {v}");
            }
        }
        Ok(exit_codes::OK)
    }

    fn list_failures(&self, ds: &Dataset, name: &str) -> anyhow::Result<u8> {
        let failures = failures(ds);
        if self.json {
            let list: Vec<serde_json::Value> = failures
                .iter()
                .map(|(args, error)| {
                    json!({
                        "args": args
                            .iter()
                            .map(|(k, v)| (k.clone(), v.to_json()))
                            .collect::<serde_json::Map<_, _>>(),
                        "error": error,
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&list)?);
            return Ok(exit_codes::OK);
        }
        if failures.is_empty() {
            println!("no case failed in {name}");
        }
        for (args, error) in &failures {
            let args: Vec<String> = args.iter().map(|(k, v)| format!("{k}={v}")).collect();
            println!("{}: {error}", args.join(", "));
        }
        Ok(exit_codes::OK)
    }
}
