//! How a setting's text becomes its value: the parsers the declarations name in their
//! `value_parser`. Each one trims the text (a `.env` line often ends in a space), and its
//! error says what was expected; clap adds which setting it was.

use std::{ffi::OsStr, fmt::Display, ops::RangeInclusive, str::FromStr, time::Duration};

use clap::{Arg, Command, builder::TypedValueParser, error::ErrorKind};
use ipnet::IpNet;
use secrecy::SecretString;

use crate::secret_url::SecretUrl;

/// A value of any type that parses from text.
pub(super) fn parsed<T>(raw: &str) -> Result<T, String>
where
    T: FromStr,
    T::Err: Display,
{
    raw.trim().parse().map_err(|e: T::Err| e.to_string())
}

/// A whole number in `range`.
pub(super) fn number<T>(
    range: RangeInclusive<T>,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: FromStr + PartialOrd + Display + Copy + Send + Sync + 'static,
    T::Err: Display,
{
    move |raw| {
        let n: T = parsed(raw)?;
        if range.contains(&n) {
            Ok(n)
        } else {
            Err(format!("must be from {} to {}", range.start(), range.end()))
        }
    }
}

/// A whole number at least `min`.
pub(super) fn at_least<T>(
    min: T,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: FromStr + PartialOrd + Display + Copy + Send + Sync + 'static,
    T::Err: Display,
{
    move |raw| {
        let n: T = parsed(raw)?;
        if n >= min {
            Ok(n)
        } else {
            Err(format!("must be at least {min}"))
        }
    }
}

/// A length of time counted in `unit`s (the setting's name says which), at least `min`
/// of them.
fn duration(
    unit: Duration,
    range: RangeInclusive<u64>,
) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    let count = number(range);
    move |raw| {
        let n = count(raw)?;
        u32::try_from(n)
            .ok()
            .and_then(|n| unit.checked_mul(n))
            .ok_or_else(|| "is too long".to_owned())
    }
}

/// Milliseconds (`…_MS`), at least `min`.
pub(super) fn millis(
    min: u64,
) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    duration(Duration::from_millis(1), min..=u64::MAX)
}

/// Seconds (`…_SECS`), at least `min`.
pub(super) fn seconds(
    min: u64,
) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    duration(Duration::from_secs(1), min..=u64::MAX)
}

/// Minutes (`…_MINUTES`), within `range`.
pub(super) fn minutes(
    range: RangeInclusive<u64>,
) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    duration(Duration::from_secs(60), range)
}

/// Hours (`…_HOURS`), at least `min`.
pub(super) fn hours(
    min: u64,
) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    duration(Duration::from_secs(3600), min..=u64::MAX)
}

/// `true` or `false`, and nothing else: a typo such as `yes` is an error, not `false`.
pub(super) fn boolean(raw: &str) -> Result<bool, String> {
    match raw.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

/// A network such as `10.0.0.0/8`; a bare address is a network of one.
pub(super) fn network(raw: &str) -> Result<IpNet, String> {
    let raw = raw.trim();
    raw.parse::<IpNet>()
        .or_else(|_| raw.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{raw:?} is not a network like 10.0.0.0/8"))
}

/// A browser origin such as `https://app.example.org`: a scheme, a host and maybe a port,
/// exactly as a browser sends it in `Origin`.
pub(super) fn origin(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    let parsed = url::Url::parse(raw).map_err(|e| format!("{raw:?} is not an origin ({e})"))?;
    if parsed.origin().ascii_serialization() == raw {
        Ok(raw.to_owned())
    } else {
        Err(format!(
            "{raw:?} is not an origin like https://app.example.org"
        ))
    }
}

/// A secret that is not a URL, such as an HMAC key. Any text will do.
pub(super) fn secret(raw: &str) -> Result<SecretString, String> {
    Ok(SecretString::from(raw.trim()))
}

/// A URL that may carry credentials, with one of `schemes`. Unlike the other parsers, its
/// error never quotes the text: clap's own message would (`invalid value '…' for …`), and
/// the text is a password as often as not.
#[derive(Debug, Clone, Copy)]
pub(super) struct UrlWithSecrets {
    /// The schemes the driver speaks.
    pub schemes: &'static [&'static str],
    /// Why there are not more, if that needs saying.
    pub hint: &'static str,
}

impl TypedValueParser for UrlWithSecrets {
    type Value = SecretUrl;

    fn parse_ref(
        &self,
        _cmd: &Command,
        arg: Option<&Arg>,
        value: &OsStr,
    ) -> Result<SecretUrl, clap::Error> {
        let name = arg.map_or_else(|| "URL".to_owned(), |arg| arg.get_id().to_string());
        let refuse = |reason: String| {
            clap::Error::raw(
                ErrorKind::ValueValidation,
                format!("invalid {name}: {reason}\n"),
            )
        };
        let raw = value.to_str().ok_or_else(|| refuse("not UTF-8".into()))?;
        let url = SecretUrl::parse(raw.trim()).map_err(|e| refuse(format!("not a URL ({e})")))?;
        if !self.schemes.contains(&url.scheme()) {
            return Err(refuse(format!(
                "the scheme must be one of {:?}{}",
                self.schemes, self.hint
            )));
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn numbers_and_durations_are_trimmed_bounded_and_in_their_unit() {
        assert_eq!(at_least(1u32)(" 5 "), Ok(5));
        assert_eq!(at_least(1u32)("0"), Err("must be at least 1".into()));
        assert!(at_least(0u32)("-1").is_err());
        assert_eq!(millis(0)("250"), Ok(Duration::from_millis(250)));
        assert_eq!(seconds(1)("3"), Ok(Duration::from_secs(3)));
        assert_eq!(hours(24)("48"), Ok(Duration::from_secs(48 * 3600)));
        assert!(hours(24)("23").is_err());
        assert_eq!(minutes(1..=1440)("30"), Ok(Duration::from_secs(1800)));
        assert_eq!(
            minutes(1..=1440)("1441"),
            Err("must be from 1 to 1440".into())
        );
        assert!(seconds(0)("1.5").is_err());
        assert_eq!(seconds(0)(&u64::MAX.to_string()), Err("is too long".into()));
    }

    #[test]
    fn booleans_networks_and_origins_are_strict() {
        assert_eq!(boolean("true"), Ok(true));
        assert!(boolean("yes").is_err());
        assert_eq!(network("10.0.0.1").unwrap().to_string(), "10.0.0.1/32");
        assert!(network("10.0.0.0/33").is_err());
        assert_eq!(
            origin("http://localhost:3000").unwrap(),
            "http://localhost:3000"
        );
        for bad in ["https://app.example.org/path", "not an origin", "*"] {
            assert!(origin(bad).is_err(), "{bad}");
        }
    }
}
