//! `manifest.toml`: what a crop is, readable by people and by every process that grows it.
//!
//! ```toml
//! format = 1
//! name = "mandel"
//! xyz_version = "0.1.0"
//! identity = "…"            # SHA-256 of [function], [plan] and [space], as written
//! output = "/abs/mandel.zarr" # where `xyz reap` writes by default (optional)
//! into = "/abs/study.zarr"    # the dataset `xyz reap` merges into by default (optional)
//!
//! [function]
//! file = "function.wasm"
//! sha256 = "…"
//! signature = "mandel(x: f64, y: f64, maxiter: i64) -> (n: i64)"
//!
//! [plan]
//! cases = 160000
//! batches = 16
//! batchsize = 10000           # as requested at sow (optional)
//! num_batches = 16            # as requested at sow (optional)
//! shuffle = 7                 # the seed of the case order (optional)
//! subset_sha256 = "…"         # only the cases listed in cases.u64, of this SHA-256 (optional)
//!
//! [limits]                    # sandbox limits for every grow (optional)
//! memory = "1073741824"
//! deadline = "600000ms"
//! clocks = "real"             # WASI modules see the host's clocks (optional)
//!
//! [space]                     # the spec's combos, constants, cases and samples, generators
//!                             # expanded (samples are drawn again from their seed)
//! combos = { y = [ … ], x = [ … ] }
//!                             # a combo of more than 4096 numbers is packed, its values'
//!                             # little-endian bytes in base64: x = { f64le = "…" } (or
//!                             # i64le), and the format is 2: parsed, a long list of TOML
//!                             # numbers costs about 200 bytes a value
//! constants = { maxiter = 1000 }
//!
//! [attrs]                     # the spec's free attributes, for the dataset (optional)
//! study = "escape times"
//!
//! [coords]                    # the spec's coordinates of extra dims, expanded (optional)
//! t = [0, 1, 2, 3, 4]
//! ```
//!
//! An adaptive study's crop has its `[adaptive]` section as `[space.adaptive]`, and its
//! `[plan]` only the batch size: its cases come in rounds, each written by the grower that
//! chose it (see the `rounds` module).
//!
//! Results carry the identity; the crop refuses to open when the identity no longer matches
//! what the file says (someone edited it), so results are never reaped against a space they
//! were not grown for.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use xyz_abi::Signature;

use crate::adaptive::Adaptive;
use crate::space::ParamSpace;
use crate::spec::{Limits, Spec};
use crate::value::Value;

/// The manifest format this version writes when no combo is packed; it reads it and
/// [`FORMAT_PACKED`].
pub const FORMAT: i64 = 1;

/// The manifest format of a manifest with packed combos (see the module's doc).
pub const FORMAT_PACKED: i64 = 2;

/// Combos of more numbers than this are packed.
const PACK_ABOVE: usize = 4096;

/// The key of `[space]` that lists the combos in order when some are packed.
const ORDER: &str = "combo_order";

/// The file name of the manifest in a crop directory.
pub const FILE: &str = super::dir::MANIFEST;

/// A parsed manifest.
#[derive(Debug, Clone)]
pub(crate) struct Manifest {
    pub(crate) name: String,
    pub(crate) identity: [u8; 32],
    pub(crate) output: Option<PathBuf>,
    pub(crate) function_file: String,
    pub(crate) sha256: String,
    pub(crate) signature: Signature,
    pub(crate) cases: u64,
    pub(crate) batches: u64,
    pub(crate) batchsize: Option<u64>,
    pub(crate) num_batches: Option<u64>,
    pub(crate) shuffle: Option<u64>,
    /// The SHA-256 of the list of the cases sown, when not all the space's.
    pub(crate) subset_sha256: Option<String>,
    /// The dataset reap merges into by default.
    pub(crate) into: Option<PathBuf>,
    pub(crate) limits: Limits,
    /// Free attributes, for the reaped dataset.
    pub(crate) attrs: Vec<(String, Value)>,
    /// Coordinates of the outputs' extra dims, for the reaped dataset.
    pub(crate) coords: Vec<(String, Vec<Value>)>,
    /// The space as sown; taken (left empty) when the crop opens and binds it.
    pub(crate) space: ParamSpace,
    /// The adaptive study whose rounds the crop grows, if it is one: its points are in the
    /// round files, not in the space.
    pub(crate) adaptive: Option<Adaptive>,
}

