//! `resolvent(e, eta, level) -> (g, dos, wave[site])`: the Green's function of one complex
//! `level` at the energy `e + i eta`, the density of states it gives, and a plane wave of that
//! amplitude over four sites: complex arguments and outputs, scalar and array.

use xyz_guest::Complex64;

/// `g = 1 / (e + i eta - level)`, `dos = -Im g / pi` and `wave[k] = g exp(i k e)`; fails when
/// `eta` is not above zero (the retarded function needs it).
#[xyz_guest::function(outputs = ["g", "dos", "wave[site]"])]
pub fn resolvent(
    e: f64,
    eta: f64,
    level: Complex64,
) -> Result<(Complex64, f64, [Complex64; 4]), String> {
    if eta <= 0.0 {
        return Err(format!("eta must be above zero, not {eta}"));
    }
    let g = 1.0 / (Complex64::new(e, eta) - level);
    let wave = std::array::from_fn(|k| g * Complex64::new(0.0, k as f64 * e).exp());
    Ok((g, -g.im / std::f64::consts::PI, wave))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_the_inverse_of_the_distance_to_the_level() {
        let (g, dos, wave) = resolvent(1.0, 0.5, Complex64::new(0.0, 0.0)).unwrap();
        assert!((g - Complex64::new(0.8, -0.4)).norm() < 1e-12);
        assert!((dos - 0.4 / std::f64::consts::PI).abs() < 1e-12);
        assert_eq!(wave[0], g);
        assert!((wave[3].norm() - g.norm()).abs() < 1e-12);
        assert!(resolvent(1.0, 0.0, Complex64::new(0.0, 0.0)).is_err());
    }
}
