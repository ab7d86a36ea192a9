//! The moviegoer using the app. The server gives each browser an identity
//! the first time it gives a name: a user id it chose, in a session cookie
//! it signed (`access::MOVIEGOER_COOKIE`), so no one can pose as another
//! moviegoer by setting a cookie; the name they gave stays in a cookie of
//! its own, for display.

use crate::access;
use crate::error::ApiError;
use crate::model::User;
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue};

const USER_NAME_COOKIE: &str = "mb_name";
/// The name shown for a moviegoer whose name cookie is gone.
const NAME_UNKNOWN: &str = "Guest";

/// The moviegoer the request's session names, with their name, if any.
pub async fn current_user() -> Result<Option<User>, ApiError> {
    let Some(id) = access::caller().await?.moviegoer else {
        return Ok(None);
    };
    let headers: HeaderMap = leptos_axum::extract()
        .await
        .map_err(|_| ApiError::internal())?;
    let name = cookie(&headers, USER_NAME_COOKIE)
        .and_then(|name| percent_decode(&name))
        .and_then(|name| crate::rules::normalize_user_name(&name).ok())
        .unwrap_or_else(|| NAME_UNKNOWN.to_string());
    Ok(Some(User { id, name }))
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

/// Remembers `name` for this browser: a session for the user id it
/// already has, or for a new one the server chooses.
pub async fn sign_in(name: &str) -> Result<User, ApiError> {
    let existing = access::caller().await?.moviegoer;
    let session = crate::service::sessions()?.moviegoer(existing.as_deref(), name)?;
    set_cookie(&access::moviegoer_cookie(&session))?;
    set_cookie(&name_cookie(&session.user_name))?;
    Ok(User {
        id: session.user_id,
        name: session.user_name,
    })
}

/// The `Set-Cookie` value that keeps a moviegoer's name for display.
pub fn name_cookie(name: &str) -> String {
    format!(
        "{USER_NAME_COOKIE}={}; Path=/; Max-Age={}; SameSite=Lax; HttpOnly",
        percent_encode(name),
        access::MOVIEGOER_SESSION_SECONDS
    )
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
    fn reads_the_last_of_a_cookie() {
        use crate::access::MOVIEGOER_COOKIE;
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_static("other=1; mb_user=a; mb_name=Zo%C3%AB; mb_user=b"),
        );
        assert_eq!(cookie(&headers, MOVIEGOER_COOKIE).as_deref(), Some("b"));
        assert_eq!(
            cookie(&headers, USER_NAME_COOKIE)
                .and_then(|n| percent_decode(&n))
                .as_deref(),
            Some("Zoë")
        );
        assert_eq!(cookie(&headers, "missing"), None);
    }
}
