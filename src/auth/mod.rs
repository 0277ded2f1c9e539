//! Account security that does not depend on HTTP: password hashing and strength, random
//! tokens, and login throttling.

pub mod login;
pub mod password;
pub mod throttle;
pub mod token;
