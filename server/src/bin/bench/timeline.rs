//! The nemesis's timeline, as one self-contained HTML page (no script, no
//! file beside it): who led, lane by lane each node's faults, the requests
//! answered each second by outcome, and when the load stopped, everything
//! was healed and the replicas converged; then the faults and what the
//! check found. Pure: the run in, the page out.

use crate::history_check::{Attempt, Request};
use std::collections::BTreeMap;
use std::fmt::{self, Write};

/// A request of the history, and when it was sent (seconds into the run).
#[derive(Clone, Debug)]
pub struct Timed {
    pub at_s: f64,
    pub attempt: Attempt,
}

/// Whom each node named as its leader at one moment.
#[derive(Clone, Debug)]
pub struct Sample {
    pub at_s: f64,
    pub leaders: BTreeMap<u32, Option<u32>>,
}

/// One fault of the schedule, on one node's lane.
#[derive(Clone, Debug)]
pub struct FaultSpan {
    pub node: u32,
    /// kill, pause, cut, lossy or skew.
    pub kind: &'static str,
    pub what: String,
    pub from_s: f64,
    /// When it ended (expired, undone or healed); None while in force.
    pub to_s: Option<f64>,
    /// Why the API refused it, if it did.
    pub refused: Option<String>,
}

impl FaultSpan {
    /// A fault in force until undone.
    pub fn new(
        node: u32,
        kind: &'static str,
        what: String,
        at_s: f64,
        refused: Option<String>,
    ) -> Self {
        FaultSpan {
            node,
            kind,
            what,
            from_s: at_s,
            to_s: refused.as_ref().map(|_| at_s),
            refused,
        }
    }

    /// A fault that expires by itself after `seconds`.
    pub fn lasting(
        node: u32,
        kind: &'static str,
        what: String,
        at_s: f64,
        seconds: u64,
        refused: Option<String>,
    ) -> Self {
        let mut span = FaultSpan::new(node, kind, what, at_s, refused);
        span.to_s.get_or_insert(at_s + seconds as f64);
        span
    }

    /// Undone at `at_s`, unless it ended before.
    pub fn ended(&mut self, at_s: f64) {
        if self.to_s.is_none_or(|to| to > at_s) {
            self.to_s = Some(at_s);
        }
    }
}

impl fmt::Display for FaultSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>6.1} s  {}", self.from_s, self.what)?;
        if let Some(to) = self.to_s {
            write!(f, " (until {to:.1} s)")?;
        }
        if let Some(why) = &self.refused {
            write!(f, ": REFUSED, {why}")?;
        }
        Ok(())
    }
}

/// Everything the page shows.
pub struct Run {
    pub title: String,
    pub nodes: Vec<u32>,
    pub load_seconds: f64,
    pub healed_at: f64,
    pub converged_at: Option<f64>,
    pub faults: Vec<FaultSpan>,
    pub samples: Vec<Sample>,
    pub attempts: Vec<Timed>,
    pub problems: Vec<String>,
}

const WIDTH: f64 = 1000.0;
const LABELS: f64 = 120.0;
const LANE: f64 = 26.0;
const CHART: f64 = 120.0;
/// The leader lane's colors, one after another as the leader changes,
/// apart from every fault's; and "no leader".
const LEADER_SHADES: [&str; 2] = ["#c7d9e8", "#a9c4dc"];
const NO_LEADER: &str = "#ffffff";

/// The outcome classes of the chart, with their colors, in stacking order.
const OUTCOMES: [(&str, &str); 4] = [
    ("acknowledged", "#59a14f"),
    ("refused (4xx)", "#bab0ac"),
    ("unavailable (503)", "#f28e2b"),
    ("no answer / other", "#e15759"),
];

fn outcome_of(status: Option<u16>) -> usize {
    match status {
        Some(200..=299) => 0,
        Some(400..=499) => 1,
        Some(503) => 2,
        _ => 3,
    }
}

fn kind_color(kind: &str) -> &'static str {
    match kind {
        "kill" => "#d62728",
        "pause" => "#ff7f0e",
        "cut" => "#9467bd",
        "lossy" => "#bcbd22",
        _ => "#17becf",
    }
}

