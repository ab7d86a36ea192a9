//! Sessions as signed tokens, `<role>.<subject>.<expires>.<signature>`:
//! `op.<operator name>` or `mg.<user id>`, signed with the cluster secret
//! (HMAC-SHA256). A session one node issued is accepted by every node, and
//! none can be forged, renamed, given another role or stretched without
//! the secret. They are stateless: signing out drops the browser's cookie,
//! and a token copied before stays good until it expires.

use crate::runtime::signer::Signer;
use crate::secret::Secret;
use app::access::{
    MoviegoerSession, OperatorSession, MOVIEGOER_SESSION_SECONDS, OPERATOR_SESSION_SECONDS,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Operator,
    Moviegoer,
}

impl Role {
    fn tag(self) -> &'static str {
        match self {
            Role::Operator => "op",
            Role::Moviegoer => "mg",
        }
    }
}

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
        let (token, expires_at) = self.issue(Role::Operator, name, now + OPERATOR_SESSION_SECONDS);
        OperatorSession {
            name: name.to_string(),
            token,
            expires_at,
        }
    }

    /// A session for the moviegoer `user_id` (a valid user id), who goes
    /// by `user_name`.
    pub fn issue_moviegoer(&self, user_id: &str, user_name: &str, now: i64) -> MoviegoerSession {
        let (token, expires_at) =
            self.issue(Role::Moviegoer, user_id, now + MOVIEGOER_SESSION_SECONDS);
        MoviegoerSession {
            user_id: user_id.to_string(),
            user_name: user_name.to_string(),
            token,
            expires_at,
        }
    }

    fn issue(&self, role: Role, subject: &str, expires_at: i64) -> (String, i64) {
        let claims = format!("{}.{subject}.{expires_at}", role.tag());
        let signature = self.signer.sign(signed_text(&claims).as_bytes());
        (format!("{claims}.{signature}"), expires_at)
    }

    /// Whom `token` is a session of, in `role`, if it is genuine and has
    /// not expired at `now`.
    pub fn verify(&self, role: Role, token: &str, now: i64) -> Option<String> {
        let (claims, signature) = token.rsplit_once('.')?;
        if !self
            .signer
            .verify(signed_text(claims).as_bytes(), signature)
        {
            return None;
        }
        let mut parts = claims.split('.');
        let (tag, subject, expires_at) = (parts.next()?, parts.next()?, parts.next()?);
        let expires_at: i64 = expires_at.parse().ok()?;
        (tag == role.tag() && parts.next().is_none() && now < expires_at)
            .then(|| subject.to_string())
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
        let operator = |token: &str, at| other_node.verify(Role::Operator, token, at);
        assert_eq!(operator(&issued.token, NOW + 60).as_deref(), Some("ada"));
        assert_eq!(operator(&issued.token, issued.expires_at), None);
        let moviegoer = keys("s").issue_moviegoer("u-1", "Bo", NOW);
        assert_eq!(moviegoer.expires_at, NOW + MOVIEGOER_SESSION_SECONDS);
        let seen = other_node.verify(Role::Moviegoer, &moviegoer.token, NOW);
        assert_eq!(seen.as_deref(), Some("u-1"));
    }

    #[test]
    fn forged_renamed_promoted_or_stretched_sessions_are_refused() {
        let issued = keys("s").issue_operator("ada", NOW);
        let check = |keys: &SessionKeys, token: &str| keys.verify(Role::Operator, token, NOW);
        assert_eq!(check(&keys("other"), &issued.token), None);
        let renamed = issued.token.replacen("ada", "eve", 1);
        assert_eq!(check(&keys("s"), &renamed), None);
        let stretched = issued.token.replacen(
            &issued.expires_at.to_string(),
            &(NOW + 10_000_000).to_string(),
            1,
        );
        assert_eq!(check(&keys("s"), &stretched), None);
        // A moviegoer's session is no operator's, and the other way round.
        let moviegoer = keys("s").issue_moviegoer("ada", "Ada", NOW).token;
        assert_eq!(check(&keys("s"), &moviegoer), None);
        assert_eq!(
            check(&keys("s"), &moviegoer.replacen("mg.", "op.", 1)),
            None
        );
        assert_eq!(keys("s").verify(Role::Moviegoer, &issued.token, NOW), None);
        for junk in ["", "op", "op.ada.1", "op.ada.x.00", "a.b.c.d.e"] {
            assert_eq!(check(&keys("s"), junk), None, "{junk:?}");
        }
    }
}
