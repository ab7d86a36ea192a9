//! The booking rules, written once and used by the server (to enforce them)
//! and by the browser (to explain them before a request is even sent).

use crate::error::ApiError;
use crate::model::NewMovie;

/// The most seats one booking may hold.
pub const MAX_SEATS_PER_BOOKING: usize = 10;
pub const MAX_USER_NAME_CHARS: usize = 60;
pub const MAX_USER_ID_CHARS: usize = 64;

/// The shape of an auditorium: rows lettered from the screen back, seats
/// numbered from 1, aisles after some seat numbers, and premium rows.
#[derive(Clone, Debug, PartialEq)]
pub struct SeatLayout {
    pub rows: u16,
    pub seats_per_row: u16,
    pub aisles_after: Vec<u16>,
    pub premium_rows: Vec<String>,
}

impl SeatLayout {
    /// "A" for row 0 up to "Z" for row 25.
    pub fn row_label(row: u16) -> String {
        char::from(b'A' + (row as u8)).to_string()
    }

    /// Every row label, front row first.
    pub fn row_labels(&self) -> impl Iterator<Item = String> {
        (0..self.rows).map(Self::row_label)
    }

    pub fn is_premium(&self, row_label: &str) -> bool {
        self.premium_rows.iter().any(|r| r == row_label)
    }

    /// Splits a label such as "C7" into its row and seat number, if the seat
    /// exists in this layout.
    pub fn parse_seat<'a>(&self, label: &'a str) -> Option<(&'a str, u16)> {
        let mut chars = label.chars();
        let row = chars.next()?;
        if !row.is_ascii_uppercase() || (row as u16 - 'A' as u16) >= self.rows {
            return None;
        }
        let number_text = chars.as_str();
        if number_text.starts_with('0') {
            return None;
        }
        let number: u16 = number_text.parse().ok()?;
        (1..=self.seats_per_row)
            .contains(&number)
            .then_some((&label[..1], number))
    }

    pub fn seat_count(&self) -> i64 {
        i64::from(self.rows) * i64::from(self.seats_per_row)
    }
}

/// Prices of the two kinds of seat in one showtime, in cents.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeatPrices {
    pub standard_cents: i64,
    pub premium_cents: i64,
}

impl SeatPrices {
    pub fn for_row(&self, layout: &SeatLayout, row_label: &str) -> i64 {
        if layout.is_premium(row_label) {
            self.premium_cents
        } else {
            self.standard_cents
        }
    }
}

/// Checks a seat selection against a layout and prices it: each seat with its
/// price, in the order given. Rejects an empty selection, too many seats,
/// duplicates and seats the auditorium does not have.
pub fn price_seats(
    layout: &SeatLayout,
    prices: SeatPrices,
    seats: &[String],
) -> Result<Vec<(String, i64)>, ApiError> {
    if seats.is_empty() {
        return Err(ApiError::invalid("Choose at least one seat."));
    }
    if seats.len() > MAX_SEATS_PER_BOOKING {
        return Err(ApiError::invalid(format!(
            "One booking can hold at most {MAX_SEATS_PER_BOOKING} seats; you asked for {}.",
            seats.len()
        )));
    }
    let mut priced = Vec::with_capacity(seats.len());
    for (index, label) in seats.iter().enumerate() {
        if seats[..index].contains(label) {
            return Err(ApiError::invalid(format!("Seat {label} is listed twice.")));
        }
        let Some((row, _)) = layout.parse_seat(label) else {
            return Err(ApiError::invalid(format!(
                "There is no seat {} in this auditorium.",
                shorten(label)
            )));
        };
        priced.push((label.clone(), prices.for_row(layout, row)));
    }
    Ok(priced)
}

/// A user id: the opaque token the app keeps in a cookie, or any id a REST
/// client chooses. Letters, digits, '-' and '_' only.
pub fn validate_user_id(user_id: &str) -> Result<(), ApiError> {
    let ok = !user_id.is_empty()
        && user_id.len() <= MAX_USER_ID_CHARS
        && user_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "userId must be 1 to {MAX_USER_ID_CHARS} letters, digits, '-' or '_'."
        )))
    }
}

/// Trims a display name and checks it is printable and not too long.
pub fn normalize_user_name(name: &str) -> Result<String, ApiError> {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err(ApiError::invalid("Please enter your name."));
    }
    if name.chars().count() > MAX_USER_NAME_CHARS {
        return Err(ApiError::invalid(format!(
            "A name can be at most {MAX_USER_NAME_CHARS} characters long."
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "A name cannot contain control characters.",
        ));
    }
    Ok(name)
}

