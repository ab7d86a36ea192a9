//! How dates, times, durations and statuses read on the pages.

use crate::model::BookingStatus;
use chrono::{DateTime, NaiveDate, Utc};

/// A booking's status as one word, as the pages show it and tests find it.
pub fn status_word(status: BookingStatus) -> &'static str {
    match status {
        BookingStatus::Confirmed => "confirmed",
        BookingStatus::Cancelled => "cancelled",
        BookingStatus::Lost => "lost",
    }
}

/// "Tuesday 24 November".
pub fn day_heading(day: NaiveDate) -> String {
    day.format("%A %-d %B").to_string()
}

/// "19:30".
pub fn time_of_day(at: DateTime<Utc>) -> String {
    at.format("%H:%M").to_string()
}

/// "Tue 24 Nov, 19:30".
pub fn date_and_time(at: DateTime<Utc>) -> String {
    at.format("%a %-d %b, %H:%M").to_string()
}

/// "2 h 15 min".
pub fn duration(minutes: i32) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// "7.8": an audience rating to one decimal. Counted in tenths rather than
/// written with `{:.1}`, which would put the float formatter in the home
/// page's WebAssembly.
pub fn rating(rating: f32) -> String {
    let tenths = (rating * 10.0).round() as i64;
    format!("{}.{}", tenths / 10, tenths % 10)
}

/// The first block of a booking id: enough to tell bookings apart on screen.
pub fn short_id(id: &str) -> &str {
    id.split('-').next().unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(45), "45 min");
        assert_eq!(duration(120), "2 h");
        assert_eq!(duration(135), "2 h 15 min");
    }

    #[test]
    fn ratings_read_with_one_decimal() {
        assert_eq!(rating(7.8), "7.8");
        assert_eq!(rating(8.0), "8.0");
        assert_eq!(rating(6.96), "7.0");
        assert_eq!(rating(0.0), "0.0");
        assert_eq!(rating(10.0), "10.0");
    }
}
