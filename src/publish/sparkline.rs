//! A tiny inline SVG line chart of counts per day, for the source health page and the topic cards
//! of the index. No JavaScript, no
//! external file: the page stays one document.

use crate::model::Timestamp;
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
    line(counts, &title)
}

fn line(counts: &[u64], title: &str) -> String {
    let points: Vec<String> = points(counts)
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect();
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"sparkline\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\"><title>{}</title><polyline fill=\"none\" stroke=\"currentColor\" stroke-width=\"1.5\" points=\"{}\"/></svg>",
        escape_html(title),
        points.join(" ")
    )
}

/// `counts` of stories per day as an SVG line, titled for a topic card: the days up to that of
/// the topic's newest story.
pub fn render_stories(counts: &[u64], label: &str) -> String {
    let total: u64 = counts.iter().sum();
    let title = format!(
        "{label}: {total} stories in the {} days up to the newest, at most {} a day",
        counts.len(),
        counts.iter().copied().max().unwrap_or(0)
    );
    line(counts, &title)
}

/// How many of `times` fall on each UTC day of the `days` days up to and including the day of
/// `now`, oldest day first; times outside them are not counted.
pub fn per_day(
    times: impl IntoIterator<Item = Timestamp>,
    days: usize,
    now: Timestamp,
) -> Vec<u64> {
    const DAY: i64 = 86_400;
    let mut counts = vec![0; days];
    let today = now.div_euclid(DAY);
    for t in times {
        let back = today - t.div_euclid(DAY);
        if let Ok(back) = usize::try_from(back)
            && back < days
        {
            counts[days - 1 - back] += 1;
        }
    }
    counts
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
    fn per_day_counts_the_last_days_up_to_today() {
        let now = 10 * 86_400 + 500;
        let times = [
            now,
            now - 86_400,
            8 * 86_400 + 1,
            7 * 86_400,
            now + 86_400,
            0,
        ];
        // Days 10 (today), 9, 8 and 7 once each; tomorrow and day 0 fall outside.
        assert_eq!(per_day(times, 4, now), vec![1, 1, 1, 1]);
        assert_eq!(per_day(times, 2, now), vec![1, 1]);
        assert_eq!(per_day([], 3, now), vec![0, 0, 0]);
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
