//! The Hilbert curve: a walk through a square grid that visits neighbouring cells one after the
//! other, so addresses close in number land close on the picture (the classic IPv4 map layout:
//! each /8 a square, each /16 a smaller square inside it, and so on).

/// Position `(x, y)` of cell number `d` on the Hilbert curve filling an `n × n` grid
/// (`n` a power of two, `d < n²`).
pub fn cell_position(n: u32, d: u64) -> (u32, u32) {
    debug_assert!(n.is_power_of_two() && d < u64::from(n) * u64::from(n));
    let (mut x, mut y) = (0u32, 0u32);
    let mut t = d;
    let mut s = 1u32;
    while s < n {
        let rx = ((t / 2) & 1) as u32;
        let ry = ((t ^ u64::from(rx)) & 1) as u32;
        if ry == 0 {
            if rx == 1 {
                x = s - 1 - x;
                y = s - 1 - y;
            }
            std::mem::swap(&mut x, &mut y);
        }
        x += s * rx;
        y += s * ry;
        t /= 4;
        s *= 2;
    }
    (x, y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visits_every_cell_once_and_steps_to_neighbours() {
        for n in [2u32, 4, 16, 64] {
            let mut seen = vec![false; (n * n) as usize];
            let mut prev: Option<(u32, u32)> = None;
            for d in 0..u64::from(n * n) {
                let (x, y) = cell_position(n, d);
                assert!(x < n && y < n);
                let i = (y * n + x) as usize;
                assert!(!seen[i], "cell visited twice");
                seen[i] = true;
                if let Some((px, py)) = prev {
                    assert_eq!(px.abs_diff(x) + py.abs_diff(y), 1, "n={n} d={d}");
                }
                prev = Some((x, y));
            }
        }
    }

    #[test]
    fn a_quarter_of_the_curve_fills_one_quadrant() {
        // The first quarter of the addresses (0/2) fills one 2048 × 2048 quadrant at /24 scale.
        let n = 4096;
        let mut xs = (u32::MAX, 0);
        let mut ys = (u32::MAX, 0);
        for d in (0..(1u64 << 22)).step_by(997) {
            let (x, y) = cell_position(n, d);
            xs = (xs.0.min(x), xs.1.max(x));
            ys = (ys.0.min(y), ys.1.max(y));
        }
        assert!(xs.1 - xs.0 < 2048 && ys.1 - ys.0 < 2048);
    }
}
