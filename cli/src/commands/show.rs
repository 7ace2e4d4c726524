//! `xyz show`: a summary of a dataset xyz wrote, like xarray's repr.

use std::path::PathBuf;

use serde_json::json;
use xyz_core::{CellState, Column, Dataset, Format};

use crate::exit_codes;

/// Summarise a dataset xyz wrote: dims with sizes, coordinates, data variables with types and
/// missing cells, attributes.
#[derive(Debug, clap::Args)]
pub(crate) struct ShowCommand {
    /// The dataset (.zarr, .nc, .parquet, .csv or .json)
    data: PathBuf,

    /// Its format, whatever its extension: zarr, netcdf, parquet, csv or json
    #[arg(long, value_name = "FORMAT")]
    format: Option<Format>,

    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
}

/// A few values of a column, like xarray shows them: the first and last three.
fn preview(c: &Column) -> String {
    let n = c.len();
    let show = |i: usize| match c.get(i) {
        // Four significant decimals, as xarray prints them.
        xyz_core::Value::F64(x) if x.is_finite() && x.fract() != 0.0 => {
            let s = format!("{x:.4}");
            s.trim_end_matches('0').to_string()
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

/// Missing values of a variable: NaN and the integer fill value, and for booleans and strings
/// (which cannot say they are missing) the values of cells without values.
fn missing(ds: &Dataset, var: &xyz_core::DataVar) -> usize {
    match &var.data {
        Column::F64(v) => v.iter().filter(|x| x.is_nan()).count(),
        Column::I64(v) => v
            .iter()
            .filter(|x| **x == xyz_core::dataset::MISSING_I64)
            .count(),
        Column::Bool(_) | Column::Str(_) => {
            ds.cells.iter().filter(|c| **c != CellState::Ok).count() * var.elements()
        }
    }
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
        let ds = super::read_dataset(&self.data, self.format)?;
        let dims = dims_of(&ds);
        let (ok, _, _, absent) = ds.counts();
        if self.json {
            let value = json!({
                "path": self.data,
                "dims": dims.iter().map(|(n, s)| json!({"name": n, "size": s})).collect::<Vec<_>>(),
                "coords": ds.dims.iter().map(|d| json!({
                    "name": d.name, "type": d.coords.ty().to_string(), "size": d.coords.len(),
                })).collect::<Vec<_>>(),
                "data_vars": ds.vars.iter().map(|v| {
                    let mut vdims: Vec<String> = ds.dims.iter().map(|d| d.name.clone()).collect();
                    vdims.extend(v.extra_dims.iter().map(|d| d.name.clone()));
                    json!({"name": v.name, "type": v.ty.to_string(), "dims": vdims,
                           "missing": missing(&ds, v)})
                }).collect::<Vec<_>>(),
                "cells": {"with_values": ok, "missing": absent},
                "attrs": ds.attrs.iter().map(|(k, v)| (k.clone(), v.to_json())).collect::<serde_json::Map<_, _>>(),
            });
            println!("{}", serde_json::to_string_pretty(&value)?);
            return Ok(exit_codes::OK);
        }
        println!("<xyz dataset> {}", self.data.display());
        let dim_list: Vec<String> = dims.iter().map(|(n, s)| format!("{n}: {s}")).collect();
        println!("Dimensions:  ({})", dim_list.join(", "));
        println!("Coordinates:");
        let width = ds
            .dims
            .iter()
            .map(|d| d.name.len())
            .chain(ds.vars.iter().map(|v| v.name.len()))
            .max()
            .unwrap_or(0);
        for d in &ds.dims {
            println!(
                "  * {:<width$}  ({}) {} {}",
                d.name,
                d.name,
                d.coords.ty(),
                preview(&d.coords)
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
                preview(&v.data)
            );
        }
        println!("Cells: {ok} with values, {absent} missing");
        if !ds.attrs.is_empty() {
            println!("Attributes:");
            for (k, v) in &ds.attrs {
                println!("    {k}: {v}");
            }
        }
        Ok(exit_codes::OK)
    }
}
