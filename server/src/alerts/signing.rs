//! Standard Webhooks signatures (the scheme Svix and others verify): three headers,
//! `webhook-id` (the notification's id, the same on every attempt, so receivers can dedupe),
//! `webhook-timestamp` (Unix seconds of this attempt, for the receiver's replay window) and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
//!
//! The key: a secret that starts with `whsec_` is a Standard Webhooks secret and the key is the
//! base64 decoding of the rest (what the Standard Webhooks libraries expect); any other secret is
//! used as its UTF-8 bytes, as GitHub and Stripe do, so `hmac_secret = "s3cret"` works with a
//! plain `hmac.new(b"s3cret", ...)` on the receiving side.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The HMAC key derived from a receiver's `hmac_secret`.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    /// `whsec_<base64>` decodes to its bytes; anything else is taken as bytes. Empty secrets and
    /// a `whsec_` prefix before invalid base64 are refused, with the reason.
    pub fn from_secret(secret: &str) -> Result<SigningKey, String> {
        let key = match secret.strip_prefix("whsec_") {
            Some(encoded) => STANDARD
                .decode(encoded)
                .map_err(|e| format!("a secret starting with whsec_ must be base64 after the prefix ({e})"))?,
            None => secret.as_bytes().to_vec(),
        };
        if key.is_empty() {
            return Err("must not be empty".into());
        }
        Ok(SigningKey(key))
    }

    /// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
    pub fn sign(&self, webhook_id: &str, timestamp_s: i64, body: &[u8]) -> String {
        let mut mac = self.mac();
        mac.update(format!("{webhook_id}.{timestamp_s}.").as_bytes());
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }

    /// Whether any of the space-separated `v1,` signatures in `header` is valid (constant-time
    /// comparison), as a receiver would check during key rotation.
    pub fn verify(&self, webhook_id: &str, timestamp_s: i64, body: &[u8], header: &str) -> bool {
        header.split(' ').filter_map(|s| s.strip_prefix("v1,")).any(|encoded| {
            let Ok(signature) = STANDARD.decode(encoded) else { return false };
            let mut mac = self.mac();
            mac.update(format!("{webhook_id}.{timestamp_s}.").as_bytes());
            mac.update(body);
            mac.verify_slice(&signature).is_ok()
        })
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
        HmacSha256::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
    }
}

/// The three Standard Webhooks headers for one attempt.
pub fn headers(key: &SigningKey, webhook_id: &str, timestamp_s: i64, body: &[u8]) -> [(&'static str, String); 3] {
    [
        ("webhook-id", webhook_id.to_string()),
        ("webhook-timestamp", timestamp_s.to_string()),
        ("webhook-signature", key.sign(webhook_id, timestamp_s, body)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_webhooks_reference_vector() {
        // The example from the Standard Webhooks specification and its libraries' tests.
        let key = SigningKey::from_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("key");
        let body = br#"{"test": 2432232314}"#;
        let signature = key.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(key.verify("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body, &format!("v1,bm9wZQ== {signature}")));
        assert!(!key.verify("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_331, body, &signature));
    }

    #[test]
    fn secrets() {
        assert!(SigningKey::from_secret("").is_err());
        assert!(SigningKey::from_secret("whsec_").is_err());
        assert!(SigningKey::from_secret("whsec_not base64!").is_err());
        let plain = SigningKey::from_secret("s3cret").expect("plain");
        assert_eq!(plain.0, b"s3cret");
    }
}
