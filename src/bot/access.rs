//! Who may use the bot: `TELEGRAM_ADMINS` are admins everywhere, users in the `users` table have
//! their stored role, and members of a team chat are viewers there. The team chats are
//! `TELEGRAM_CHAT_ID` and every chat protocols are routed to (`CHAT_BY_NUMBER`): the same rules
//! hold in each.

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
    team_chats: &[i64],
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
    let in_team_chat = team_chats.contains(&chat_id);
    let private = chat_id > 0;
    match stored {
        // A known user may use the bot in private or in the team chat, not in random groups.
        Some(role) if private || in_team_chat => Ok(Access::Allowed(role)),
        None if in_team_chat => Ok(Access::Allowed(Role::Viewer)),
        _ => Ok(Access::Denied),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn routed_chats_follow_the_team_chat_rules() {
        let store = crate::store::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        store
            .upsert_user(&crate::store::User {
                telegram_id: 5,
                role: Role::Manager,
                name: None,
                added_by: None,
            })
            .await
            .unwrap();
        let chats = [-100, -200];
        let access = |user, chat| {
            let store = store.clone();
            async move {
                resolve_access(store.as_ref(), &[1], &chats, user, chat)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(access(5, -200).await, Access::Allowed(Role::Manager));
        assert_eq!(access(9, -200).await, Access::Allowed(Role::Viewer));
        assert_eq!(access(5, -300).await, Access::Denied);
        assert_eq!(access(1, -300).await, Access::Allowed(Role::Admin));
    }
}
