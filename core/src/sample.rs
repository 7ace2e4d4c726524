//! Sampled spaces: `n` cases drawn with a seed, each sampled argument from a distribution of
//! its own, by plain random sampling or a space-filling design.
//!
//! A design gives `n` points of the unit cube `[0, 1)^d`, one dimension per sampled argument
//! (in the spec's order), and each argument's distribution maps its coordinate to a value:
//!
//! - `random`: independent uniform draws from ChaCha8 seeded with the seed.
//! - `lhs`: a Latin hypercube: in each dimension, each of the `n` strata `[k/n, (k+1)/n)` holds
//!   exactly one point, at a uniform position inside it, the strata shuffled independently.
//! - `sobol`: Sobol's sequence (Joe and Kuo's direction numbers, up to 1000 dimensions), each
//!   dimension Owen-scrambled by a hash seeded from the seed (Burley's method), the bits below
//!   the sequence's 32 filled with uniform noise.
//! - `halton`: Halton's sequence (the `j`-th prime as the base of dimension `j`), each digit
//!   position of each dimension scrambled by a random permutation of the digits.
//!
//! Every step is integer arithmetic or IEEE-exact, and the functions that map to the
//! distributions (`ln`, `exp`, `erfc`) are libm's, the same on every host: a seed gives the
//! same samples on every machine.

use std::fmt;

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use xyz_abi::ScalarType;

use crate::value::Value;

/// The most samples a space may draw.
pub const MAX_SAMPLES: u64 = 10_000_000;

/// How the points of a sampled space are placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// Independent uniform draws.
    #[default]
    Random,
    /// A Latin hypercube.
    Lhs,
    /// Owen-scrambled Sobol's sequence.
    Sobol,
    /// Scrambled Halton's sequence.
    Halton,
}