fn table(entries: impl IntoIterator<Item = (String, toml::Value)>) -> toml::Table {
    entries.into_iter().collect()
}

fn u64_value(v: u64) -> toml::Value {
    toml::Value::Integer(v as i64)
}

/// The `[space]` table: combos expanded into lists, constants, cases.
fn space_table(space: &ParamSpace) -> Result<toml::Table, String> {
    let mut combos = toml::Table::new();
    for (name, values) in &space.combos {
        let values = values
            .values()
            .map_err(|e| format!("combo `{name}`: {e}"))?;
        let value = match packed(&values) {
            Some(packed) => packed,
            None => toml::Value::Array(values.iter().map(Value::to_toml).collect()),
        };
        combos.insert(name.clone(), value);
    }
    let constants = table(
        space
            .constants
            .iter()
            .map(|(k, v)| (k.clone(), v.to_toml())),
    );
    let cases: Vec<toml::Value> = space
        .cases
        .iter()
        .map(|c| toml::Value::Table(table(c.iter().map(|(k, v)| (k.clone(), v.to_toml())))))
        .collect();
    let mut t = toml::Table::new();
    if combos.values().any(toml::Value::is_table) {
        // Packed combos are written as tables after the others: their order, which is the
        // dims' order, is kept beside them.
        let order = space
            .combos
            .iter()
            .map(|(name, _)| toml::Value::String(name.clone()))
            .collect();
        t.insert(ORDER.into(), toml::Value::Array(order));
    }
    t.insert("combos".into(), toml::Value::Table(combos));
    t.insert("constants".into(), toml::Value::Table(constants));
    if !cases.is_empty() {
        t.insert("cases".into(), toml::Value::Array(cases));
    }
    if let Some(samples) = &space.samples {
        t.insert("samples".into(), toml::Value::Table(samples.to_toml()));
    }
    Ok(t)
}

/// `values` packed, if there are more than [`PACK_ABOVE`] and all are floats or all integers:
/// `{ f64le = "…" }` or `{ i64le = "…" }`, their little-endian bytes in base64.
fn packed(values: &[Value]) -> Option<toml::Value> {
    use base64::Engine as _;
    if values.len() <= PACK_ABOVE {
        return None;
    }
    let mut bytes = Vec::with_capacity(values.len() * 8);
    let key = match values.first()? {
        Value::F64(_) => "f64le",
        Value::I64(_) => "i64le",
        _ => return None,
    };
    for v in values {
        match (key, v) {
            ("f64le", Value::F64(x)) => bytes.extend_from_slice(&x.to_le_bytes()),
            ("i64le", Value::I64(x)) => bytes.extend_from_slice(&x.to_le_bytes()),
            _ => return None,
        }
    }
    let text = base64::engine::general_purpose::STANDARD.encode(bytes);
    Some(toml::Value::Table(table([(
        key.to_string(),
        toml::Value::String(text),
    )])))
}

