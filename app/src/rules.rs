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

    pub fn is_premium(&self, row_label: &str) -> bool {
        self.premium_rows.iter().any(|r| r == row_label)
    }

    /// The label of seat `number` of row `row`: the one spelling of a seat.
    pub fn seat_label(row: u16, number: u16) -> String {
        format!("{}{number}", Self::row_label(row))
    }

    /// Looks a client's text up among this layout's seat labels. A seat has
    /// exactly one spelling, `seat_label`'s; anything else (a sign, a leading
    /// zero, lower case, spaces, non-ASCII digits or letters, invisible
    /// characters) names no seat, so two spellings can never reach storage as
    /// two different seats.
    pub fn find_seat(&self, text: &str) -> Option<SeatPosition> {
        let bytes = text.as_bytes();
        let (&row_byte, digits) = bytes.split_first()?;
        if !row_byte.is_ascii_uppercase() || u16::from(row_byte - b'A') >= self.rows {
            return None;
        }
        // At most five digits, so the number cannot overflow.
        let well_formed = (1..=5).contains(&digits.len())
            && digits[0] != b'0'
            && digits.iter().all(u8::is_ascii_digit);
        if !well_formed {
            return None;
        }
        let number = digits
            .iter()
            .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
        let number = u16::try_from(number).ok()?;
        if !(1..=self.seats_per_row).contains(&number) {
            return None;
        }
        let seat = SeatPosition {
            row: u16::from(row_byte - b'A'),
            number,
        };
        debug_assert_eq!(Self::seat_label(seat.row, seat.number), text);
        Some(seat)
    }

    pub fn seat_count(&self) -> i64 {
        i64::from(self.rows) * i64::from(self.seats_per_row)
    }
}

/// Where a seat is: its row (0 nearest the screen) and its number (from 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeatPosition {
    pub row: u16,
    pub number: u16,
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

/// Checks a seat selection against a layout and prices it: each seat's
/// label, as the layout spells it, with its price, in the seat map's order
/// (by row, then number), whatever order they were given in.
/// Rejects an empty selection, too many seats, duplicates and anything that
/// is not one of the auditorium's seat labels.
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
    let mut found = Vec::with_capacity(seats.len());
    for text in seats {
        let Some(seat) = layout.find_seat(text) else {
            return Err(ApiError::invalid(format!(
                "There is no seat {} in this auditorium.",
                shorten(text)
            )));
        };
        if found.contains(&seat) {
            let label = SeatLayout::seat_label(seat.row, seat.number);
            return Err(ApiError::invalid(format!("Seat {label} is listed twice.")));
        }
        found.push(seat);
    }
    // In the seat map's order, the one order a booking's seats are given in.
    found.sort_unstable_by_key(|seat| (seat.row, seat.number));
    Ok(found
        .into_iter()
        .map(|seat| {
            let price = prices.for_row(layout, &SeatLayout::row_label(seat.row));
            (SeatLayout::seat_label(seat.row, seat.number), price)
        })
        .collect())
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

/// A display name in its one canonical form: Unicode NFC, runs of white
/// space collapsed to one space, no leading or trailing space. Refuses names
/// that are empty, too long, or hold control or invisible formatting
/// characters (zero-width spaces, direction overrides), which would let two
/// names look alike.
pub fn normalize_user_name(name: &str) -> Result<String, ApiError> {
    use unicode_normalization::UnicodeNormalization;
    if name
        .chars()
        .any(|c| c.is_control() || is_invisible_format(c))
    {
        return Err(ApiError::invalid(
            "A name cannot contain control or invisible characters.",
        ));
    }
    let name: String = name.nfc().collect();
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err(ApiError::invalid("Please enter your name."));
    }
    if name.chars().count() > MAX_USER_NAME_CHARS {
        return Err(ApiError::invalid(format!(
            "A name can be at most {MAX_USER_NAME_CHARS} characters long."
        )));
    }
    Ok(name)
}

/// Unicode format characters that render as nothing: soft hyphen, zero-width
/// spaces and joiners, direction marks, embeddings, overrides and isolates,
/// invisible operators, the byte-order mark, interlinear annotation marks.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