pub fn render(run: &Run) -> String {
    let end = run
        .converged_at
        .unwrap_or(run.healed_at)
        .max(run.load_seconds)
        + 1.0;
    let x = |t: f64| LABELS + (WIDTH - LABELS - 10.0) * (t / end).clamp(0.0, 1.0);
    let lanes = 1 + run.nodes.len();
    let chart_top = 30.0 + lanes as f64 * LANE + 20.0;
    let height = chart_top + CHART + 40.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="12">"#,
        escape(&run.title)
    );
    // The time axis, a tick every few seconds.
    let step = if end > 60.0 { 10.0 } else { 5.0 };
    let mut tick = 0.0;
    while tick <= end {
        let _ = write!(
            svg,
            r##"<line x1="{0:.1}" y1="20" x2="{0:.1}" y2="{1:.1}" stroke="#eee"/><text x="{0:.1}" y="14" text-anchor="middle" fill="#555">{tick:.0} s</text>"##,
            x(tick),
            height - 30.0
        );
        tick += step;
    }
    // The leader lane: the leader most nodes named, sample by sample.
    let leader_y = 30.0;
    let _ = write!(
        svg,
        r#"<text x="4" y="{:.1}">leader</text>"#,
        leader_y + 16.0
    );
    for (shade, (from, to, leader)) in leader_segments(&run.samples).into_iter().enumerate() {
        let (color, name) = match leader {
            Some(leader) => (
                LEADER_SHADES[shade % LEADER_SHADES.len()],
                format!("node {leader}"),
            ),
            None => (NO_LEADER, "none".to_string()),
        };
        let _ = write!(
            svg,
            r##"<rect x="{:.1}" y="{leader_y:.1}" width="{:.1}" height="{:.1}" fill="{color}" stroke="#888" stroke-width="0.5"><title>leader: {name} from {from:.1} s to {to:.1} s</title></rect><text x="{:.1}" y="{:.1}" font-size="10">{name}</text>"##,
            x(from),
            (x(to) - x(from)).max(0.5),
            LANE - 6.0,
            x(from) + 2.0,
            leader_y + 13.0
        );
    }
    // A lane per node, with its faults.
    for (lane, &node) in run.nodes.iter().enumerate() {
        let y = 30.0 + (lane + 1) as f64 * LANE;
        let _ = write!(svg, r#"<text x="4" y="{:.1}">node {node}</text>"#, y + 16.0);
        let _ = write!(
            svg,
            r##"<line x1="{LABELS}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#ccc"/>"##,
            y + LANE / 2.0 - 3.0,
            WIDTH - 10.0
        );
        for fault in run.faults.iter().filter(|f| f.node == node) {
            let to = fault.to_s.unwrap_or(end);
            let _ = write!(
                svg,
                r#"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}" opacity="0.85"><title>{}</title></rect>"#,
                x(fault.from_s),
                (x(to) - x(fault.from_s)).max(2.0),
                LANE - 6.0,
                kind_color(fault.kind),
                escape(&fault.to_string())
            );
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" font-size="10">{}</text>"#,
                x(fault.from_s) + 2.0,
                y + 13.0,
                fault.kind
            );
        }
    }
    // Requests sent each second, stacked by outcome.
    let seconds = end.ceil() as usize;
    let mut per_second = vec![[0usize; 4]; seconds + 1];
    for timed in &run.attempts {
        let second = (timed.at_s.max(0.0) as usize).min(seconds);
        per_second[second][outcome_of(timed.attempt.status)] += 1;
    }
    let busiest = per_second
        .iter()
        .map(|counts| counts.iter().sum::<usize>())
        .max()
        .unwrap_or(0)
        .max(1);
    let _ = write!(
        svg,
        r##"<text x="4" y="{:.1}">requests/s</text><text x="4" y="{:.1}" fill="#555">max {busiest}</text>"##,
        chart_top + 14.0,
        chart_top + 28.0
    );
    for (second, counts) in per_second.iter().enumerate() {
        let mut bottom = chart_top + CHART;
        for (outcome, &count) in counts.iter().enumerate() {
            if count == 0 {
                continue;
            }
            let h = CHART * count as f64 / busiest as f64;
            bottom -= h;
            let _ = write!(
                svg,
                r#"<rect x="{:.1}" y="{bottom:.1}" width="{:.1}" height="{h:.1}" fill="{}"><title>{count} {} in second {second}</title></rect>"#,
                x(second as f64),
                (x(second as f64 + 1.0) - x(second as f64) - 1.0).max(1.0),
                OUTCOMES[outcome].1,
                OUTCOMES[outcome].0
            );
        }
    }
    // When the load stopped, everything was healed, the replicas agreed.
    let mut marks = vec![(run.load_seconds, "load ends"), (run.healed_at, "healed")];
    if let Some(converged) = run.converged_at {
        marks.push((converged, "converged"));
    }
    for (i, (at, label)) in marks.into_iter().enumerate() {
        let _ = write!(
            svg,
            r##"<line x1="{0:.1}" y1="20" x2="{0:.1}" y2="{1:.1}" stroke="#333" stroke-dasharray="4 3"/><text x="{0:.1}" y="{2:.1}" fill="#333">{label}</text>"##,
            x(at),
            chart_top + CHART,
            chart_top + CHART + 14.0 + 12.0 * i as f64,
        );
    }
    svg.push_str("</svg>");

    let mut page = String::new();
    let _ = write!(
        page,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{0}</title><style>body{{font-family:sans-serif;max-width:1040px;margin:1em auto;padding:0 1em}}\
         .legend span{{display:inline-block;margin-right:1em}} .legend i{{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}}\
         .bad{{color:#b00020}} .good{{color:#2e7d32}}</style></head><body><h1>{0}</h1>",
        escape(&run.title)
    );
    page.push_str(&svg);
    page.push_str("<p class=\"legend\">");
    for (kind, name) in [
        ("kill", "killed"),
        ("pause", "paused"),
        ("cut", "cut off"),
        ("lossy", "lossy links"),
        ("skew", "clock skewed"),
    ] {
        let _ = write!(
            page,
            "<span><i style=\"background:{}\"></i>{name}</span>",
            kind_color(kind)
        );
    }
    for (name, color) in OUTCOMES {
        let _ = write!(
            page,
            "<span><i style=\"background:{color}\"></i>{name}</span>"
        );
    }
    page.push_str("</p><h2>Faults</h2><ol>");
    for fault in &run.faults {
        let _ = write!(page, "<li>{}</li>", escape(&fault.to_string()));
    }
    page.push_str("</ol><h2>Requests</h2><ul>");
    for (request, name) in [
        (Request::Book, "bookings"),
        (Request::Cancel, "cancellations"),
    ] {
        let mut counts = [0usize; 4];
        for timed in run.attempts.iter().filter(|t| t.attempt.request == request) {
            counts[outcome_of(timed.attempt.status)] += 1;
        }
        let parts: Vec<String> = OUTCOMES
            .iter()
            .zip(counts)
            .map(|((label, _), n)| format!("{n} {label}"))
            .collect();
        let _ = write!(page, "<li>{name}: {}</li>", parts.join(", "));
    }
    page.push_str("</ul><h2>Check</h2>");
    if run.problems.is_empty() {
        page.push_str("<p class=\"good\">No anomaly: every acknowledged booking kept, every replica identical, every fault healed.</p>");
    } else {
        let _ = write!(
            page,
            "<p class=\"bad\">{} anomalies:</p><ul>",
            run.problems.len()
        );
        for problem in &run.problems {
            let _ = write!(page, "<li class=\"bad\">{}</li>", escape(problem));
        }
        page.push_str("</ul>");
    }
    page.push_str("</body></html>\n");
    page
}

/// Spans of time with one leader (or none), from the samples.
fn leader_segments(samples: &[Sample]) -> Vec<(f64, f64, Option<u32>)> {
    let mut segments: Vec<(f64, f64, Option<u32>)> = Vec::new();
    for pair in samples.windows(2) {
        let leader = majority_leader(&pair[0]);
        match segments.last_mut() {
            Some(last) if last.2 == leader => last.1 = pair[1].at_s,
            _ => segments.push((pair[0].at_s, pair[1].at_s, leader)),
        }
    }
    segments
}

/// The leader more than half the nodes that answered named.
fn majority_leader(sample: &Sample) -> Option<u32> {
    let mut votes: BTreeMap<u32, usize> = BTreeMap::new();
    for leader in sample.leaders.values().flatten() {
        *votes.entry(*leader).or_default() += 1;
    }
    let answered = sample.leaders.values().filter(|l| l.is_some()).count();
    votes
        .into_iter()
        .find(|(_, n)| 2 * n > answered)
        .map(|(leader, _)| leader)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(status: Option<u16>) -> Attempt {
        Attempt {
            request: Request::Book,
            node: 1,
            showtime: 1,
            seat: "A1".into(),
            status,
            booking_id: None,
        }
    }

    #[test]
    fn a_fault_ends_when_it_expires_or_is_healed_whichever_is_first() {
        let mut expiring = FaultSpan::lasting(1, "cut", "cut".into(), 2.0, 3, None);
        expiring.ended(10.0);
        assert_eq!(expiring.to_s, Some(5.0));
        let mut open = FaultSpan::new(2, "kill", "kill".into(), 4.0, None);
        assert_eq!(open.to_s, None);
        open.ended(10.0);
        assert_eq!(open.to_s, Some(10.0));
        let refused = FaultSpan::new(2, "kill", "kill".into(), 4.0, Some("409".into()));
        assert_eq!(refused.to_s, Some(4.0));
        assert!(refused.to_string().contains("REFUSED"));
    }

    #[test]
    fn the_leader_shown_is_the_one_most_nodes_name() {
        let sample = |leaders: &[(u32, Option<u32>)]| Sample {
            at_s: 0.0,
            leaders: leaders.iter().copied().collect(),
        };
        assert_eq!(
            majority_leader(&sample(&[(1, Some(3)), (2, Some(3)), (3, Some(3))])),
            Some(3)
        );
        assert_eq!(
            majority_leader(&sample(&[(1, Some(1)), (2, Some(3)), (3, None)])),
            None
        );
        assert_eq!(
            majority_leader(&sample(&[(1, None), (2, Some(2)), (3, Some(2))])),
            Some(2)
        );
    }

    #[test]
    fn the_leader_lane_joins_samples_of_one_leader() {
        let sample = |at_s, leader| Sample {
            at_s,
            leaders: [(1, leader), (2, leader), (3, leader)]
                .into_iter()
                .collect(),
        };
        let samples = [
            sample(0.0, Some(3)),
            sample(0.5, Some(3)),
            sample(1.0, None),
            sample(1.5, Some(2)),
            sample(2.0, Some(2)),
        ];
        assert_eq!(
            leader_segments(&samples),
            vec![(0.0, 1.0, Some(3)), (1.0, 1.5, None), (1.5, 2.0, Some(2))]
        );
    }

    #[test]
    fn the_page_draws_every_fault_and_outcome_and_escapes_text() {
        let run = Run {
            title: "nemesis <test>".into(),
            nodes: vec![1, 2, 3],
            load_seconds: 10.0,
            healed_at: 10.5,
            converged_at: Some(12.0),
            faults: vec![FaultSpan::lasting(
                2,
                "pause",
                "pause node 2".into(),
                3.0,
                2,
                None,
            )],
            samples: vec![],
            attempts: vec![
                Timed {
                    at_s: 0.5,
                    attempt: attempt(Some(201)),
                },
                Timed {
                    at_s: 1.5,
                    attempt: attempt(Some(503)),
                },
                Timed {
                    at_s: 1.7,
                    attempt: attempt(None),
                },
            ],
            problems: vec!["booking <b1> lost".into()],
        };
        let page = render(&run);
        assert!(page.contains("nemesis &lt;test&gt;"));
        assert!(page.contains("pause node 2"));
        assert!(page
            .contains("1 acknowledged, 0 refused (4xx), 1 unavailable (503), 1 no answer / other"));
        assert!(page.contains("booking &lt;b1&gt; lost"));
        assert!(!page.contains("<b1>"));
    }
}