/// The values of combo `name` if `value` is packed (see [`packed`]); `Ok(None)` if it is
/// not.
fn unpacked(name: &str, value: &toml::Value) -> Result<Option<Vec<Value>>, String> {
    use base64::Engine as _;
    let Some(t) = value.as_table().filter(|t| t.len() == 1) else {
        return Ok(None);
    };
    let (key, text) = t.iter().next().expect("one entry");
    let of: fn([u8; 8]) -> Value = match key.as_str() {
        "f64le" => |b| Value::F64(f64::from_le_bytes(b)),
        "i64le" => |b| Value::I64(i64::from_le_bytes(b)),
        _ => return Ok(None),
    };
    let bad = |why: &str| format!("`space.combos.{name}.{key}`: {why}");
    let text = text.as_str().ok_or_else(|| bad("must be a string"))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| bad(&format!("not base64: {e}")))?;
    if bytes.is_empty() || bytes.len() % 8 != 0 {
        return Err(bad("not a whole number of 8-byte values"));
    }
    Ok(Some(
        bytes
            .chunks_exact(8)
            .map(|c| of(c.try_into().expect("8 bytes")))
            .collect(),
    ))
}

fn identity_of(function: &toml::Value, plan: &toml::Value, space: &toml::Value) -> [u8; 32] {
    let t = table([
        ("function".to_string(), function.clone()),
        ("plan".to_string(), plan.clone()),
        ("space".to_string(), space.clone()),
    ]);
    let text = toml::to_string(&t).expect("a table always serializes");
    Sha256::digest(text.as_bytes()).into()
}

/// What a manifest is made of at sow.
pub(crate) struct NewManifest<'a> {
    pub(crate) name: &'a str,
    pub(crate) function_file: &'a str,
    pub(crate) output: Option<&'a Path>,
    pub(crate) sha256: &'a str,
    pub(crate) signature: &'a Signature,
    pub(crate) plan: &'a super::Plan,
    pub(crate) batchsize: Option<u64>,
    pub(crate) num_batches: Option<u64>,
    pub(crate) limits: &'a Limits,
    pub(crate) space: &'a ParamSpace,
    pub(crate) attrs: &'a [(String, Value)],
    pub(crate) coords: &'a [(String, Vec<Value>)],
    pub(crate) subset_sha256: Option<&'a str>,
    pub(crate) into: Option<&'a Path>,
    pub(crate) adaptive: Option<&'a Adaptive>,
}