/// Checks a new movie's fields before it reaches storage.
pub fn validate_new_movie(movie: &NewMovie) -> Result<(), ApiError> {
    // Control characters are refused (PostgreSQL cannot store a NUL, and
    // the others would print as nothing), except line breaks and tabs in
    // the description.
    let text_ok = |s: &str, max: usize| {
        !s.trim().is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control)
    };
    let prose_ok = |s: &str, max: usize| text_ok(&s.replace(['\n', '\r', '\t'], " "), max);
    if !text_ok(&movie.title, 200) {
        return Err(ApiError::invalid(
            "title must be 1 to 200 characters, with no control characters.",
        ));
    }
    if !prose_ok(&movie.description, 5000) {
        return Err(ApiError::invalid(
            "description must be 1 to 5000 characters, with no control characters but line breaks and tabs.",
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
        let local = url.starts_with('/')
            && !url.starts_with("//")
            && url.len() <= 300
            && !url.chars().any(|c| c.is_control() || c.is_whitespace());
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
pub fn shorten(text: &str) -> String {
    const MAX: usize = 12;
    if text.chars().count() <= MAX {
        format!("\"{text}\"")
    } else {
        let head: String = text.chars().take(MAX).collect();
        format!("\"{head}…\"")
    }
}

const MAX_OPERATOR_NAME_CHARS: usize = 32;
const MIN_NEW_PASSWORD_CHARS: usize = 12;
const MAX_PASSWORD_CHARS: usize = 256;

/// An operator's name in its one spelling: lower case ASCII letters,
/// digits, '-' and '_', starting with a letter, at most 32 characters.
/// Upper case letters are lowered and surrounding spaces dropped.
pub fn normalize_operator_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim().to_ascii_lowercase();
    let ok = name.len() <= MAX_OPERATOR_NAME_CHARS
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(name)
    } else {
        Err(ApiError::invalid(format!(
            "An operator's name is a letter, then up to {} letters, digits, '-' or '_'.",
            MAX_OPERATOR_NAME_CHARS - 1
        )))
    }
}

/// A password offered at sign-in: anything but empty or overlong.
pub fn validate_password(password: &str) -> Result<(), ApiError> {
    if password.is_empty() || password.chars().count() > MAX_PASSWORD_CHARS {
        return Err(ApiError::invalid(format!(
            "A password is 1 to {MAX_PASSWORD_CHARS} characters."
        )));
    }
    Ok(())
}

/// A password chosen for a new account: at least 12 characters.
pub fn validate_new_password(password: &str) -> Result<(), ApiError> {
    validate_password(password)?;
    if password.chars().count() < MIN_NEW_PASSWORD_CHARS {
        return Err(ApiError::invalid(format!(
            "An operator's password needs at least {MIN_NEW_PASSWORD_CHARS} characters."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn movie() -> NewMovie {
        NewMovie {
            title: "Arrival".into(),
            description: "Linguists.\n\tAliens.".into(),
            genres: vec!["Drama".into()],
            rating: 7.9,
            duration_minutes: 116,
            release_year: 2016,
            certificate: "PG-13".into(),
            poster_url: Some("/posters/arrival.svg".into()),
        }
    }

    #[test]
    fn a_new_movie_holds_no_control_characters() {
        assert_eq!(validate_new_movie(&movie()), Ok(()));
        let refused = [
            NewMovie {
                title: "Arr\0ival".into(),
                ..movie()
            },
            NewMovie {
                description: "Linguists\0".into(),
                ..movie()
            },
            NewMovie {
                description: "\u{7}".into(),
                ..movie()
            },
            NewMovie {
                genres: vec!["\u{3}".into()],
                ..movie()
            },
            NewMovie {
                certificate: "PG\r".into(),
                ..movie()
            },
            NewMovie {
                poster_url: Some("/posters/a\0.svg".into()),
                ..movie()
            },
            NewMovie {
                poster_url: Some("/posters/a b.svg".into()),
                ..movie()
            },
        ];
        for movie in refused {
            let error = validate_new_movie(&movie).expect_err("refused");
            assert_eq!(error.code, ErrorCode::InvalidInput, "{movie:?}");
        }
    }

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
    fn finds_only_seats_that_exist_under_their_own_label() {
        let layout = hall();
        assert_eq!(
            layout.find_seat("A1"),
            Some(SeatPosition { row: 0, number: 1 })
        );
        assert_eq!(
            layout.find_seat("E8"),
            Some(SeatPosition { row: 4, number: 8 })
        );
        for bad in [
            "",
            "A",
            "A0",
            "A9",
            "F1",
            "a1",
            "A01",
            "1A",
            "A-1",
            "A+1",
            "AA1",
            "É1",
            " A1",
            "A1 ",
            "A 1",
            "A\u{200B}1",
            "A\u{FF11}",
            "\u{FF21}1",
            "\u{0410}1",
            "A\u{0661}",
            "A1\0",
            "A00001",
            "A65537",
        ] {
            assert_eq!(layout.find_seat(bad), None, "{bad:?} should name no seat");
        }
    }

    #[test]
    fn prices_premium_rows_higher_in_the_seat_maps_order() {
        let priced = price_seats(&hall(), PRICES, &labels(&["C2", "A1"])).unwrap();
        assert_eq!(priced, vec![("A1".into(), 1000), ("C2".into(), 1500)]);
        let order = |seats: &[&str]| -> Vec<String> {
            let priced = price_seats(&hall(), PRICES, &labels(seats)).unwrap();
            priced.into_iter().map(|(label, _)| label).collect()
        };
        assert_eq!(order(&["B1", "A8", "A2"]), ["A2", "A8", "B1"]);
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
        // One spelling: a decomposed ë becomes the composed one.
        assert_eq!(normalize_user_name("Zoe\u{308}").unwrap(), "Zo\u{eb}");
        for invisible in [
            "Ada\u{200B}",
            "A\u{202E}da",
            "\u{FEFF}Ada",
            "Ad\u{AD}a",
            "Ada\n",
        ] {
            assert!(normalize_user_name(invisible).is_err(), "{invisible:?}");
        }
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

    mod spellings {
        use super::*;
        use proptest::prelude::*;

        /// How many ways `respell` knows.
        const RESPELLINGS: usize = 19;

        /// Way number `way` that a client might spell seat `row``number`
        /// other than its label.
        fn respell(way: usize, row: char, number: u16) -> String {
            let (r, n) = (row, number);
            match way {
                0 => format!("{r}+{n}"),
                1 => format!("{r}0{n}"),
                2 => format!("{r}00{n}"),
                3 => format!("{}{n}", r.to_ascii_lowercase()),
                4 => format!(" {r}{n}"),
                5 => format!("{r}{n} "),
                6 => format!("{r} {n}"),
                7 => format!("{r}\t{n}"),
                8 => format!("{r}-{n}"),
                9 => format!("{r}\u{200B}{n}"),
                10 => format!("{r}{n}\u{200D}"),
                11 => format!("\u{FEFF}{r}{n}"),
                // Full-width digits and letters.
                12 => format!("{r}{}", shift_digits(n, '\u{FF10}')),
                13 => format!(
                    "{}{n}",
                    char::from_u32(r as u32 - 'A' as u32 + 0xFF21).unwrap()
                ),
                // Arabic-Indic and Devanagari digits.
                14 => format!("{r}{}", shift_digits(n, '\u{0660}')),
                15 => format!("{r}{}", shift_digits(n, '\u{0966}')),
                // A Cyrillic or Greek capital that looks like the Latin one.
                16 => format!("{}{n}", look_alike(r)),
                17 => format!("{r}{n}.0"),
                _ => format!("{r}{n}{r}{n}"),
            }
        }

        fn shift_digits(number: u16, zero: char) -> String {
            number
                .to_string()
                .chars()
                .map(|d| char::from_u32(zero as u32 + (d as u32 - '0' as u32)).unwrap())
                .collect()
        }

        fn look_alike(row: char) -> char {
            match row {
                'A' => '\u{0410}',
                'B' => '\u{0392}',
                'C' => '\u{0421}',
                'E' => '\u{0415}',
                _ => '\u{0406}',
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            /// No other spelling of a seat is accepted as any seat.
            #[test]
            fn a_seat_has_exactly_one_spelling(
                row in 0u16..5, number in 1u16..=8, way in 0..RESPELLINGS
            ) {
                let layout = hall();
                let row_letter = SeatLayout::row_label(row).chars().next().unwrap();
                let label = SeatLayout::seat_label(row, number);
                prop_assert_eq!(layout.find_seat(&label), Some(SeatPosition { row, number }));
                let other = respell(way, row_letter, number);
                prop_assert_ne!(&other, &label);
                prop_assert_eq!(layout.find_seat(&other), None, "{:?} was taken for {}", other, label);
                let priced = price_seats(&layout, PRICES, &[other]);
                prop_assert!(priced.is_err());
            }

            /// Whatever text names a seat is that seat's label, character for
            /// character, so storage only ever sees labels.
            #[test]
            fn any_text_that_names_a_seat_is_its_label(text in "\\PC{0,6}") {
                if let Some(seat) = hall().find_seat(&text) {
                    prop_assert_eq!(SeatLayout::seat_label(seat.row, seat.number), text);
                }
            }

            #[test]
            fn priced_seats_carry_the_layout_labels(
                seats in proptest::collection::btree_set((0u16..5, 1u16..=8), 1..=10)
            ) {
                let labels: Vec<String> =
                    seats.iter().map(|&(r, n)| SeatLayout::seat_label(r, n)).collect();
                let priced = price_seats(&hall(), PRICES, &labels).unwrap();
                let priced: Vec<String> = priced.into_iter().map(|(label, _)| label).collect();
                prop_assert_eq!(priced, labels);
            }
        }
    }

    #[test]
    fn operator_names_have_one_spelling() {
        assert_eq!(normalize_operator_name(" Admin ").unwrap(), "admin");
        assert_eq!(normalize_operator_name("ops-2_b").unwrap(), "ops-2_b");
        for bad in ["", "2ops", "ad min", "ad.min", "é", &"a".repeat(33)] {
            assert!(normalize_operator_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn new_passwords_are_long_enough_and_none_is_overlong() {
        assert!(validate_new_password("short").is_err());
        assert!(validate_new_password("twelve chars").is_ok());
        assert!(validate_password("").is_err());
        assert!(validate_password(&"x".repeat(257)).is_err());
    }
}
