//! Sessions as signed tokens, `op.<name>.<expires>.<signature>`, signed
//! with the cluster secret (HMAC-SHA256): a session one node issued is
//! accepted by every node, and none can be forged, renamed or stretched
//! without the secret. They are stateless: signing out drops the browser's
//! cookie, and a token copied before stays good until it expires (at most
//! `OPERATOR_SESSION_SECONDS`).

use crate::runtime::transport::Signer;
use crate::secret::Secret;
use app::access::{OperatorSession, OPERATOR_SESSION_SECONDS};

const OPERATOR_ROLE: &str = "op";

pub struct SessionKeys {
    signer: Signer,
}

impl SessionKeys {
    pub fn new(secret: &Secret) -> Self {
        SessionKeys {
            signer: Signer::new(secret.expose()),
        }
    }

    /// A session for operator `name` (a canonical name), from `now`
    /// (seconds since the Unix epoch).
    pub fn issue_operator(&self, name: &str, now: i64) -> OperatorSession {
        let expires_at = now + OPERATOR_SESSION_SECONDS;
        let claims = format!("{OPERATOR_ROLE}.{name}.{expires_at}");
        let signature = self.signer.sign(signed_text(&claims).as_bytes());
        OperatorSession {
            name: name.to_string(),
            token: format!("{claims}.{signature}"),
            expires_at,
        }
    }

    /// The operator `token` is a session of, if it is genuine and has not
    /// expired at `now`.
    pub fn operator(&self, token: &str, now: i64) -> Option<String> {
        let (claims, signature) = token.rsplit_once('.')?;
        if !self
            .signer
            .verify(signed_text(claims).as_bytes(), signature)
        {
            return None;
        }
        let mut parts = claims.split('.');
        let (role, name, expires_at) = (parts.next()?, parts.next()?, parts.next()?);
        let expires_at: i64 = expires_at.parse().ok()?;
        (role == OPERATOR_ROLE && parts.next().is_none() && now < expires_at)
            .then(|| name.to_string())
    }
}

/// What is signed: the claims, marked as a session's, so that no signature
/// the cluster makes for another purpose can pass for one.
fn signed_text(claims: &str) -> String {
    format!("moviebook-session|{claims}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn keys(secret: &str) -> SessionKeys {
        SessionKeys::new(&Secret::new(secret))
    }

    #[test]
    fn a_session_is_accepted_by_any_holder_of_the_secret_until_it_expires() {
        let issued = keys("s").issue_operator("ada", NOW);
        assert_eq!(issued.expires_at, NOW + OPERATOR_SESSION_SECONDS);
        let other_node = keys("s");
        assert_eq!(
            other_node.operator(&issued.token, NOW + 60).as_deref(),
            Some("ada")
        );
        assert_eq!(other_node.operator(&issued.token, issued.expires_at), None);
    }

    #[test]
    fn forged_renamed_or_stretched_sessions_are_refused() {
        let issued = keys("s").issue_operator("ada", NOW);
        assert_eq!(keys("other").operator(&issued.token, NOW), None);
        let renamed = issued.token.replacen("ada", "eve", 1);
        assert_eq!(keys("s").operator(&renamed, NOW), None);
        let stretched = issued.token.replacen(
            &issued.expires_at.to_string(),
            &(NOW + 10_000_000).to_string(),
            1,
        );
        assert_eq!(keys("s").operator(&stretched, NOW), None);
        for junk in ["", "op", "op.ada.1", "op.ada.x.00", "a.b.c.d.e"] {
            assert_eq!(keys("s").operator(junk, NOW), None, "{junk:?}");
        }
    }
}
