//! Private messages to the administrators when something they must know about could not be done
//! (a protocol that could not be posted, or whose delivery is in doubt). Each alert is a durable
//! `telegram.send` job per admin, so it survives a restart and is sent once.

use crate::i18n::{t_args, FluentArg, Lang};
use crate::notify::{PostRequest, TextFormat};
use crate::store::{Store, StoreError};

/// The kind of an alert post: its own give-up step alerts nobody (no loops when Telegram is down).
pub const ALERT_KIND: &str = "admin-alert";

/// Queues `key`/`args` (a locale message) to every admin, in the language of their private chat.
pub async fn alert_admins(
    store: &dyn Store,
    admins: &[i64],
    post_key: &str,
    key: &str,
    args: &[(&'static str, FluentArg)],
) -> Result<(), StoreError> {
    for &admin in admins {
        let lang = store
            .chat_language(admin)
            .await?
            .map_or(Lang::Ru, |c| Lang::from_code(Some(&c)));
        let req = PostRequest {
            post_key: format!("{post_key}:alert:{admin}"),
            chat_id: admin,
            text: t_args(lang, key, args),
            format: TextFormat::Plain,
            call_id: None,
            kind: ALERT_KIND.into(),
            keyboard: None,
            reply_to: None,
        };
        match super::telegram_send::job(&req) {
            Ok(job) => {
                store.enqueue(job).await?;
            }
            Err(e) => tracing::error!(error = %e, "admin alert payload"),
        }
    }
    if admins.is_empty() {
        tracing::warn!(post = post_key, "nobody to alert: TELEGRAM_ADMINS is empty");
    }
    Ok(())
}

/// Whether a job's give-up reason says the send is in doubt (it may have been delivered).
pub fn in_doubt(reason: &str) -> bool {
    reason.contains("may or may not have been delivered")
}
