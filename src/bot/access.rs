//! Who may use the bot: `TELEGRAM_ADMINS` are admins everywhere, users in the `users` table have
//! their stored role, and members of the team chat (`TELEGRAM_CHAT_ID`) are viewers there.

use crate::domain::Role;
use crate::store::{Store, StoreError};

/// The outcome of an access check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Allowed(Role),
    Denied,
}

/// Resolves the role of `user_id` writing in `chat_id`.
pub async fn resolve_access(
    store: &dyn Store,
    admins: &[u64],
    team_chat: Option<i64>,
    user_id: u64,
    chat_id: i64,
) -> Result<Access, StoreError> {
    if admins.contains(&user_id) {
        return Ok(Access::Allowed(Role::Admin));
    }
    let stored = match i64::try_from(user_id) {
        Ok(id) => store.user_role(id).await?,
        Err(_) => None,
    };
    let in_team_chat = team_chat == Some(chat_id);
    let private = chat_id > 0;
    match stored {
        // A known user may use the bot in private or in the team chat, not in random groups.
        Some(role) if private || in_team_chat => Ok(Access::Allowed(role)),
        None if in_team_chat => Ok(Access::Allowed(Role::Viewer)),
        _ => Ok(Access::Denied),
    }
}
