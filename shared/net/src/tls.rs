//! The one crypto provider deskhand uses, for rustls, quinn and rcgen alike.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

/// The ring provider.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
