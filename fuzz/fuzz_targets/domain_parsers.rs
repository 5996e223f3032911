//! Every parser of the domain's value objects, on any string: none panics, and whatever
//! one accepts prints back to a string that parses to the same value.
#![no_main]

use domain::{
    todo::{Description, DueDate, Tag, Title},
    user::{DisplayName, Email, Password},
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    if let Ok(email) = Email::parse(raw) {
        assert_eq!(Email::parse(email.as_str()).ok().as_ref(), Some(&email));
    }
    if let Ok(title) = Title::new(raw) {
        assert_eq!(Title::new(title.as_str()).ok().as_ref(), Some(&title));
    }
    if let Ok(description) = Description::new(raw) {
        assert_eq!(
            Description::new(description.as_str()).ok().as_ref(),
            Some(&description)
        );
    }
    if let Ok(tag) = Tag::new(raw) {
        assert_eq!(Tag::new(tag.as_str()).ok().as_ref(), Some(&tag));
    }
    if let Ok(name) = DisplayName::new(raw) {
        assert_eq!(DisplayName::new(name.as_str()).ok().as_ref(), Some(&name));
    }
    if let Ok(date) = DueDate::parse(raw) {
        assert_eq!(DueDate::parse(&date.to_string()).ok(), Some(date));
    }
    let _ = Password::new(raw.to_owned());
});
