//! Retrying, written once for every client and the job queue: exponential backoff with jitter
//! (no overflow however many attempts), `Retry-After` in both of its forms (seconds or an HTTP
//! date), and a policy that bounds attempts and waits.

use std::time::Duration;

use rand::Rng;

/// Retry delays: `base * 2^(attempt-1)`, capped, with jitter in `[delay/2, delay]`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(5),
            cap: Duration::from_secs(15 * 60),
        }
    }
}

impl Backoff {
    /// The delay before retrying after failed attempt number `attempt` (1-based).
    pub fn delay(&self, attempt: i32) -> Duration {
        let exp = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        let raw = self
            .base
            .saturating_mul(2u32.saturating_pow(exp))
            .min(self.cap);
        let half = raw / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        let extra = if jitter_ms == 0 {
            0
        } else {
            rand::rng().random_range(0..=jitter_ms)
        };
        half + Duration::from_millis(extra)
    }
}

/// How a client retries one request.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub backoff: Backoff,
    /// Attempts in all (the first one included).
    pub max_attempts: u32,
}

impl RetryPolicy {
    pub fn new(base: Duration, max_attempts: u32) -> Self {
        Self {
            backoff: Backoff {
                base,
                cap: Duration::from_secs(60),
            },
            max_attempts: max_attempts.max(1),
        }
    }

    /// Whether another attempt may follow attempt number `attempt` (1-based).
    pub fn again_after(&self, attempt: u32) -> bool {
        attempt < self.max_attempts
    }

    /// The wait after failed attempt `attempt`: what the server asked for (never more than the
    /// cap), else the backoff.
    pub fn wait(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(d) => d.min(self.backoff.cap),
            None => self
                .backoff
                .delay(i32::try_from(attempt).unwrap_or(i32::MAX)),
        }
    }
}

/// Why [`send_retrying`] gave up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The server refused for good (a status other than 429 or 5xx).
    Refused(String),
    /// 429, 5xx or network errors until the attempts ran out.
    GaveUp(String),
}

/// Sends what `build` makes until it succeeds: 429, 5xx and network errors wait (honouring
/// `Retry-After`) and retry within `policy`, calling `on_retry` with the attempt and the error;
/// another status is a refusal at once.
pub async fn send_retrying(
    policy: &RetryPolicy,
    build: impl Fn() -> reqwest::RequestBuilder,
    on_retry: impl Fn(u32, &str),
) -> Result<reqwest::Response, SendError> {
    let mut last = String::new();
    for attempt in 1..=policy.max_attempts {
        let mut server_wait = None;
        match build().send().await {
            Ok(resp) if resp.status().is_success() => return Ok(resp),
            Ok(resp) => {
                let status = resp.status();
                server_wait = retry_after(resp.headers());
                let text = resp.text().await.unwrap_or_default();
                last = format!(
                    "HTTP {status}: {}",
                    text.chars().take(300).collect::<String>()
                );
                if status.as_u16() != 429 && !status.is_server_error() {
                    return Err(SendError::Refused(last));
                }
            }
            Err(e) => last = e.without_url().to_string(),
        }
        on_retry(attempt, &last);
        if policy.again_after(attempt) {
            tokio::time::sleep(policy.wait(attempt, server_wait)).await;
        }
    }
    Err(SendError::GaveUp(last))
}

/// `Retry-After` as seconds (`120`) or as an HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(30))
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        h.insert("retry-after", soon.parse().unwrap());
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(
            retry_after(&h),
            Some(Duration::ZERO),
            "a date in the past: now"
        );
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn policies_never_overflow_and_honour_the_server() {
        let p = RetryPolicy::new(Duration::from_millis(500), 100);
        for attempt in [1, 31, 32, 33, 99, u32::MAX] {
            assert!(
                p.wait(attempt, None) <= Duration::from_secs(60),
                "{attempt}"
            );
        }
        assert_eq!(
            p.wait(1, Some(Duration::from_secs(3600))),
            Duration::from_secs(60),
            "a server's wait is capped"
        );
        assert_eq!(
            p.wait(1, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert!(p.again_after(99) && !p.again_after(100));
    }

    #[test]
    fn grows_and_caps_with_jitter() {
        let b = Backoff {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(60),
        };
        for _ in 0..100 {
            let d1 = b.delay(1);
            assert!(
                d1 >= Duration::from_secs(1) && d1 <= Duration::from_secs(2),
                "{d1:?}"
            );
            let d3 = b.delay(3);
            assert!(
                d3 >= Duration::from_secs(4) && d3 <= Duration::from_secs(8),
                "{d3:?}"
            );
            let d20 = b.delay(20);
            assert!(
                d20 >= Duration::from_secs(30) && d20 <= Duration::from_secs(60),
                "{d20:?}"
            );
        }
        let spread: std::collections::HashSet<_> = (0..50).map(|_| b.delay(4)).collect();
        assert!(spread.len() > 1, "jitter must vary the delay");
    }
}
