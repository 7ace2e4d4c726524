//! `words(n, text) -> (distinct, top, line)`: Rust with `std`, built for `wasm32-wasip1` so its
//! `println!` goes through WASI: counts the words of `text` repeated `n` times in a `HashMap`,
//! and formats a line about them.

use std::collections::HashMap;

/// The number of distinct words, how often the most frequent one occurs, and a line saying
/// which it is. Prints the line too, as a program would.
#[xyz_guest::function(outputs = ["distinct", "top", "line"])]
pub fn words(n: i64, text: &str) -> Result<(i64, i64, String), String> {
    if n < 0 {
        return Err(format!("n = {n} is negative"));
    }
    let mut counts: HashMap<&str, i64> = HashMap::new();
    for _ in 0..n {
        for w in text.split_whitespace() {
            *counts.entry(w).or_default() += 1;
        }
    }
    let mut ranked: Vec<(&str, i64)> = counts.iter().map(|(w, c)| (*w, *c)).collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let line = match ranked.first() {
        Some((w, c)) => format!(
            "{w:>8} × {c:<4} of {:.1}%",
            100.0 * *c as f64 / (n.max(1) as f64 * text.split_whitespace().count().max(1) as f64)
        ),
        None => "no words".to_string(),
    };
    println!("{line}");
    Ok((counts.len() as i64, ranked.first().map_or(0, |r| r.1), line))
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts() {
        let (d, top, line) = super::words(2, "a b a").unwrap();
        assert_eq!((d, top), (2, 4));
        assert!(line.contains("a × 4"), "{line}");
    }
}
