//! Plain domain types shared by every layer. No IO lives here.

mod call;
mod phone;
mod role;

pub use call::{Call, CallStatus, Direction, NewCall, Utterance};
pub use phone::{PhoneError, PhoneNumber};
pub use role::Role;
