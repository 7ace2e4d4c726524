//! `ring(x, y, a, spins) -> z`: `x + exp(-(x^2 + y^2 - 0.75^2)^2 / a^4)`, a slope with a ring
//! of width `a` and radius 0.75: python-adaptive's 2D tutorial function. `spins` rounds of
//! busy work before it give each call a cost, for timing a study of a slow function.

/// The slope `x` with a ring of width `a` and radius 0.75, after `spins` rounds of work.
#[xyz_guest::function(outputs = ["z"])]
pub fn ring(x: f64, y: f64, a: f64, spins: i64) -> f64 {
    let r2 = x * x + y * y;
    // Work whose result is used, so it is not optimized away, and that leaves z as it is.
    let mut w = r2;
    for _ in 0..spins.max(0) {
        w = (w * 1.000_000_1).sqrt() + 1e-300;
    }
    let z = x + (-(r2 - 0.75 * 0.75).powi(2) / a.powi(4)).exp();
    if w.is_nan() { f64::NAN } else { z }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rings_at_three_quarters() {
        assert_eq!(super::ring(0.0, 0.75, 0.2, 0), 1.0);
        assert_eq!(super::ring(0.0, 0.75, 0.2, 1000), 1.0);
        assert!(super::ring(0.0, 0.0, 0.2, 0) < 1e-3);
    }
}
