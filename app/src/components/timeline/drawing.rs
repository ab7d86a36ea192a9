//! The timeline's picture, worked out from its history without a browser:
//! where each bar, mark and point goes in the SVG's own units (the SVG
//! scales to the panel), and the same story in sentences for those who do
//! not see the picture.

use super::history::{History, Mark, Trouble, WINDOW_MS};

/// The SVG's width, its lanes' labels' width, and its lanes' heights.
pub const WIDTH: f64 = 640.0;
const LABEL_WIDTH: f64 = 64.0;
const RIGHT_MARGIN: f64 = 6.0;
const LANE_HEIGHT: f64 = 26.0;
const LAG_HEIGHT: f64 = 44.0;
const AXIS_HEIGHT: f64 = 18.0;
/// Seconds between the axis's ticks.
const TICK_SECONDS: u64 = 30;
/// A bar narrower than this is widened, so a moment still shows.
const MIN_BAR_WIDTH: f64 = 2.0;

/// A box on a lane: what it is (`class`), what a pointer over it says
/// (`title`) and, if wide enough, its own label.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub class: String,
    pub title: String,
    pub label: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Lane {
    pub label: String,
    pub y: f64,
    pub height: f64,
}

/// A vertical line across the lanes at `x`.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub x: f64,
    pub class: &'static str,
    pub title: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Drawing {
    pub height: f64,
    pub lanes: Vec<Lane>,
    pub bars: Vec<Bar>,
    pub marks: Vec<Line>,
    /// The replication lag as polyline points, and the lag at its top.
    pub lag_points: String,
    pub lag_top_ms: f64,
    pub lag_lane: Lane,
    /// Tick positions and labels (seconds since the page opened).
    pub ticks: Vec<(f64, String)>,
    pub now_x: f64,
    pub axis_y: f64,
}

/// The window shown at `now_ms`: the last two minutes, or the first two
/// while the page is younger.
fn window(now_ms: f64) -> (f64, f64) {
    let end = now_ms.max(WINDOW_MS);
    (end - WINDOW_MS, end)
}

pub fn draw(history: &History, now_ms: f64) -> Drawing {
    let (start, end) = window(now_ms);
    let plot = WIDTH - LABEL_WIDTH - RIGHT_MARGIN;
    let x = |ms: f64| LABEL_WIDTH + (ms.clamp(start, end) - start) / (end - start) * plot;
    // A span from `from` to `to` (None: still), clipped to the window.
    let span = |from: f64, to: Option<f64>| {
        let (left, right) = (x(from), x(to.unwrap_or(now_ms).min(now_ms)));
        (left, (right - left).max(MIN_BAR_WIDTH))
    };
    let shown = |to: Option<f64>| to.is_none_or(|to| to >= start);

    let mut lanes = Vec::new();
    let mut bars = Vec::new();
    let leader_y = 0.0;
    lanes.push(Lane {
        label: "leader".into(),
        y: leader_y,
        height: LANE_HEIGHT,
    });
    for led in history.leaders.iter().filter(|l| shown(l.to_ms)) {
        let (left, width) = span(led.from_ms, led.to_ms);
        let name = format!("node-{}", led.leader);
        bars.push(Bar {
            x: left,
            y: leader_y + 3.0,
            width,
            height: LANE_HEIGHT - 6.0,
            class: format!("leader leader-{}", led.leader % 6),
            title: format!("{name} leader of epoch {}", led.epoch),
            label: (width > 44.0).then_some(name),
        });
    }
    for (i, &node) in history.nodes.iter().enumerate() {
        let y = LANE_HEIGHT * (i as f64 + 1.0);
        lanes.push(Lane {
            label: format!("node-{node}"),
            y,
            height: LANE_HEIGHT,
        });
        let spans = history.troubles.get(&node).into_iter().flatten();
        for trouble in spans.filter(|s| shown(s.to_ms)) {
            let (left, width) = span(trouble.from_ms, trouble.to_ms);
            // Three bands: the process, its links, its clock.
            let band = match trouble.trouble {
                Trouble::Down | Trouble::Paused | Trouble::Stopped => 0.0,
                Trouble::Cut | Trouble::Lossy => 1.0,
                Trouble::Skewed => 2.0,
            };
            bars.push(Bar {
                x: left,
                y: y + 2.0 + band * 8.0,
                width,
                height: 6.0,
                class: format!("trouble {}", trouble.trouble.class()),
                title: format!("node-{node} {}", trouble.trouble.word()),
                label: None,
            });
        }
    }
    let lag_lane = Lane {
        label: "lag p99".into(),
        y: LANE_HEIGHT * lanes.len() as f64,
        height: LAG_HEIGHT,
    };
    let axis_y = lag_lane.y + LAG_HEIGHT;

    let marks = history
        .marks
        .iter()
        .filter(|(at, _)| *at >= start)
        .map(|(at, mark)| match mark {
            Mark::ElectionStarted { node, algorithm } => Line {
                x: x(*at),
                class: "mark started",
                title: format!("node-{node} started a {algorithm} election"),
            },
            Mark::Elected { leader, epoch } => Line {
                x: x(*at),
                class: "mark elected",
                title: format!("node-{leader} won epoch {epoch}"),
            },
        })
        .collect();

    let lag: Vec<(f64, f64)> = history.lag.iter().copied().collect();
    let lag_top_ms = lag.iter().map(|(_, l)| *l).fold(1.0, f64::max);
    let lag_bottom = lag_lane.y + LAG_HEIGHT - 3.0;
    let lag_points = lag
        .iter()
        .map(|(at, l)| {
            let y = lag_bottom - l / lag_top_ms * (LAG_HEIGHT - 8.0);
            format!("{:.1},{y:.1}", x(*at))
        })
        .collect::<Vec<_>>()
        .join(" ");

    let first_tick = (start / 1000.0 / TICK_SECONDS as f64).ceil() as u64 * TICK_SECONDS;
    let ticks = (0..)
        .map(|i| first_tick + i * TICK_SECONDS)
        .take_while(|&s| s as f64 * 1000.0 <= end)
        .map(|s| (x(s as f64 * 1000.0), format!("{s} s")))
        .collect();

    Drawing {
        height: axis_y + AXIS_HEIGHT,
        lanes,
        bars,
        marks,
        lag_points,
        lag_top_ms,
        lag_lane,
        ticks,
        now_x: x(now_ms),
        axis_y,
    }
}