/// Checks a new movie's fields before it reaches storage.
pub fn validate_new_movie(movie: &NewMovie) -> Result<(), ApiError> {
    let text_ok = |s: &str, max: usize| !s.trim().is_empty() && s.chars().count() <= max;
    if !text_ok(&movie.title, 200) {
        return Err(ApiError::invalid("title must be 1 to 200 characters."));
    }
    if !text_ok(&movie.description, 5000) {
        return Err(ApiError::invalid(
            "description must be 1 to 5000 characters.",
        ));
    }
    if movie.genres.is_empty()
        || movie.genres.len() > 8
        || movie.genres.iter().any(|g| !text_ok(g, 40))
    {
        return Err(ApiError::invalid(
            "genres must list 1 to 8 genres of 1 to 40 characters each.",
        ));
    }
    if !(0.0..=10.0).contains(&movie.rating) {
        return Err(ApiError::invalid("rating must be between 0 and 10."));
    }
    if !(1..=600).contains(&movie.duration_minutes) {
        return Err(ApiError::invalid(
            "durationMinutes must be between 1 and 600.",
        ));
    }
    if !(1888..=2100).contains(&movie.release_year) {
        return Err(ApiError::invalid(
            "releaseYear must be between 1888 and 2100.",
        ));
    }
    if !text_ok(&movie.certificate, 10) {
        return Err(ApiError::invalid("certificate must be 1 to 10 characters."));
    }
    if let Some(url) = &movie.poster_url {
        let local = url.starts_with('/') && !url.starts_with("//") && url.len() <= 300;
        if !local {
            return Err(ApiError::invalid(
                "posterUrl must be a site-relative path such as /posters/film.svg.",
            ));
        }
    }
    Ok(())
}

/// "$12.50" from 1250.
pub fn format_price(cents: i64) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

/// Echoes user text in an error without letting it flood the message.
fn shorten(text: &str) -> String {
    const MAX: usize = 12;
    if text.chars().count() <= MAX {
        format!("\"{text}\"")
    } else {
        let head: String = text.chars().take(MAX).collect();
        format!("\"{head}…\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn hall() -> SeatLayout {
        SeatLayout {
            rows: 5,
            seats_per_row: 8,
            aisles_after: vec![4],
            premium_rows: vec!["C".into()],
        }
    }

    const PRICES: SeatPrices = SeatPrices {
        standard_cents: 1000,
        premium_cents: 1500,
    };

    fn labels(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_only_seats_that_exist() {
        let layout = hall();
        assert_eq!(layout.parse_seat("A1"), Some(("A", 1)));
        assert_eq!(layout.parse_seat("E8"), Some(("E", 8)));
        for bad in [
            "", "A", "A0", "A9", "F1", "a1", "A01", "1A", "A-1", "AA1", "É1",
        ] {
            assert_eq!(layout.parse_seat(bad), None, "{bad} should not parse");
        }
    }

    #[test]
    fn prices_premium_rows_higher_and_keeps_order() {
        let priced = price_seats(&hall(), PRICES, &labels(&["C2", "A1"])).unwrap();
        assert_eq!(priced, vec![("C2".into(), 1500), ("A1".into(), 1000)]);
    }

    #[test]
    fn rejects_empty_duplicate_unknown_and_too_many_seats() {
        let layout = hall();
        let code = |seats: &[&str]| price_seats(&layout, PRICES, &labels(seats)).unwrap_err();
        assert_eq!(code(&[]).code, ErrorCode::InvalidInput);
        assert!(code(&["A1", "A1"]).message.contains("A1"));
        assert!(code(&["Z9"]).message.contains("Z9"));
        let eleven: Vec<String> = (1..=8)
            .map(|n| format!("A{n}"))
            .chain(["B1".into(), "B2".into(), "B3".into()])
            .collect();
        let err = price_seats(&layout, PRICES, &eleven).unwrap_err();
        assert!(err.message.contains("at most 10"));
        let ten = &eleven[..10];
        assert_eq!(price_seats(&layout, PRICES, ten).unwrap().len(), 10);
    }

    #[test]
    fn user_ids_and_names_are_checked() {
        assert!(validate_user_id("u-1f2e_3").is_ok());
        assert!(validate_user_id("").is_err());
        assert!(validate_user_id("has space").is_err());
        assert!(validate_user_id(&"x".repeat(65)).is_err());
        assert_eq!(
            normalize_user_name("  Ada   Lovelace ").unwrap(),
            "Ada Lovelace"
        );
        assert!(normalize_user_name("   ").is_err());
        assert!(normalize_user_name(&"é".repeat(61)).is_err());
        assert_eq!(normalize_user_name("Zoë").unwrap(), "Zoë");
    }

    #[test]
    fn formats_prices() {
        assert_eq!(format_price(1250), "$12.50");
        assert_eq!(format_price(5), "$0.05");
    }

    #[test]
    fn long_user_text_is_shortened_in_messages() {
        let junk = "X".repeat(500);
        let err = price_seats(&hall(), PRICES, &[junk]).unwrap_err();
        assert!(err.message.len() < 80);
    }
}
