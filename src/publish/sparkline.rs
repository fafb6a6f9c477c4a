//! A tiny inline SVG line chart of counts per day, for the source health page. No JavaScript, no
//! external file: the page stays one document.

use crate::text::escape_html;

const WIDTH: f64 = 120.0;
const HEIGHT: f64 = 24.0;
/// Room kept above and below the line so a 1-pixel stroke is not clipped.
const MARGIN: f64 = 2.0;

/// The points of the line, left (oldest) to right: x spread over the width, y scaled so the
/// largest count touches the top; all zeros lie flat on the bottom.
pub fn points(counts: &[u64]) -> Vec<(f64, f64)> {
    let max = counts.iter().copied().max().unwrap_or(0);
    let last = counts.len().saturating_sub(1).max(1) as f64;
    let bottom = HEIGHT - MARGIN;
    counts
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let y = if max == 0 {
                bottom
            } else {
                bottom - (n as f64 / max as f64) * (HEIGHT - 2.0 * MARGIN)
            };
            (i as f64 * WIDTH / last, y)
        })
        .collect()
}

/// `counts` as an SVG line with an accessible title naming `label`, the total and the busiest day.
pub fn render(counts: &[u64], label: &str) -> String {
    let total: u64 = counts.iter().sum();
    let max = counts.iter().copied().max().unwrap_or(0);
    let title = format!(
        "{label}: {total} new entries in the last {} days, at most {max} a day",
        counts.len()
    );
    let points: Vec<String> = points(counts)
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect();
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"sparkline\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\"><title>{}</title><polyline fill=\"none\" stroke=\"currentColor\" stroke-width=\"1.5\" points=\"{}\"/></svg>",
        escape_html(&title),
        points.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_count_touches_the_top_and_zero_the_bottom() {
        let p = points(&[0, 5, 10]);
        assert_eq!(p.len(), 3);
        assert_eq!(p[0], (0.0, HEIGHT - MARGIN));
        assert_eq!(p[1], (WIDTH / 2.0, HEIGHT / 2.0));
        assert_eq!(p[2], (WIDTH, MARGIN));
    }

    #[test]
    fn all_zeros_is_a_flat_line() {
        let p = points(&[0; 30]);
        assert_eq!(p.len(), 30);
        assert!(p.iter().all(|&(_, y)| y == HEIGHT - MARGIN));
        assert_eq!(p[29].0, WIDTH);
    }

    #[test]
    fn a_single_day_does_not_divide_by_zero() {
        assert_eq!(points(&[3]), vec![(0.0, MARGIN)]);
        assert!(points(&[]).is_empty());
    }

    #[test]
    fn the_svg_has_an_escaped_title_and_every_point() {
        let svg = render(&[1, 0, 2], "A <feed>");
        assert!(svg.starts_with("<svg "));
        assert!(svg.contains(
            "<title>A &lt;feed&gt;: 3 new entries in the last 3 days, at most 2 a day</title>"
        ));
        assert!(svg.contains("points=\"0.0,12.0 60.0,22.0 120.0,2.0\""));
    }
}