impl NewManifest<'_> {
    /// The manifest's text and identity.
    pub(crate) fn render(&self) -> Result<(String, [u8; 32]), String> {
        let function = toml::Value::Table(table([
            (
                "file".to_string(),
                toml::Value::String(self.function_file.into()),
            ),
            (
                "sha256".to_string(),
                toml::Value::String(self.sha256.into()),
            ),
            (
                "signature".to_string(),
                toml::Value::String(self.signature.to_string()),
            ),
        ]));
        // An adaptive crop's cases come in rounds, each in a file of its own.
        let mut plan = match self.adaptive {
            Some(_) => toml::Table::new(),
            None => table([
                ("cases".to_string(), u64_value(self.plan.cases())),
                ("batches".to_string(), u64_value(self.plan.batches())),
            ]),
        };
        if let Some(b) = self.batchsize {
            plan.insert("batchsize".into(), u64_value(b));
        }
        if let Some(k) = self.num_batches {
            plan.insert("num_batches".into(), u64_value(k));
        }
        if let Some(s) = self.plan.shuffle() {
            plan.insert("shuffle".into(), u64_value(s));
        }
        if let Some(sha) = self.subset_sha256 {
            plan.insert("subset_sha256".into(), toml::Value::String(sha.into()));
        }
        let plan = toml::Value::Table(plan);
        let mut space = space_table(self.space)?;
        if let Some(adaptive) = self.adaptive {
            space.insert("adaptive".into(), toml::Value::Table(adaptive.to_toml()));
        }
        let space = toml::Value::Table(space);
        let identity = identity_of(&function, &plan, &space);
        let is_packed = space
            .get("combos")
            .and_then(toml::Value::as_table)
            .is_some_and(|c| c.values().any(toml::Value::is_table));
        let mut doc = toml::Table::new();
        let format = if is_packed { FORMAT_PACKED } else { FORMAT };
        doc.insert("format".into(), toml::Value::Integer(format));
        doc.insert("name".into(), toml::Value::String(self.name.into()));
        doc.insert(
            "xyz_version".into(),
            toml::Value::String(env!("CARGO_PKG_VERSION").into()),
        );
        doc.insert("identity".into(), toml::Value::String(hex(&identity)));
        if let Some(out) = self.output {
            doc.insert(
                "output".into(),
                toml::Value::String(out.to_string_lossy().into_owned()),
            );
        }
        if let Some(into) = self.into {
            doc.insert(
                "into".into(),
                toml::Value::String(into.to_string_lossy().into_owned()),
            );
        }
        doc.insert("function".into(), function);
        doc.insert("plan".into(), plan);
        let mut limits = toml::Table::new();
        if let Some(m) = self.limits.memory {
            limits.insert("memory".into(), toml::Value::String(m.to_string()));
        }
        if self.limits.real_clocks {
            limits.insert("clocks".into(), toml::Value::String("real".into()));
        }
        if let Some(d) = self.limits.deadline {
            limits.insert(
                "deadline".into(),
                toml::Value::String(format!("{}ms", d.as_millis())),
            );
        }
        if !limits.is_empty() {
            doc.insert("limits".into(), toml::Value::Table(limits));
        }
        doc.insert("space".into(), space);
        // Free attributes describe the dataset; they are not part of the crop's identity.
        if !self.attrs.is_empty() {
            let attrs: toml::Table = self
                .attrs
                .iter()
                .map(|(k, v)| (k.clone(), v.to_toml()))
                .collect();
            doc.insert("attrs".into(), toml::Value::Table(attrs));
        }
        // So are the coordinates of extra dims.
        if !self.coords.is_empty() {
            let coords: toml::Table = self
                .coords
                .iter()
                .map(|(k, vs)| {
                    (
                        k.clone(),
                        toml::Value::Array(vs.iter().map(Value::to_toml).collect()),
                    )
                })
                .collect();
            doc.insert("coords".into(), toml::Value::Table(coords));
        }
        let text = format!(
            "# An xyz crop, written by `xyz sow`; every grow and reap reads it. Editing it\n\
             # invalidates the crop: sow again instead.\n{}",
            toml::to_string(&doc).map_err(|e| e.to_string())?
        );
        Ok((text, identity))
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn get<'a>(t: &'a toml::Table, key: &str, path: &str) -> Result<&'a toml::Value, String> {
    t.get(key).ok_or_else(|| format!("`{path}` is missing"))
}

fn get_str(t: &toml::Table, key: &str, path: &str) -> Result<String, String> {
    get(t, key, path)?
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("`{path}` must be a string"))
}

fn get_u64(t: &toml::Table, key: &str, path: &str) -> Result<Option<u64>, String> {
    match t.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_integer()
            .and_then(|i| u64::try_from(i).ok())
            .map(Some)
            .ok_or_else(|| format!("`{path}` must be a whole number")),
    }
}

fn get_table<'a>(t: &'a toml::Table, key: &str) -> Result<&'a toml::Table, String> {
    get(t, key, key)?
        .as_table()
        .ok_or_else(|| format!("`{key}` must be a table"))
}

