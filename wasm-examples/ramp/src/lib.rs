//! `ramp(a, b) -> y[t]`: the line `a * t + b` at `t = 0, 1, 2, 3, 4`, an array output whose
//! extra dim `t` becomes a dimension of the dataset.

/// `a * t + b` for `t` in `0..5`.
#[xyz_guest::function(outputs = ["y[t]"])]
pub fn ramp(a: f64, b: f64) -> [f64; 5] {
    std::array::from_fn(|t| a * t as f64 + b)
}

#[cfg(test)]
mod tests {
    #[test]
    fn is_a_line() {
        assert_eq!(super::ramp(2.0, 1.0), [1.0, 3.0, 5.0, 7.0, 9.0]);
    }
}
