//! `peak(x, a) -> y`: `x + a^2 / (a^2 + x^2)`, a line with a peak of width `a` at 0:
//! python-adaptive's 1D tutorial function, flat almost everywhere and sharp in one place.

/// The line `x` with a Lorentzian peak of width `a` at 0.
#[xyz_guest::function(outputs = ["y"])]
pub fn peak(x: f64, a: f64) -> f64 {
    x + a * a / (a * a + x * x)
}

#[cfg(test)]
mod tests {
    #[test]
    fn peaks_at_zero() {
        assert_eq!(super::peak(0.0, 0.01), 1.0);
        assert!(super::peak(0.5, 0.01) < 0.501);
    }
}
