//! Use cases about users and their sessions.

mod attempts;
mod authenticate;
mod current_user;
mod input;
mod list_users;
mod log_in;
mod log_out;
mod log_out_everywhere;
mod register;

pub use attempts::{AttemptLimits, Attempts, Client, TooManyAttempts};
pub use authenticate::{Authenticate, AuthenticateError};
pub use current_user::{CurrentUser, CurrentUserError};
pub use input::RegistrationInput;
pub use list_users::{ListUsers, ListUsersError};
pub use log_in::{Credentials, LogIn, LogInError, LoggedIn};
pub use log_out::{LogOut, LogOutError};
pub use log_out_everywhere::{LogOutEverywhere, LogOutEverywhereError};
pub use register::{RegisterError, RegisterUser, Registration};
