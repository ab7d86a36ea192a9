//! Who is using the app. Until accounts exist the moviegoer gives a name once
//! and the server keeps a random user id and that name in cookies.

use crate::error::ApiError;
use crate::model::User;
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue};

const USER_ID_COOKIE: &str = "mb_user";
const USER_NAME_COOKIE: &str = "mb_name";
/// A year: long enough to find one's bookings again next week.
const COOKIE_MAX_AGE_SECONDS: u32 = 365 * 24 * 3600;

/// The user named by the request's cookies, if both are present and valid.
pub async fn current_user() -> Result<Option<User>, ApiError> {
    let headers: HeaderMap = leptos_axum::extract()
        .await
        .map_err(|_| ApiError::internal())?;
    Ok(user_from_headers(&headers))
}

pub fn user_from_headers(headers: &HeaderMap) -> Option<User> {
    let id =
        cookie(headers, USER_ID_COOKIE).filter(|id| crate::rules::validate_user_id(id).is_ok())?;
    let name = percent_decode(&cookie(headers, USER_NAME_COOKIE)?)?;
    let name = crate::rules::normalize_user_name(&name).ok()?;
    Some(User { id, name })
}

/// The value of cookie `name` in the request's headers (the last one sent,
/// if there are several).
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|header| header.to_str().ok())
        .flat_map(|text| text.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
        .next_back()
}

/// The current user, or a clear "say who you are first" error.
pub async fn require_user() -> Result<User, ApiError> {
    current_user().await?.ok_or_else(|| {
        ApiError::new(
            crate::error::ErrorCode::SignInRequired,
            "Please enter your name before booking.",
        )
    })
}

/// Remembers `name` for this browser, keeping the user id it already has.
pub async fn sign_in(name: &str) -> Result<User, ApiError> {
    let name = crate::rules::normalize_user_name(name)?;
    let id = match current_user().await? {
        Some(user) => user.id,
        None => format!("u-{}", uuid::Uuid::new_v4().simple()),
    };
    for (cookie, value) in [
        (USER_ID_COOKIE, id.clone()),
        (USER_NAME_COOKIE, percent_encode(&name)),
    ] {
        set_cookie(&format!(
            "{cookie}={value}; Path=/; Max-Age={COOKIE_MAX_AGE_SECONDS}; SameSite=Lax; HttpOnly"
        ))?;
    }
    Ok(User { id, name })
}

/// Adds a `Set-Cookie` header to the response of the server function
/// being run.
pub fn set_cookie(value: &str) -> Result<(), ApiError> {
    let value = HeaderValue::from_str(value).map_err(|_| ApiError::internal())?;
    leptos::prelude::expect_context::<leptos_axum::ResponseOptions>()
        .append_header(SET_COOKIE, value);
    Ok(())
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_survive_the_cookie_round_trip() {
        for name in ["Ada", "Zoë Ñ 李", "a;b=c%"] {
            assert_eq!(percent_decode(&percent_encode(name)).as_deref(), Some(name));
        }
        assert_eq!(percent_decode("%G1"), None);
        assert_eq!(percent_decode("%4"), None);
    }

    #[test]
    fn reads_the_user_from_cookies() {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_static("other=1; mb_user=u-abc; mb_name=Zo%C3%AB"),
        );
        let user = user_from_headers(&headers).unwrap();
        assert_eq!((user.id.as_str(), user.name.as_str()), ("u-abc", "Zoë"));

        headers.insert(
            COOKIE,
            HeaderValue::from_static("mb_user=bad id; mb_name=X"),
        );
        assert_eq!(user_from_headers(&headers), None);
    }
}
