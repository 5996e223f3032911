//! The day a todo is due.

use std::fmt;

use chrono::{Datelike, NaiveDate};

/// A calendar date from 0001-01-01 to 9999-12-31, written `YYYY-MM-DD`.
///
/// The range is what every adapter can store and every client can read: four-digit years,
/// no year zero, no dates before the common era. A wider type (chrono accepts ±262,143
/// years) would let one adapter accept a date that another refuses with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DueDate(NaiveDate);

/// Why a value is not a [`DueDate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DueDateError {
    /// Not a date written `YYYY-MM-DD`, or no such day (such as 2026-02-30).
    #[error("must be a date written YYYY-MM-DD")]
    Malformed,
    /// A real date, but outside the years 1 to 9999.
    #[error("must be between 0001-01-01 and 9999-12-31")]
    OutOfRange,
}

impl DueDate {
    /// The earliest due date accepted.
    pub const MIN: DueDate = DueDate(date(1, 1, 1));
    /// The latest due date accepted.
    pub const MAX: DueDate = DueDate(date(9999, 12, 31));

    /// The shape [`DueDate::parse`] accepts, as a regular expression: `YYYY-MM-DD` with a
    /// year from 0001. Together with "is a day of the calendar" (JSON Schema's
    /// `format: date`), it is exactly what is accepted.
    pub const PATTERN: &'static str =
        r"^(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-[0-9]{2}-[0-9]{2}$";

    /// Accepts `date` if it is within [`DueDate::MIN`] and [`DueDate::MAX`].
    pub fn new(date: NaiveDate) -> Result<Self, DueDateError> {
        if (1..=9999).contains(&date.year()) {
            Ok(Self(date))
        } else {
            Err(DueDateError::OutOfRange)
        }
    }

    /// Parses exactly `YYYY-MM-DD`: a four-digit year, a two-digit month and day.
    ///
    /// A date written with a sign or a longer year (`-5000-01-01`, `+10000-01-01`, as ISO
    /// 8601's expanded form allows) is understood, and refused as out of range.
    pub fn parse(raw: &str) -> Result<Self, DueDateError> {
        let (signed, unsigned) = match raw.strip_prefix(['-', '+']) {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let mut parts = unsigned.split('-');
        let (Some(year), Some(month), Some(day), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(DueDateError::Malformed);
        };
        if !(digits(year) && year.len() >= 4 && digits(month) && digits(day))
            || month.len() != 2
            || day.len() != 2
        {
            return Err(DueDateError::Malformed);
        }
        if signed || year.len() > 4 {
            return Err(DueDateError::OutOfRange);
        }
        let date =
            NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| DueDateError::Malformed)?;
        Self::new(date)
    }

    /// The date.
    pub fn get(self) -> NaiveDate {
        self.0
    }
}

/// A date known at compile time; an invalid one fails the build, not a request.
const fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(year, month, day) {
        Some(date) => date,
        None => panic!("not a calendar date"),
    }
}

impl fmt::Display for DueDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Years 1 to 9999 always print with exactly four digits.
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn due_date_examples() {
        let cases: &[(&str, Result<&str, DueDateError>)] = &[
            ("2026-04-15", Ok("2026-04-15")),
            ("0001-01-01", Ok("0001-01-01")),
            ("9999-12-31", Ok("9999-12-31")),
            ("2028-02-29", Ok("2028-02-29")),
            ("0000-12-31", Err(DueDateError::OutOfRange)),
            ("-5000-01-01", Err(DueDateError::OutOfRange)),
            ("+10000-01-01", Err(DueDateError::OutOfRange)),
            ("10000-01-01", Err(DueDateError::OutOfRange)),
            ("2026-02-30", Err(DueDateError::Malformed)),
            ("2026-2-3", Err(DueDateError::Malformed)),
            ("31/12/2026", Err(DueDateError::Malformed)),
            ("2026-04-15T00:00:00Z", Err(DueDateError::Malformed)),
            (" 2026-04-15", Err(DueDateError::Malformed)),
            ("", Err(DueDateError::Malformed)),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                pattern_and_calendar(raw),
                expected.is_ok(),
                "pattern, {raw:?}"
            );
            assert_eq!(
                DueDate::parse(raw).map(|d| d.to_string()).as_deref(),
                expected.as_ref().map(|s| *s),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn dates_from_storage_are_held_to_the_same_range() {
        let far = NaiveDate::from_ymd_opt(-5000, 1, 1).unwrap();
        assert_eq!(DueDate::new(far), Err(DueDateError::OutOfRange));
        assert_eq!(DueDate::new(DueDate::MAX.get()), Ok(DueDate::MAX));
        assert_eq!(DueDate::new(DueDate::MIN.get()), Ok(DueDate::MIN));
    }

    /// What a schema with [`DueDate::PATTERN`] and `format: date` accepts.
    fn pattern_and_calendar(raw: &str) -> bool {
        crate::text::pattern_tests::compile(DueDate::PATTERN).is_match(raw)
            && NaiveDate::parse_from_str(raw, "%Y-%m-%d").is_ok()
    }

    proptest! {
        #[test]
        fn the_pattern_with_the_calendar_accepts_exactly_what_parse_does(
            raw in "[-+]?[0-9]{1,5}-[0-9]{1,3}-[0-9]{1,3}"
        ) {
            prop_assert_eq!(pattern_and_calendar(&raw), DueDate::parse(&raw).is_ok());
        }

        #[test]
        fn every_date_in_range_prints_and_parses_back(days in 0i64..3_652_059) {
            let date = DueDate::MIN.get() + chrono::Duration::days(days);
            let due = DueDate::new(date).unwrap();
            prop_assert_eq!(DueDate::parse(&due.to_string()), Ok(due));
        }
    }
}
