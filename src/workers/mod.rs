//! Background job handlers, one file per job kind. Workers post through
//! [`crate::notify::Notifier`] and never touch bot handlers.

pub mod telegram_send;
