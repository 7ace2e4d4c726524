//! `mandel(x, y, maxiter) -> n`: how many iterations of `z = z² + c`, from `z = 0` with
//! `c = x + iy`, stay within `|z| <= 2`, up to `maxiter`.

/// The escape count of `x + iy`.
#[xyz_guest::function(outputs = ["n"])]
pub fn mandel(x: f64, y: f64, maxiter: i64) -> i64 {
    let (mut zr, mut zi) = (0.0f64, 0.0f64);
    let mut n = 0;
    while n < maxiter && zr * zr + zi * zi <= 4.0 {
        let t = zr * zr - zi * zi + x;
        zi = 2.0 * zr * zi + y;
        zr = t;
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::mandel;

    #[test]
    fn inside_points_reach_maxiter_and_outside_points_escape() {
        assert_eq!(mandel(0.0, 0.0, 100), 100);
        assert_eq!(mandel(-1.0, 0.0, 100), 100);
        assert_eq!(mandel(2.0, 2.0, 100), 1);
        assert_eq!(mandel(0.5, 0.0, 100), 5);
    }
}