fn seconds(ms: f64) -> String {
    format!("{:.0} s", ms / 1000.0)
}

fn during(from_ms: f64, to_ms: Option<f64>) -> String {
    match to_ms {
        Some(to) => format!("from {} to {}", seconds(from_ms), seconds(to)),
        None => format!("since {}", seconds(from_ms)),
    }
}

/// The timeline in sentences, oldest first (times in seconds since the
/// page opened), for the list under the picture.
pub fn summary(history: &History, now_ms: f64) -> Vec<String> {
    let (start, _) = window(now_ms);
    let shown = |to: Option<f64>| to.is_none_or(|to| to >= start);
    let mut lines: Vec<(f64, String)> = Vec::new();
    for led in history.leaders.iter().filter(|l| shown(l.to_ms)) {
        lines.push((
            led.from_ms,
            format!(
                "node-{} leader of epoch {} {}",
                led.leader,
                led.epoch,
                during(led.from_ms, led.to_ms)
            ),
        ));
    }
    for (node, spans) in &history.troubles {
        for span in spans.iter().filter(|s| shown(s.to_ms)) {
            lines.push((
                span.from_ms,
                format!(
                    "node-{node} {} {}",
                    span.trouble.word(),
                    during(span.from_ms, span.to_ms)
                ),
            ));
        }
    }
    for (at, mark) in history.marks.iter().filter(|(at, _)| *at >= start) {
        let what = match mark {
            Mark::ElectionStarted { node, algorithm } => {
                format!("node-{node} started a {algorithm} election")
            }
            Mark::Elected { leader, epoch } => format!("node-{leader} won epoch {epoch}"),
        };
        lines.push((*at, format!("at {} {what}", seconds(*at))));
    }
    lines.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut lines: Vec<String> = lines.into_iter().map(|(_, line)| line).collect();
    if let Some((_, now)) = history.lag.back() {
        let top = history.lag.iter().map(|(_, l)| *l).fold(0.0, f64::max);
        lines.push(format!(
            "worst replication lag p99 now {now:.0} ms, up to {top:.0} ms"
        ));
    }
    lines
}

/// The picture's name, in a line.
pub fn label(history: &History) -> String {
    let leader = match history.leader() {
        Some(l) => format!("node-{} leads now", l.leader),
        None => "no leader known now".to_string(),
    };
    let troubles: usize = history
        .troubles
        .values()
        .flatten()
        .filter(|s| s.to_ms.is_none())
        .count();
    format!(
        "Timeline of the cluster over the last {} seconds: {leader}; {troubles} node troubles going on; {} election events. Details in the list below.",
        WINDOW_MS / 1000.0,
        history.marks.len()
    )
}

#[cfg(test)]
mod tests {
    use super::super::history::NodeId;
    use super::*;

    fn lane_names(drawing: &Drawing) -> Vec<&str> {
        drawing.lanes.iter().map(|l| l.label.as_str()).collect()
    }

