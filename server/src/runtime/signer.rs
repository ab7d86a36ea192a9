//! HMAC-SHA256 with the cluster secret: what makes a node's envelope
//! (`envelope.rs`) or a session token (`auth::sessions`) genuine. A module
//! of its own because both use it, and neither is the other.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Signs and verifies bodies with the cluster secret.
#[derive(Clone)]
pub struct Signer {
    secret: Vec<u8>,
}

impl Signer {
    pub fn new(secret: &str) -> Self {
        Signer {
            secret: secret.as_bytes().to_vec(),
        }
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC accepts keys of any length, so this cannot fail.
        Hmac::<Sha256>::new_from_slice(&self.secret).unwrap_or_else(|_| unreachable!())
    }

    pub fn sign(&self, body: &[u8]) -> String {
        let mut mac = self.mac();
        mac.update(body);
        to_hex(&mac.finalize().into_bytes())
    }

    /// True if `signature` is the hex HMAC of `body` (compared in constant time).
    pub fn verify(&self, body: &[u8], signature: &str) -> bool {
        let Some(bytes) = from_hex(signature) else {
            return false;
        };
        let mut mac = self.mac();
        mac.update(body);
        mac.verify_slice(&bytes).is_ok()
    }
}

/// Bytes as lower-case hex, two digits each.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_with_the_same_secret_and_body() {
        let signer = Signer::new("s3cret");
        let signature = signer.sign(b"hello");
        assert!(signer.verify(b"hello", &signature));
        assert!(!signer.verify(b"hellO", &signature));
        assert!(!Signer::new("other").verify(b"hello", &signature));
        assert!(!signer.verify(b"hello", "zz"));
        assert!(!signer.verify(b"hello", ""));
        assert!(!signer.verify(b"hello", "é1"));
    }
}
