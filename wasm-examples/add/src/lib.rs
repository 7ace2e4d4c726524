//! `add(a, b, c) -> sum`: `a + b`. `c` is taken and ignored, so a sweep can hold one
//! argument constant. The smallest function there is: its cost is xyz's own overhead.

/// Adds `a` and `b`.
#[xyz_guest::function(outputs = ["sum"])]
pub fn add(a: f64, b: f64, c: f64) -> f64 {
    let _ = c;
    a + b
}

#[cfg(test)]
mod tests {
    #[test]
    fn adds() {
        assert_eq!(super::add(1.5, 2.0, 9.0), 3.5);
    }
}
