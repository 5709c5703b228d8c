//! The Telegram bot: typed commands, access control, and one [`schema`] composing the handlers.
//! Long polling honours `TELEGRAM_API_URL`.

mod access;
mod calls;
mod campaign;
pub mod chatops;
mod commands;
mod contact_file;
mod context;
mod dnc;
mod download;
mod feedback;
mod handlers;
mod recording;
mod rehearse;
mod settings;

pub use access::{resolve_access, Access};
pub use commands::Command;
pub use context::{BotDeps, BotError};
pub use handlers::{register_commands, schema};
