//! A registration as a client sent it; see [`crate::input`].

use domain::user::{DisplayName, Email, Password};

use crate::{AppError, FieldViolations, input::FieldNames, users::Registration};

/// A new account, its fields as given.
#[derive(Debug, Clone)]
pub struct RegistrationInput {
    /// The login email.
    pub email: String,
    /// The password, kept exactly as sent.
    pub password: String,
    /// The name to show.
    pub display_name: String,
}

impl RegistrationInput {
    /// The registration, or invalid input naming every bad field as `names` spells it.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) when any field is invalid.
    pub fn parse(self, names: FieldNames) -> Result<Registration, AppError> {
        let mut f = FieldViolations::default();
        let email = f.check(&names.spell("email"), Email::parse(&self.email));
        let password = f.check(&names.spell("password"), Password::new(self.password));
        let display_name = f.check(
            &names.spell("display_name"),
            DisplayName::new(&self.display_name),
        );
        let registration = match (email, password, display_name) {
            (Some(email), Some(password), Some(display_name)) => Some(Registration {
                email,
                display_name,
                password,
            }),
            _ => None,
        };
        f.finish(registration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_invalid_field_is_named_as_the_protocol_spells_it() {
        let error = RegistrationInput {
            email: "not an email".to_owned(),
            password: "short".to_owned(),
            display_name: String::new(),
        }
        .parse(FieldNames::CamelCase)
        .unwrap_err();
        let fields: Vec<&str> = error.fields().iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["email", "password", "displayName"]);
    }

    #[test]
    fn a_valid_registration_is_parsed() {
        let registration = RegistrationInput {
            email: "Ann@Example.org".to_owned(),
            password: "correct horse".to_owned(),
            display_name: "Ann".to_owned(),
        }
        .parse(FieldNames::SnakeCase)
        .unwrap();
        assert_eq!(registration.email.as_str(), "ann@example.org");
        assert_eq!(registration.display_name.as_str(), "Ann");
    }
}
