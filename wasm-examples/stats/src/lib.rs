//! `stats(x, n) -> (prod, ratio)`: `x * n` and `x / n`, two outputs from a float and an
//! integer argument.

/// The product and the ratio of `x` and `n`.
#[xyz_guest::function(outputs = ["prod", "ratio"])]
pub fn stats(x: f64, n: i64) -> (f64, f64) {
    (x * n as f64, x / n as f64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn product_and_ratio() {
        assert_eq!(super::stats(3.0, 2), (6.0, 1.5));
    }
}
