//! `classify(x, label, flag) -> (positive, tag)`: string and bool arguments and outputs.

/// Whether `x` is positive, and `label` tagged with `flag` and `x`'s sign.
#[xyz_guest::function(outputs = ["positive", "tag"])]
pub fn classify(x: f64, label: &str, flag: bool) -> (bool, String) {
    let sign = if x > 0.0 { "+" } else { "-" };
    (
        x > 0.0,
        format!("{label}{sign}{}", if flag { "!" } else { "" }),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn tags() {
        assert_eq!(super::classify(1.0, "a", true), (true, "a+!".to_string()));
        assert_eq!(super::classify(-1.0, "é", false), (false, "é-".to_string()));
    }
}
