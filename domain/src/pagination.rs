//! Page sizes for every list in the API.
//!
//! Lists are paginated with a cursor (the last id seen) rather than an offset: ids are
//! UUIDv7, so "newer than" and "older than" are plain comparisons on an index, and a page
//! never shifts when rows are inserted in front of it.

/// How many items one page holds: 1 to [`PageSize::MAX`], [`PageSize::DEFAULT`] when the
/// client does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PageSize(u16);

/// A page size outside `1..=PageSize::MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be between 1 and {max}", max = PageSize::MAX)]
pub struct PageSizeError;

impl PageSize {
    /// The largest page a client may ask for; bounds the work one request can cause.
    pub const MAX: u16 = 100;
    /// The page size used when the client does not choose one.
    pub const DEFAULT: PageSize = PageSize(20);

    /// Checks that `n` is between 1 and [`PageSize::MAX`].
    pub fn new(n: u64) -> Result<Self, PageSizeError> {
        match u16::try_from(n) {
            Ok(n) if (1..=Self::MAX).contains(&n) => Ok(Self(n)),
            _ => Err(PageSizeError),
        }
    }

    /// The size as a number.
    pub fn get(self) -> u16 {
        self.0
    }
}

impl Default for PageSize {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One page of a list, newest first, with the cursor for the next page when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T, C> {
    /// The items on this page.
    pub items: Vec<T>,
    /// Pass this back as the cursor to get the next page; `None` on the last page.
    pub next_cursor: Option<C>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_accepts_exactly_one_to_one_hundred() {
        for (n, ok) in [
            (0, false),
            (1, true),
            (20, true),
            (100, true),
            (101, false),
            (u64::MAX, false),
        ] {
            assert_eq!(PageSize::new(n).is_ok(), ok, "page size {n}");
        }
    }

    #[test]
    fn the_default_page_size_is_twenty() {
        assert_eq!(PageSize::default().get(), 20);
    }
}