    fn event(node: NodeId, body: &str) -> String {
        format!(r#"{{"node":{node},"lamport":1,"physicalMs":1.0,"event":{body}}}"#)
    }

    fn sample() -> History {
        let mut history = History::default();
        let heartbeat = |node: NodeId, leader: NodeId, epoch: u64| {
            event(
                node,
                &format!(
                    r#"{{"kind":"heartbeat","alive":[1,2,3],"leader":{leader},"epoch":{epoch},"vectorClock":{{}},"offsetMs":0.0}}"#
                ),
            )
        };
        history.take(&heartbeat(1, 3, 4), 0.0);
        history.take(&heartbeat(2, 3, 4), 500.0);
        let cut = |change: &str| {
            event(
                3,
                &format!(
                    r#"{{"kind":"fault","change":"{change}","fault":{{"number":1,"peers":[1,2],"harm":"cut","dropShare":1.0,"delayMs":0,"expiresInMs":30000}}}}"#
                ),
            )
        };
        history.take(&cut("injected"), 30_000.0);
        history.take(
            &event(2, r#"{"kind":"election","type":"electionStarted","algorithm":"bully","epoch":4,"reason":"leaderLost"}"#),
            33_000.0,
        );
        history.take(
            &event(
                2,
                r#"{"kind":"election","type":"elected","leader":2,"epoch":5}"#,
            ),
            34_000.0,
        );
        history.take(&cut("healed"), 45_000.0);
        history
    }

    #[test]
    fn lanes_bars_and_marks_fall_where_their_times_say() {
        let drawing = draw(&sample(), 60_000.0);
        assert_eq!(
            lane_names(&drawing),
            ["leader", "node-1", "node-2", "node-3"]
        );
        // The page is a minute old: the window is its first two minutes,
        // and 30 s is a quarter of the plot.
        let plot = WIDTH - LABEL_WIDTH - RIGHT_MARGIN;
        let at = |s: f64| LABEL_WIDTH + s / 120.0 * plot;
        let leaders: Vec<(String, f64, f64)> = drawing
            .bars
            .iter()
            .filter(|b| b.class.starts_with("leader"))
            .map(|b| (b.title.clone(), b.x, b.width))
            .collect();
        assert_eq!(leaders[0].0, "node-3 leader of epoch 4");
        assert_eq!((leaders[0].1, leaders[0].2), (at(0.0), at(34.0) - at(0.0)));
        assert_eq!(leaders[1].0, "node-2 leader of epoch 5");
        // Still leading: drawn up to now.
        assert!((leaders[1].1 + leaders[1].2 - at(60.0)).abs() < 1e-9);
        let cut = drawing
            .bars
            .iter()
            .find(|b| b.class == "trouble cut")
            .unwrap();
        assert_eq!((cut.x, cut.title.as_str()), (at(30.0), "node-3 cut off"));
        assert_eq!(drawing.lanes[3].y, 3.0 * 26.0);
        assert!(cut.y > drawing.lanes[3].y && cut.y < drawing.lanes[3].y + 26.0);
        let marks: Vec<&str> = drawing.marks.iter().map(|m| m.class).collect();
        assert_eq!(marks, ["mark started", "mark elected"]);
        let ticks: Vec<&str> = drawing.ticks.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(ticks, ["0 s", "30 s", "60 s", "90 s", "120 s"]);
        assert_eq!(drawing.now_x, at(60.0));
    }

    #[test]
    fn the_window_slides_after_two_minutes_and_drops_what_ended_before_it() {
        // At 160 s the window is 40 s to 160 s: the first leadership ended
        // at 34 s and the cut at 45 s.
        let drawing = draw(&sample(), 160_000.0);
        let titles: Vec<&str> = drawing.bars.iter().map(|b| b.title.as_str()).collect();
        assert_eq!(titles, ["node-2 leader of epoch 5", "node-3 cut off"]);
        assert_eq!(
            drawing.bars[0].x, LABEL_WIDTH,
            "clipped at the window's start"
        );
        assert!(drawing.marks.is_empty());
        let ticks: Vec<&str> = drawing.ticks.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(ticks, ["60 s", "90 s", "120 s", "150 s"]);
    }

    #[test]
    fn the_summary_tells_the_same_story_in_order() {
        assert_eq!(
            summary(&sample(), 60_000.0),
            [
                "node-3 leader of epoch 4 from 0 s to 34 s",
                "node-3 cut off from 30 s to 45 s",
                "at 33 s node-2 started a bully election",
                "node-2 leader of epoch 5 since 34 s",
                "at 34 s node-2 won epoch 5",
            ]
        );
        assert!(label(&sample())
            .contains("node-2 leads now; 0 node troubles going on; 2 election events"));
    }

    #[test]
    fn the_lag_line_is_scaled_to_its_highest_point() {
        let mut history = History::default();
        for (i, lag) in [10.0, 40.0, 20.0].into_iter().enumerate() {
            let json = event(
                1,
                &format!(
                    r#"{{"kind":"replica","state":{{"nodeId":1,"reachable":true,"applied":{{}},"behind":0,"confirmed":0,"cancelled":0,"lost":0,"lagP50Ms":1.0,"lagP99Ms":{lag},"lagSamples":1,"recent":[]}}}}"#
                ),
            );
            history.take(&json, 1000.0 * i as f64);
        }
        let drawing = draw(&history, 3000.0);
        assert_eq!(drawing.lag_top_ms, 40.0);
        let ys: Vec<f64> = drawing
            .lag_points
            .split(' ')
            .map(|p| p.split(',').nth(1).unwrap().parse().unwrap())
            .collect();
        assert!(ys[1] < ys[2] && ys[2] < ys[0], "{ys:?}");
        assert_eq!(
            summary(&history, 3000.0).last().unwrap(),
            "worst replication lag p99 now 20 ms, up to 40 ms"
        );
    }
}
