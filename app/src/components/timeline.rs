//! The monitor's timeline of the last two minutes since the page opened,
//! drawn live from the event feed: a lane with each leader's time, a lane
//! per node with the spans it was down, paused, stopped, cut off, lossy or
//! skewed, marks where elections began and ended, and the replicas' worst
//! arrival lag as a line. The picture is an SVG that scales to the panel;
//! the list under it tells the same story in sentences.

mod drawing;
mod history;

use crate::components::live::on_cluster_event;
use drawing::{draw, label, summary, WIDTH};
use history::{History, Trouble, WINDOW_MS};
use leptos::prelude::*;

#[component]
pub fn Timeline() -> impl IntoView {
    let history = RwSignal::new(History::default());
    // Milliseconds since the page opened, as of the last tick.
    let now = RwSignal::new(0.0_f64);
    let opened = chrono::Utc::now().timestamp_millis() as f64;
    let since_opened = move || chrono::Utc::now().timestamp_millis() as f64 - opened;
    on_cluster_event(move |json| {
        let at = since_opened();
        history.maybe_update(|h| {
            h.forget_before(at - WINDOW_MS);
            h.take(&json, at)
        });
    });
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let tick = move || now.set(since_opened());
        tick();
        if let Ok(handle) = set_interval_with_handle(tick, std::time::Duration::from_secs(1)) {
            on_cleanup(move || handle.clear());
        }
    });

    let drawing = move || history.with(|h| draw(h, now.get()));
    // The sentences change less often than the picture: redrawn only then.
    let sentences = Memo::new(move |_| history.with(|h| summary(h, now.get())));
    view! {
        <section class="panel" data-testid="timeline">
            <h2>"Timeline"</h2>
            <p class="hint">"The last two minutes, in seconds since this page opened. A pointer over a bar says what it is; the list below says it all in words."</p>
            {move || {
                let d = drawing();
                let height = d.height;
                view! {
                    <svg class="timeline" viewBox=format!("0 0 {WIDTH} {height}") role="img"
                        aria-label=move || history.with(label)
                        preserveAspectRatio="xMinYMin meet">
                        {d.lanes.iter().map(|lane| view! {
                            <g class="lane">
                                <line class="lane-rule" x1="0" y1=lane.y + lane.height x2=WIDTH y2=lane.y + lane.height></line>
                                <text class="lane-label" x="2" y=lane.y + lane.height / 2.0 + 4.0>{lane.label.clone()}</text>
                            </g>
                        }).collect_view()}
                        <text class="lane-label" x="2" y=d.lag_lane.y + 16.0>{d.lag_lane.label.clone()}</text>
                        <text class="lag-top" x=WIDTH - 4.0 y=d.lag_lane.y + 12.0 text-anchor="end">
                            {format!("up to {:.0} ms", d.lag_top_ms)}
                        </text>
                        {d.bars.into_iter().map(|bar| view! {
                            <g class=bar.class>
                                <rect x=format!("{:.1}", bar.x) y=bar.y width=format!("{:.1}", bar.width) height=bar.height rx="2">
                                    <title>{bar.title}</title>
                                </rect>
                                {bar.label.map(|text| view! {
                                    <text class="bar-label" x=format!("{:.1}", bar.x + 4.0) y=bar.y + bar.height / 2.0 + 4.0>{text}</text>
                                })}
                            </g>
                        }).collect_view()}
                        {d.marks.into_iter().map(|mark| view! {
                            <line class=mark.class x1=format!("{:.1}", mark.x) y1="0" x2=format!("{:.1}", mark.x) y2=d.axis_y>
                                <title>{mark.title}</title>
                            </line>
                        }).collect_view()}
                        <polyline class="lag-line" points=d.lag_points></polyline>
                        <line class="now" x1=format!("{:.1}", d.now_x) y1="0" x2=format!("{:.1}", d.now_x) y2=d.axis_y></line>
                        {d.ticks.into_iter().map(|(x, text)| view! {
                            <text class="tick" x=format!("{x:.1}") y=d.axis_y + 13.0 text-anchor="middle">{text}</text>
                        }).collect_view()}
                    </svg>
                }
            }}
            <ul class="legend timeline-legend">
                <li><span class="swatch leader-swatch"></span>"leader"</li>
                {Trouble::ALL.map(|t| view! {
                    <li><span class=format!("swatch {}", t.class())></span>{t.word()}</li>
                }).into_iter().collect_view()}
                <li><span class="swatch mark-swatch"></span>"election"</li>
            </ul>
            <ul class="timeline-summary" data-testid="timeline-summary">
                {move || {
                    let lines = sentences.get();
                    if lines.is_empty() {
                        return view! { <li>"Nothing yet: waiting for the feed."</li> }.into_any();
                    }
                    lines.into_iter().map(|line| view! { <li>{line}</li> }).collect_view().into_any()
                }}
            </ul>
        </section>
    }
}