impl Method {
    const NAMES: [(&'static str, Method); 4] = [
        ("random", Method::Random),
        ("lhs", Method::Lhs),
        ("sobol", Method::Sobol),
        ("halton", Method::Halton),
    ];

    /// The method's name in a spec.
    pub fn name(self) -> &'static str {
        Method::NAMES
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("random", |(n, _)| n)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The distribution one argument is drawn from.
#[derive(Debug, Clone, PartialEq)]
pub enum Distribution {
    /// Uniform between the two bounds.
    Uniform(f64, f64),
    /// Uniform in the logarithm between the two bounds, both positive.
    LogUniform(f64, f64),
    /// Normal with this mean and standard deviation.
    Normal(f64, f64),
    /// Whole numbers from the first to the second, both included, equally likely.
    Integers(i64, i64),
    /// One of these values, equally likely.
    Choice(Vec<Value>),
}

impl Distribution {
    /// The type of the values drawn.
    pub fn ty(&self) -> ScalarType {
        match self {
            Distribution::Uniform(..) | Distribution::LogUniform(..) | Distribution::Normal(..) => {
                ScalarType::F64
            }
            Distribution::Integers(..) => ScalarType::I64,
            Distribution::Choice(values) => values.first().map_or(ScalarType::Str, Value::ty),
        }
    }

    /// The value at `u`, in `(0, 1)`.
    fn at(&self, u: f64) -> Value {
        match self {
            Distribution::Uniform(a, b) => Value::F64(a + (b - a) * u),
            Distribution::LogUniform(a, b) => {
                let (la, lb) = (libm::log(*a), libm::log(*b));
                Value::F64(libm::exp(la + (lb - la) * u).clamp(*a, *b))
            }
            Distribution::Normal(mean, sd) => Value::F64(mean + sd * normal_quantile(u)),
            Distribution::Integers(lo, hi) => {
                let span = (*hi as i128 - *lo as i128 + 1) as f64;
                let k = ((u * span) as i128).min(*hi as i128 - *lo as i128);
                Value::I64((*lo as i128 + k) as i64)
            }
            Distribution::Choice(values) => {
                let k = ((u * values.len() as f64) as usize).min(values.len() - 1);
                values[k].clone()
            }
        }
    }

    /// Reads a distribution from its spec form, `{ uniform = [0.0, 1.0] }` and so on.
    pub fn from_toml(value: &toml::Value) -> Result<Distribution, String> {
        const KINDS: &str = "uniform, loguniform, normal, integers or choice";
        let table = value.as_table().filter(|t| t.len() == 1).ok_or_else(|| {
            format!("expected a table of one entry, {{ KIND = [...] }}, with KIND one of {KINDS}")
        })?;
        let (kind, args) = table.iter().next().expect("one entry");
        let list = args
            .as_array()
            .ok_or_else(|| format!("`{kind}` takes a list, not {args}"))?;
        let pair = |what: &str| -> Result<(f64, f64), String> {
            let nums: Option<Vec<f64>> = list
                .iter()
                .map(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
                .collect();
            match nums.as_deref() {
                Some([a, b]) if a.is_finite() && b.is_finite() => Ok((*a, *b)),
                _ => Err(format!("`{kind}` takes two finite numbers, [{what}]")),
            }
        };
        match kind.as_str() {
            "uniform" => {
                let (a, b) = pair("low, high")?;
                if a >= b {
                    return Err(format!("`uniform` needs low < high, not [{a}, {b}]"));
                }
                if !(b - a).is_finite() {
                    return Err(format!(
                        "`uniform` = [{a:e}, {b:e}] spans more than a float holds: its samples \
                         would not be numbers"
                    ));
                }
                Ok(Distribution::Uniform(a, b))
            }
            "loguniform" => {
                let (a, b) = pair("low, high")?;
                if !(0.0 < a && a < b) {
                    return Err(format!("`loguniform` needs 0 < low < high, not [{a}, {b}]"));
                }
                Ok(Distribution::LogUniform(a, b))
            }
            "normal" => {
                let (mean, sd) = pair("mean, standard deviation")?;
                if sd <= 0.0 {
                    return Err(format!(
                        "`normal` needs a positive standard deviation, not {sd}"
                    ));
                }
                // A draw lies within 40 standard deviations of the mean.
                if !(mean.abs() + 40.0 * sd).is_finite() {
                    return Err(format!(
                        "`normal` = [{mean:e}, {sd:e}] reaches past what a float holds: its \
                         samples would not all be numbers"
                    ));
                }
                Ok(Distribution::Normal(mean, sd))
            }
            "integers" => match list.as_slice() {
                [toml::Value::Integer(lo), toml::Value::Integer(hi)] if lo <= hi => {
                    Ok(Distribution::Integers(*lo, *hi))
                }
                _ => Err(format!(
                    "`integers` takes two whole numbers, [low, high] with low <= high (both \
                     included), not {args}"
                )),
            },
            "choice" => {
                let values = list
                    .iter()
                    .map(|v| crate::combo::scalar_from_toml(v).map_err(|e| e.to_string()))
                    .collect::<Result<Vec<Value>, String>>()?;
                let Some(first) = values.first() else {
                    return Err("`choice` needs at least one value".into());
                };
                if let Some(other) = values.iter().find(|v| v.ty() != first.ty()) {
                    return Err(format!(
                        "`choice` values must be of one type: {first} is {}, {other} is {}",
                        first.ty(),
                        other.ty()
                    ));
                }
                Ok(Distribution::Choice(values))
            }
            other => Err(format!(
                "`{other}` is not a distribution: use one of {KINDS}"
            )),
        }
    }

    /// The distribution's spec form.
    pub fn to_toml(&self) -> toml::Value {
        let (kind, args): (&str, Vec<toml::Value>) = match self {
            Distribution::Uniform(a, b) => ("uniform", vec![(*a).into(), (*b).into()]),
            Distribution::LogUniform(a, b) => ("loguniform", vec![(*a).into(), (*b).into()]),
            Distribution::Normal(m, s) => ("normal", vec![(*m).into(), (*s).into()]),
            Distribution::Integers(lo, hi) => ("integers", vec![(*lo).into(), (*hi).into()]),
            Distribution::Choice(values) => ("choice", values.iter().map(Value::to_toml).collect()),
        };
        let mut t = toml::Table::new();
        t.insert(kind.into(), toml::Value::Array(args));
        toml::Value::Table(t)
    }
}

/// A spec's `[samples]`: how many cases to draw, with what seed and method, and each sampled
/// argument's distribution, in the spec's order (an argument called `n`, `seed`, `method` or
/// `args` is given in `[samples.args]`, after the others).
#[derive(Debug, Clone, PartialEq)]
pub struct Samples {
    /// Cases drawn.
    pub n: u64,
    /// The seed.
    pub seed: u64,
    /// How the points are placed.
    pub method: Method,
    /// The sampled arguments.
    pub args: Vec<(String, Distribution)>,
}

impl Samples {
    /// Reads a spec's `[samples]` table; an error names the field at fault (`n`,
    /// `method`, an argument) and what was expected.
    pub fn from_toml(table: &toml::Table) -> Result<Samples, (String, String)> {
        let field = |name: &str, message: String| (format!("samples.{name}"), message);
        let n = match table.get("n") {
            None => {
                return Err(field(
                    "n",
                    "how many cases to draw is missing: n = 1000".into(),
                ));
            }
            Some(toml::Value::Integer(n)) if (1..=MAX_SAMPLES as i64).contains(n) => *n as u64,
            Some(other) => {
                return Err(field(
                    "n",
                    format!("expected a whole number from 1 to {MAX_SAMPLES}, not {other}"),
                ));
            }
        };
        let seed = match table.get("seed") {
            None => {
                return Err(field(
                    "seed",
                    "a seed is needed, so that the samples can be drawn again: seed = 7".into(),
                ));
            }
            Some(toml::Value::Integer(s)) if *s >= 0 => *s as u64,
            Some(other) => {
                return Err(field(
                    "seed",
                    format!("expected a whole number of at least 0, not {other}"),
                ));
            }
        };
        let method = match table.get("method") {
            None => Method::Random,
            Some(toml::Value::String(m)) => Method::NAMES
                .iter()
                .find(|(name, _)| name == m)
                .map(|(_, m)| *m)
                .ok_or_else(|| {
                    field(
                        "method",
                        format!("`{m}` is not a method: use random, lhs, sobol or halton"),
                    )
                })?,
            Some(other) => {
                return Err(field(
                    "method",
                    format!("expected a string (random, lhs, sobol or halton), not {other}"),
                ));
            }
        };
        let mut args = Vec::new();
        for (name, value) in table {
            if ["n", "seed", "method", "args"].contains(&name.as_str()) {
                continue;
            }
            let dist = Distribution::from_toml(value).map_err(|e| field(name, e))?;
            args.push((name.clone(), dist));
        }
        // Arguments named as the keys above are given in `[samples.args]`.
        match table.get("args") {
            None => {}
            Some(toml::Value::Table(more)) => {
                for (name, value) in more {
                    let dist = Distribution::from_toml(value)
                        .map_err(|e| field(&format!("args.{name}"), e))?;
                    if args.iter().any(|(n, _)| n == name) {
                        return Err(field(
                            &format!("args.{name}"),
                            format!("`{name}` is sampled twice"),
                        ));
                    }
                    args.push((name.clone(), dist));
                }
            }
            Some(other) => {
                return Err(field(
                    "args",
                    format!("expected a table of arguments' distributions, not {other}"),
                ));
            }
        }
        if args.is_empty() {
            return Err((
                "samples".into(),
                "no argument is sampled: give one as x = { uniform = [0.0, 1.0] }".into(),
            ));
        }
        let samples = Samples {
            n,
            seed,
            method,
            args,
        };
        if method == Method::Sobol && samples.args.len() > SOBOL_DIMS {
            return Err(field(
                "method",
                format!(
                    "sobol draws at most {SOBOL_DIMS} arguments, not {}",
                    samples.args.len()
                ),
            ));
        }
        Ok(samples)
    }

    /// The `[samples]` table that reads back as this.
    pub fn to_toml(&self) -> toml::Table {
        let mut t = toml::Table::new();
        t.insert("n".into(), (self.n as i64).into());
        t.insert("seed".into(), (self.seed as i64).into());
        t.insert("method".into(), self.method.name().into());
        let mut args = toml::Table::new();
        for (name, dist) in &self.args {
            args.insert(name.clone(), dist.to_toml());
        }
        t.insert("args".into(), toml::Value::Table(args));
        t
    }

    /// The design: `n` points of `(0, 1)^d`, point-major, `d` the number of sampled arguments.
    pub fn points(&self) -> Vec<f64> {
        let (n, d) = (self.n as usize, self.args.len());
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut points = vec![0.0; n * d];
        match self.method {
            Method::Random => {
                for p in &mut points {
                    *p = open_unit(rng.next_u64());
                }
            }
            Method::Lhs => {
                for j in 0..d {
                    let strata = permutation(&mut rng, n);
                    for (i, k) in strata.into_iter().enumerate() {
                        let jitter = open_unit(rng.next_u64());
                        points[i * d + j] = (k as f64 + jitter) / n as f64;
                    }
                }
            }
            Method::Sobol => {
                let params = sobol::params::JoeKuoD6::standard();
                let seeds: Vec<u32> = (0..d).map(|_| rng.next_u32()).collect();
                let seq = sobol::Sobol::<u32>::new(d, &params);
                for (i, point) in seq.take(n).enumerate() {
                    for (j, x) in point.into_iter().enumerate() {
                        let scrambled = owen_scramble(x, seeds[j]);
                        // 32 bits from the sequence, 21 below them uniform.
                        let low = rng.next_u64() >> 43;
                        let bits = (u64::from(scrambled) << 21) | low;
                        points[i * d + j] = (bits as f64 + 0.5) / (1u64 << 53) as f64;
                    }
                }
            }
            Method::Halton => {
                let bases = primes(d);
                for (j, &base) in bases.iter().enumerate() {
                    let digits = halton_digits(base);
                    let perms: Vec<Vec<u64>> = (0..digits)
                        .map(|_| {
                            permutation(&mut rng, base as usize)
                                .into_iter()
                                .map(|p| p as u64)
                                .collect()
                        })
                        .collect();
                    for i in 0..n {
                        let (mut u, mut scale, mut k) = (0.0f64, 1.0f64, i as u64);
                        for perm in &perms {
                            scale /= base as f64;
                            u += perm[(k % base) as usize] as f64 * scale;
                            k /= base;
                        }
                        points[i * d + j] = u.clamp(f64::MIN_POSITIVE, 1.0 - f64::EPSILON / 2.0);
                    }
                }
            }
        }
        points
    }

    /// The cases drawn: `n` rows, one value per sampled argument, in the spec's order.
    pub fn draw(&self) -> Vec<Vec<Value>> {
        let d = self.args.len();
        self.points()
            .chunks_exact(d.max(1))
            .map(|p| {
                p.iter()
                    .zip(&self.args)
                    .map(|(u, (_, dist))| dist.at(*u))
                    .collect()
            })
            .collect()
    }
}

/// The most dimensions the Sobol direction numbers here cover.
pub const SOBOL_DIMS: usize = 1000;

/// A uniform number in `(0, 1)` from 53 random bits.
fn open_unit(bits: u64) -> f64 {
    ((bits >> 11) as f64 + 0.5) / (1u64 << 53) as f64
}

/// A uniform whole number below `n`, unbiased (Lemire's method).
fn below(rng: &mut ChaCha8Rng, n: u64) -> u64 {
    loop {
        let m = u128::from(rng.next_u64()) * u128::from(n);
        let low = m as u64;
        if low >= n.wrapping_neg() % n {
            return (m >> 64) as u64;
        }
    }
}

/// A uniform permutation of `0..n` (Fisher and Yates).
pub(crate) fn permutation(rng: &mut ChaCha8Rng, n: usize) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = below(rng, i as u64 + 1) as usize;
        p.swap(i, j);
    }
    p
}

/// Nested uniform (Owen) scrambling of a 32-bit fraction, by a hash that permutes each bit
/// given the bits above it (Burley, "Practical Hash-based Owen Scrambling", 2020).
fn owen_scramble(x: u32, seed: u32) -> u32 {
    let mut v = x.reverse_bits();
    v = v.wrapping_add(seed);
    v ^= v.wrapping_mul(0x6c50_b47c);
    v ^= v.wrapping_mul(0xb82f_1e52);
    v ^= v.wrapping_mul(0xc7af_e638);
    v ^= v.wrapping_mul(0x8d22_f6e6);
    v.reverse_bits()
}

/// The first `d` primes.
fn primes(d: usize) -> Vec<u64> {
    let mut found: Vec<u64> = Vec::with_capacity(d);
    let mut k = 2u64;
    while found.len() < d {
        if found
            .iter()
            .take_while(|p| *p * *p <= k)
            .all(|p| !k.is_multiple_of(*p))
        {
            found.push(k);
        }
        k += 1;
    }
    found
}

/// Digits of base `base` that resolve 53 bits.
fn halton_digits(base: u64) -> usize {
    (53.0 / (base as f64).log2()).ceil() as usize
}

/// The standard normal distribution's quantile at `p` in `(0, 1)`: Acklam's rational
/// approximation, refined by one step of Halley's method against libm's `erfc`, to about full
/// double precision.
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const LOW: f64 = 0.024_25;
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let x = if p < LOW {
        tail(libm::sqrt(-2.0 * libm::log(p)))
    } else if p <= 1.0 - LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail(libm::sqrt(-2.0 * libm::log(1.0 - p)))
    };
    // One Halley step: e is the error in probability at x.
    let e = 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2) - p;
    let u = e * libm::sqrt(2.0 * std::f64::consts::PI) * libm::exp(x * x / 2.0);
    x - u / (1.0 + x * u / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(method: Method, n: u64, args: Vec<(&str, Distribution)>) -> Samples {
        Samples {
            n,
            seed: 7,
            method,
            args: args.into_iter().map(|(n, d)| (n.to_string(), d)).collect(),
        }
    }

    fn unit(method: Method, n: u64, d: usize) -> Vec<f64> {
        let args = (0..d)
            .map(|j| {
                (
                    ["a", "b", "c", "e", "f"][j],
                    Distribution::Uniform(0.0, 1.0),
                )
            })
            .collect();
        samples(method, n, args).points()
    }

    const METHODS: [Method; 4] = [Method::Random, Method::Lhs, Method::Sobol, Method::Halton];

    #[test]
    fn quantiles_of_the_normal_are_right_to_the_last_bits() {
        for (p, x) in [
            (0.5, 0.0),
            (0.975, 1.959_963_984_540_054),
            (0.841_344_746_068_542_9, 1.0),
            (1e-10, -6.361_340_902_404_056),
            (0.001, -3.090_232_306_167_813_6),
        ] {
            let got = normal_quantile(p);
            assert!(
                (got - x).abs() <= 1e-12 * x.abs().max(1.0),
                "{p}: {got} vs {x}"
            );
        }
        for k in 1..1000 {
            let p = k as f64 / 1000.0;
            let back = 0.5 * libm::erfc(-normal_quantile(p) / std::f64::consts::SQRT_2);
            assert!((back - p).abs() < 1e-15, "{p}: {back}");
        }
    }

    #[test]
    fn every_method_fills_the_open_cube_and_a_seed_draws_again_the_same() {
        for method in METHODS {
            let a = unit(method, 1000, 3);
            assert_eq!(a.len(), 3000);
            assert!(a.iter().all(|u| *u > 0.0 && *u < 1.0), "{method}");
            assert_eq!(a, unit(method, 1000, 3), "{method}");
            let mut other = samples(method, 1000, vec![("a", Distribution::Uniform(0.0, 1.0))]);
            other.seed = 8;
            assert_ne!(
                other.points(),
                unit(method, 1000, 1),
                "{method}: the seed matters"
            );
        }
    }

    /// The largest gap, over the `d` dimensions, between the empirical and the uniform
    /// distribution function (Kolmogorov's statistic) of each dimension's marginal.
    fn marginal_ks(points: &[f64], d: usize) -> f64 {
        (0..d)
            .map(|j| {
                let mut x: Vec<f64> = points.iter().skip(j).step_by(d).copied().collect();
                x.sort_by(f64::total_cmp);
                let n = x.len() as f64;
                x.iter()
                    .enumerate()
                    .map(|(i, u)| (u - i as f64 / n).abs().max((u - (i + 1) as f64 / n).abs()))
                    .fold(0.0, f64::max)
            })
            .fold(0.0, f64::max)
    }

    /// The largest gap between the share of points in a box `[0, t)^2` of the first two
    /// dimensions and its area, over a grid of boxes: a star discrepancy, approximately.
    fn box_discrepancy(points: &[f64], d: usize) -> f64 {
        let n = (points.len() / d) as f64;
        let mut worst = 0.0f64;
        for a in 1..=20 {
            for b in 1..=20 {
                let (ta, tb) = (a as f64 / 20.0, b as f64 / 20.0);
                let inside = points
                    .chunks_exact(d)
                    .filter(|p| p[0] < ta && p[1] < tb)
                    .count() as f64;
                worst = worst.max((inside / n - ta * tb).abs());
            }
        }
        worst
    }

    #[test]
    fn marginals_are_uniform_and_designs_fill_space_better_than_chance() {
        let n = 4096;
        // Kolmogorov's 1% critical value for n = 4096 is about 1.63 / 64.
        for method in METHODS {
            let ks = marginal_ks(&unit(method, n, 4), 4);
            assert!(ks < 1.63 / 64.0, "{method}: {ks}");
        }
        // A Latin hypercube's marginals are exact to within a stratum.
        assert!(marginal_ks(&unit(Method::Lhs, n, 4), 4) <= 1.0 / n as f64 + 1e-12);
        let random = box_discrepancy(&unit(Method::Random, n, 2), 2);
        for method in [Method::Sobol, Method::Halton] {
            let design = box_discrepancy(&unit(method, n, 2), 2);
            assert!(
                design * 4.0 < random,
                "{method}: {design} vs random {random}"
            );
        }
        // Sobol's first 2^k points put exactly one in each of 2^k equal slices of each axis.
        let sobol = unit(Method::Sobol, 1024, 2);
        for j in 0..2 {
            let mut slots = vec![0; 1024];
            for p in sobol.chunks_exact(2) {
                slots[(p[j] * 1024.0) as usize] += 1;
            }
            assert!(slots.iter().all(|c| *c == 1), "dimension {j}");
        }
    }

    #[test]
    fn distributions_map_the_cube_to_their_values() {
        let s = samples(
            Method::Lhs,
            2000,
            vec![
                ("x", Distribution::Uniform(-2.0, 3.0)),
                ("h", Distribution::LogUniform(1e-3, 1.0)),
                ("z", Distribution::Normal(1.0, 2.0)),
                ("k", Distribution::Integers(1, 10)),
                (
                    "m",
                    Distribution::Choice(vec![
                        Value::Str("euler".into()),
                        Value::Str("rk4".into()),
                    ]),
                ),
            ],
        );
        let rows = s.draw();
        assert_eq!(rows.len(), 2000);
        let col = |j: usize| rows.iter().map(move |r| r[j].clone());
        let f = |v: Value| match v {
            Value::F64(x) => x,
            other => panic!("{other:?}"),
        };
        assert!(col(0).map(f).all(|x| (-2.0..3.0).contains(&x)));
        let h: Vec<f64> = col(1).map(f).collect();
        assert!(h.iter().all(|x| (1e-3..=1.0).contains(x)));
        // Each decade holds a third of a log-uniform sample.
        let low = h.iter().filter(|x| **x < 1e-2).count();
        assert!((600..=734).contains(&low), "{low}");
        let z: Vec<f64> = col(2).map(f).collect();
        let mean = z.iter().sum::<f64>() / z.len() as f64;
        let var = z.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (z.len() - 1) as f64;
        assert!(
            (mean - 1.0).abs() < 0.05 && (var.sqrt() - 2.0).abs() < 0.05,
            "{mean} {var}"
        );
        let mut counts = [0; 11];
        for v in col(3) {
            let Value::I64(k) = v else { panic!() };
            counts[k as usize] += 1;
        }
        assert_eq!(counts[0], 0);
        assert!(counts[1..].iter().all(|c| *c == 200), "{counts:?}");
        let euler = col(4).filter(|v| *v == Value::Str("euler".into())).count();
        assert_eq!(euler, 1000);
    }

    #[test]
    fn specs_are_read_with_errors_that_name_the_field() {
        let parse = |text: &str| {
            let t: toml::Table = toml::from_str(text).unwrap();
            Samples::from_toml(&t)
        };
        let s = parse(
            "n = 10\nseed = 3\nmethod = \"halton\"\nx = { uniform = [0, 1] }\n\
             m = { choice = [\"a\", \"b\"] }",
        )
        .unwrap();
        assert_eq!(
            (s.n, s.seed, s.method, s.args.len()),
            (10, 3, Method::Halton, 2)
        );
        assert_eq!(Samples::from_toml(&s.to_toml()).unwrap(), s);
        // An argument called as a key of the table is given under `args`.
        let s =
            parse("n = 4\nseed = 2\nx = { uniform = [0, 1] }\n[args]\nn = { integers = [1, 3] }")
                .unwrap();
        assert_eq!(s.n, 4);
        assert_eq!(s.args[1], ("n".to_string(), Distribution::Integers(1, 3)));
        assert_eq!(Samples::from_toml(&s.to_toml()).unwrap(), s);
        for (text, field, words) in [
            ("seed = 1\nx = { uniform = [0, 1] }", "samples.n", "missing"),
            (
                "n = 0\nseed = 1\nx = { uniform = [0, 1] }",
                "samples.n",
                "from 1",
            ),
            (
                "n = 5\nx = { uniform = [0, 1] }",
                "samples.seed",
                "seed = 7",
            ),
            (
                "n = 5\nseed = 1\nmethod = \"grid\"\nx = { uniform = [0, 1] }",
                "samples.method",
                "`grid`",
            ),
            ("n = 5\nseed = 1", "samples", "no argument"),
            (
                "n = 5\nseed = 1\nx = { uniform = [1, 0] }",
                "samples.x",
                "low < high",
            ),
            (
                "n = 5\nseed = 1\nx = { loguniform = [0, 1] }",
                "samples.x",
                "0 < low",
            ),
            (
                "n = 5\nseed = 1\nx = { normal = [0, -1] }",
                "samples.x",
                "positive",
            ),
            (
                "n = 5\nseed = 1\nx = { integers = [3, 1] }",
                "samples.x",
                "low <= high",
            ),
            (
                "n = 5\nseed = 1\nx = { choice = [] }",
                "samples.x",
                "at least one",
            ),
            (
                "n = 5\nseed = 1\nx = { choice = [1, \"a\"] }",
                "samples.x",
                "one type",
            ),
            (
                "n = 5\nseed = 1\nx = { gamma = [1, 2] }",
                "samples.x",
                "not a distribution",
            ),
            (
                "n = 5\nseed = 1\nx = [0, 1]",
                "samples.x",
                "a table of one entry",
            ),
        ] {
            let (f, message) = parse(text).unwrap_err();
            assert_eq!(f, field, "{text}");
            assert!(message.contains(words), "{text}: {message}");
        }
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

            #[test]
            fn any_spec_text_is_read_or_refused_never_a_panic(
                text in "[a-z =\\[\\]{}0-9.,\"\\n-]{0,80}",
            ) {
                if let Ok(t) = toml::from_str::<toml::Table>(&text)
                    && let Ok(s) = Samples::from_toml(&t)
                {
                    let small = Samples { n: s.n.min(50), ..s };
                    prop_assert_eq!(small.draw().len() as u64, small.n);
                }
            }
        }
    }
}