impl Manifest {
    /// Parses manifest text; the error says which field is wrong.
    pub(crate) fn parse(text: &str) -> Result<Manifest, String> {
        let mut doc: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        match doc.get("format").and_then(toml::Value::as_integer) {
            Some(FORMAT | FORMAT_PACKED) => {}
            Some(other) => {
                return Err(format!(
                    "format {other}, but this xyz reads formats {FORMAT} and {FORMAT_PACKED}: \
                     use the xyz that sowed it, or sow again"
                ));
            }
            None => return Err("`format` is missing".into()),
        }
        get_table(&doc, "space")?;
        // Taken out of the document, not copied: it holds the combos' values.
        let space = doc.remove("space").ok_or("`space` is missing")?;
        let function = get_table(&doc, "function")?;
        let plan = get_table(&doc, "plan")?;
        let identity = identity_of(
            &toml::Value::Table(function.clone()),
            &toml::Value::Table(plan.clone()),
            &space,
        );
        if get_str(&doc, "identity", "identity")? != hex(&identity) {
            return Err(
                "it was edited after sow (its identity no longer matches its contents): sow \
                 again"
                    .into(),
            );
        }
        let signature: Signature = get_str(function, "signature", "function.signature")?
            .parse()
            .map_err(|e| format!("`function.signature`: {e}"))?;
        let toml::Value::Table(mut spec_doc) = space else {
            return Err("`space` must be a table".into());
        };
        let order: Option<Vec<String>> = spec_doc
            .remove(ORDER)
            .map(|v| {
                v.as_array()
                    .and_then(|a| a.iter().map(|n| n.as_str().map(String::from)).collect())
                    .ok_or_else(|| format!("`space.{ORDER}` must be a list of names"))
            })
            .transpose()?;
        // Packed combos stand in the spec as one value of their type, and take their values
        // once it is read.
        let mut long = Vec::new();
        if let Some(toml::Value::Table(combos)) = spec_doc.get_mut("combos") {
            for (name, value) in combos.iter_mut() {
                if let Some(values) = unpacked(name, value)? {
                    *value = toml::Value::Array(vec![values[0].to_toml()]);
                    long.push((name.clone(), values));
                }
            }
        }
        if let Some(limits) = doc.get("limits") {
            spec_doc.insert("limits".into(), limits.clone());
        }
        for key in ["attrs", "coords"] {
            if let Some(v) = doc.get(key) {
                spec_doc.insert(key.into(), v.clone());
            }
        }
        let mut spec = Spec::from_table(spec_doc, Path::new("")).map_err(|e| e.to_string())?;
        for (name, values) in long {
            if let Some((_, combo)) = spec.space.combos.iter_mut().find(|(n, _)| *n == name) {
                *combo = crate::combo::ComboValues::List(values);
            }
        }
        if let Some(order) = order {
            let combos = &mut spec.space.combos;
            let mut sorted = Vec::with_capacity(combos.len());
            for name in &order {
                let at = combos.iter().position(|(n, _)| n == name).ok_or_else(|| {
                    format!("`space.{ORDER}` names `{name}`, which is not a combo")
                })?;
                sorted.push(combos.swap_remove(at));
            }
            if !combos.is_empty() {
                return Err(format!("`space.{ORDER}` leaves out combos"));
            }
            *combos = sorted;
        }
        let need = |v: Option<u64>, path: &str| match (v, &spec.adaptive) {
            (Some(v), _) => Ok(v),
            (None, Some(_)) => Ok(0),
            (None, None) => Err(format!("`{path}` is missing")),
        };
        Ok(Manifest {
            name: get_str(&doc, "name", "name")?,
            identity,
            output: doc
                .get("output")
                .and_then(toml::Value::as_str)
                .map(PathBuf::from),
            function_file: get_str(function, "file", "function.file")?,
            sha256: get_str(function, "sha256", "function.sha256")?,
            signature,
            cases: need(get_u64(plan, "cases", "plan.cases")?, "plan.cases")?,
            batches: need(get_u64(plan, "batches", "plan.batches")?, "plan.batches")?,
            batchsize: get_u64(plan, "batchsize", "plan.batchsize")?,
            num_batches: get_u64(plan, "num_batches", "plan.num_batches")?,
            shuffle: get_u64(plan, "shuffle", "plan.shuffle")?,
            subset_sha256: plan
                .get("subset_sha256")
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| "`plan.subset_sha256` must be a string".to_string())
                })
                .transpose()?,
            into: doc
                .get("into")
                .and_then(toml::Value::as_str)
                .map(PathBuf::from),
            limits: spec.limits,
            space: spec.space,
            attrs: spec.attrs,
            coords: spec.coords,
            adaptive: spec.adaptive,
        })
    }
}
