//! Background work, one file per job kind, plus the periodic pollers. Workers post through
//! [`crate::notify::Notifier`] and never touch bot handlers.

pub mod digest;
pub mod place_call;
pub mod poller;
pub mod post_protocol;
pub mod process_call;
pub mod send_recording;
pub mod sheets_row;
pub mod source_day;
pub mod telegram_send;
