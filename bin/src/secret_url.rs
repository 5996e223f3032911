//! A URL that may carry credentials: the one type every such setting is held in.
//!
//! A URL hides its secrets in more places than the password: a query parameter
//! (`postgres://app@db/todo?password=…`), or the path of a webhook (many services put the
//! token there). [`SecretUrl`] prints, through `Display` and `Debug` alike, only what says
//! where it points, so a log line, `backend config` or an error message cannot leak it;
//! the whole URL comes out only through [`SecretUrl::expose`], which the drivers call.

use std::fmt;

use url::Url;

/// What takes the place of a hidden part.
const REDACTED: &str = "REDACTED";

/// A URL with credentials in it, redacted whenever it is printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(Url);

impl SecretUrl {
    /// Parses `raw`.
    ///
    /// # Errors
    /// When `raw` is not a URL. The error does not quote it.
    pub fn parse(raw: &str) -> Result<Self, url::ParseError> {
        Url::parse(raw).map(Self)
    }

    /// The whole URL, credentials included: for the driver that connects with it, and
    /// nothing else.
    pub fn expose(&self) -> &Url {
        &self.0
    }

    /// The scheme, which is never secret.
    pub fn scheme(&self) -> &str {
        self.0.scheme()
    }

    /// The URL as it may be shown: the password and every query value replaced, and for
    /// anything but a database URL (whose path is a database's name or number) the path
    /// too, since a webhook's path is often its token.
    fn redacted(&self) -> Url {
        let mut shown = self.0.clone();
        if shown.password().is_some() {
            // Only a URL that cannot have a password refuses one, and this one has one.
            let _ = shown.set_password(Some(REDACTED));
        }
        if shown.query().is_some() {
            let keys: Vec<String> = shown
                .query_pairs()
                .map(|(key, _)| key.into_owned())
                .collect();
            shown
                .query_pairs_mut()
                .clear()
                .extend_pairs(keys.iter().map(|key| (key.as_str(), REDACTED)));
        }
        let database = matches!(
            shown.scheme(),
            "postgres" | "postgresql" | "redis" | "rediss"
        );
        if !database && !matches!(shown.path(), "" | "/") {
            shown.set_path(REDACTED);
        }
        shown.set_fragment(None);
        shown
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.redacted().fmt(f)
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SecretUrl")
            .field(&self.redacted().as_str())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn shown(raw: &str) -> String {
        SecretUrl::parse(raw).unwrap().to_string()
    }

    #[test]
    fn every_place_a_secret_can_hide_is_redacted() {
        assert_eq!(
            shown("postgres://app:hunter2@db:5432/todo"),
            "postgres://app:REDACTED@db:5432/todo"
        );
        assert_eq!(
            shown("postgres://app@db/todo?password=s3cret&sslmode=require"),
            "postgres://app@db/todo?password=REDACTED&sslmode=REDACTED"
        );
        assert_eq!(
            shown("redis://:s3cret@cache:6379/2"),
            "redis://:REDACTED@cache:6379/2"
        );
        assert_eq!(
            shown("http://hooks.example.org/services/T0/B0/s3cret?token=s3cret#s3cret"),
            "http://hooks.example.org/REDACTED?token=REDACTED"
        );
        assert_eq!(
            shown("http://hooks.example.org"),
            "http://hooks.example.org/"
        );
    }

    #[test]
    fn debug_redacts_too_and_expose_gives_the_whole_url() {
        let url = SecretUrl::parse("postgres://app@db/todo?password=s3cret").unwrap();
        assert!(!format!("{url:?}").contains("s3cret"), "{url:?}");
        assert_eq!(
            url.expose().as_str(),
            "postgres://app@db/todo?password=s3cret"
        );
    }
}
