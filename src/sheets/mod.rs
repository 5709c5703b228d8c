//! Google Sheets over plain HTTP: a service account's JWT grant for an access token
//! ([`auth`]), then reading a range and appending rows ([`client`]). Both retry 429 and 5xx with
//! the shared retry helper. Base URLs are configurable (proxies, and the tests' fakes).

pub mod auth;
pub mod client;

pub use auth::{ServiceAccount, TokenSource};
pub use client::SheetsClient;

#[derive(Debug, Clone, thiserror::Error)]
pub enum SheetsError {
    #[error("the service account file: {0}")]
    Account(String),
    #[error("Google refused the service account: {0}")]
    Auth(String),
    #[error("Google Sheets refused: {0}")]
    Refused(String),
    #[error("Google Sheets is unreachable or failing: {0}")]
    Unavailable(String),
}

impl SheetsError {
    /// Whether trying again later may help.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}
