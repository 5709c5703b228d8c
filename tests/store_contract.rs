//! One contract, two backends: every test here runs on SQLite and (with `TEST_DATABASE_URL`) on
//! PostgreSQL.

mod common;

use std::sync::Arc;
use std::time::Duration;

use callops::domain::{
    CallFilter, CallStatus, Direction, Feedback, FeedbackChoice, LeadCategory, NewAnalysis,
    NewCall, PhoneNumber, PostKind, Role, Utterance,
};
use callops::store::{EffectClaim, JobState, NewJob, Store, TelegramPost, TokenUsage, User};
use chrono::{TimeZone, Utc};
use serde_json::json;

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let (store, _dir) = crate::common::sqlite_store().await;
                    super::$name(store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some((store, cleanup)) = crate::common::pg_store(stringify!($name)).await else { return };
                    super::$name(store.clone()).await;
                    store.close().await;
                    cleanup.await.expect("drop schema");
                }
            )*
        }
    };
}

contract!(
    enqueue_is_idempotent_per_kind,
    claim_complete_and_lease_ownership,
    claim_respects_kinds_limit_and_delay,
    failures_retry_then_dead_letter,
    permanent_failure_dead_letters_at_once,
    release_gives_the_attempt_back,
    expired_leases_are_reclaimed,
    renew_extends_only_own_lease,
    requeue_revives_dead_jobs,
    job_counts_group_by_kind_and_state,
    users_and_roles,
    chat_language_setting,
    telegram_posts_keep_the_first,
    a_post_is_only_a_record_and_posting_is_stamped_explicitly,
    calls_are_unique_per_provider,
    utterances_replace_in_order,
    cursors_and_token_usage,
    analyses_feedback_and_listing,
    period_stats_agreement_and_corrections,
    chart_rows_carry_the_current_state,
    agent_calls_timings_chats_and_do_not_call,
    rehearsals_are_kept_per_chat,
    effects_are_claimed_once,
    outbound_attempts_are_claimed_once_within_capacity_and_interrupted_when_abandoned,
    concurrent_claims_never_exceed_the_limit,
    a_call_under_way_is_steered_through_the_store,
    imported_numbering_tables_replace_per_leading_digit,
    the_do_not_call_list_is_listed_newest_first_and_numbers_come_off_it,
    a_campaign_is_written_with_its_contacts_in_one_go_and_counted_by_state,
    campaign_attempts_are_written_within_both_limits_and_settled_once,
    leader_leases_fence_the_old_leader_out,
    completions_are_stored_together_for_held_leases_only,
    a_telegram_update_is_seen_once,
);

const LEASE: Duration = Duration::from_secs(30);

fn kinds(k: &[&str]) -> Vec<String> {
    k.iter().map(|s| s.to_string()).collect()
}

async fn enqueue_is_idempotent_per_kind(s: Arc<dyn Store>) {
    let a = s
        .enqueue(NewJob::new("post", json!({"n": 1})).key("call:1"))
        .await
        .unwrap();
    let b = s
        .enqueue(NewJob::new("post", json!({"n": 2})).key("call:1"))
        .await
        .unwrap();
    let c = s
        .enqueue(NewJob::new("other", json!({})).key("call:1"))
        .await
        .unwrap();
    let d = s.enqueue(NewJob::new("post", json!({}))).await.unwrap();
    let e = s.enqueue(NewJob::new("post", json!({}))).await.unwrap();
    assert!(a.created && !b.created && c.created && d.created && e.created);
    assert_eq!(a.id, b.id);
    assert_ne!(a.id, c.id);
    assert_ne!(d.id, e.id, "jobs without a key never collide");
    let job = s.job(a.id).await.unwrap().unwrap();
    assert_eq!(job.payload, json!({"n": 1}), "the first payload is kept");
    assert_eq!(job.state, JobState::Queued);
}

async fn claim_complete_and_lease_ownership(s: Arc<dyn Store>) {
    let id = s
        .enqueue(NewJob::new("k", json!({"x": "y"})))
        .await
        .unwrap()
        .id;
    let jobs = s.claim(&kinds(&["k"]), 10, LEASE).await.unwrap();
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(
        (job.id, job.attempts, job.state),
        (id, 1, JobState::Running)
    );
    assert_eq!(job.payload, json!({"x": "y"}));
    let token = job.lease_token.unwrap();
    assert!(
        s.claim(&kinds(&["k"]), 10, LEASE).await.unwrap().is_empty(),
        "a leased job is not claimed twice"
    );
    assert!(
        !s.complete(id, uuid::Uuid::new_v4()).await.unwrap(),
        "a stranger's token cannot complete"
    );
    assert!(s.complete(id, token).await.unwrap());
    assert!(
        !s.complete(id, token).await.unwrap(),
        "completing twice is refused"
    );
    assert_eq!(s.job(id).await.unwrap().unwrap().state, JobState::Done);
}

async fn claim_respects_kinds_limit_and_delay(s: Arc<dyn Store>) {
    for _ in 0..5 {
        s.enqueue(NewJob::new("a", json!({}))).await.unwrap();
    }
    s.enqueue(NewJob::new("b", json!({}))).await.unwrap();
    s.enqueue(NewJob::new("a", json!({})).delay(Duration::from_secs(3600)))
        .await
        .unwrap();
    let first = s.claim(&kinds(&["a"]), 3, LEASE).await.unwrap();
    assert_eq!(first.len(), 3);
    assert!(first.windows(2).all(|w| w[0].id < w[1].id), "oldest first");
    let rest = s.claim(&kinds(&["a"]), 10, LEASE).await.unwrap();
    assert_eq!(rest.len(), 2, "the delayed job waits");
    assert!(s.claim(&kinds(&["c"]), 10, LEASE).await.unwrap().is_empty());
    assert_eq!(
        s.claim(&kinds(&["a", "b"]), 10, LEASE).await.unwrap().len(),
        1
    );
    assert!(s.claim(&[], 10, LEASE).await.unwrap().is_empty());
}

async fn failures_retry_then_dead_letter(s: Arc<dyn Store>) {
    let id = s
        .enqueue(NewJob::new("k", json!({})).max_attempts(2))
        .await
        .unwrap()
        .id;
    let j = s.claim(&kinds(&["k"]), 1, LEASE).await.unwrap().remove(0);
    assert!(s
        .fail(id, j.lease_token.unwrap(), "boom 1", Some(Duration::ZERO))
        .await
        .unwrap());
    let after = s.job(id).await.unwrap().unwrap();
    assert_eq!(
        (after.state, after.last_error.as_deref()),
        (JobState::Failed, Some("boom 1"))
    );
    let j = s.claim(&kinds(&["k"]), 1, LEASE).await.unwrap().remove(0);
    assert_eq!(j.attempts, 2);
    assert!(s
        .fail(id, j.lease_token.unwrap(), "boom 2", Some(Duration::ZERO))
        .await
        .unwrap());
    // Out of attempts: the give-up step is due at once, then the job is dead.
    let due = s.job(id).await.unwrap().unwrap();
    assert_eq!(
        (due.state, due.give_up.as_deref()),
        (JobState::Failed, Some("boom 2"))
    );
    let j = s.claim(&kinds(&["k"]), 1, LEASE).await.unwrap().remove(0);
    assert_eq!((j.attempts, j.give_up.as_deref()), (2, Some("boom 2")));
    assert!(s
        .fail(id, j.lease_token.unwrap(), "boom 2", None)
        .await
        .unwrap());
    let dead = s.job(id).await.unwrap().unwrap();
    assert_eq!(
        (dead.state, dead.last_error.as_deref()),
        (JobState::Dead, Some("boom 2"))
    );
    assert!(s.claim(&kinds(&["k"]), 1, LEASE).await.unwrap().is_empty());

    let later = s.enqueue(NewJob::new("k2", json!({}))).await.unwrap().id;
    let j = s.claim(&kinds(&["k2"]), 1, LEASE).await.unwrap().remove(0);
    s.fail(
        later,
        j.lease_token.unwrap(),
        "wait",
        Some(Duration::from_secs(3600)),
    )
    .await
    .unwrap();
    assert!(
        s.claim(&kinds(&["k2"]), 1, LEASE).await.unwrap().is_empty(),
        "backoff is honoured"
    );
}

async fn permanent_failure_dead_letters_at_once(s: Arc<dyn Store>) {
    let id = s
        .enqueue(NewJob::new("k", json!({})).max_attempts(9))
        .await
        .unwrap()
        .id;
    let j = s.claim(&kinds(&["k"]), 1, LEASE).await.unwrap().remove(0);
    s.fail(id, j.lease_token.unwrap(), "bad input", None)
        .await
        .unwrap();
    let j = s.claim(&kinds(&["k"]), 1, LEASE).await.unwrap().remove(0);
    assert_eq!(
        j.give_up.as_deref(),
        Some("bad input"),
        "no retry, give-up at once"
    );
    s.fail(id, j.lease_token.unwrap(), "bad input", None)
        .await
        .unwrap();
    assert_eq!(s.job(id).await.unwrap().unwrap().state, JobState::Dead);
}

async fn release_gives_the_attempt_back(s: Arc<dyn Store>) {
    let id = s.enqueue(NewJob::new("k", json!({}))).await.unwrap().id;
    let j = s.claim(&kinds(&["k"]), 1, LEASE).await.unwrap().remove(0);
    assert!(s.release(id, j.lease_token.unwrap()).await.unwrap());
    let back = s.job(id).await.unwrap().unwrap();
    assert_eq!((back.state, back.attempts), (JobState::Queued, 0));
    assert_eq!(
        s.claim(&kinds(&["k"]), 1, LEASE).await.unwrap()[0].attempts,
        1
    );
}

async fn expired_leases_are_reclaimed(s: Arc<dyn Store>) {
    let id = s
        .enqueue(NewJob::new("k", json!({})).max_attempts(2))
        .await
        .unwrap()
        .id;
    let first = s
        .claim(&kinds(&["k"]), 1, Duration::from_millis(50))
        .await
        .unwrap()
        .remove(0);
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(s.reclaim_expired().await.unwrap(), 1);
    let j = s.job(id).await.unwrap().unwrap();
    assert_eq!(j.state, JobState::Failed);
    assert!(j.last_error.unwrap().contains("lease expired"));
    let second = s.claim(&kinds(&["k"]), 1, LEASE).await.unwrap().remove(0);
    assert!(
        !s.complete(id, first.lease_token.unwrap()).await.unwrap(),
        "the old owner cannot complete"
    );
    assert!(s.complete(id, second.lease_token.unwrap()).await.unwrap());

    let id2 = s
        .enqueue(NewJob::new("k", json!({})).max_attempts(1))
        .await
        .unwrap()
        .id;
    s.claim(&kinds(&["k"]), 1, Duration::from_millis(20))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(80)).await;
    s.reclaim_expired().await.unwrap();
    let out = s.job(id2).await.unwrap().unwrap();
    assert_eq!(out.state, JobState::Failed);
    assert!(
        out.give_up.unwrap().starts_with("out of attempts"),
        "out of attempts: its give-up step is due"
    );

    // A second crash quarantines a job whatever its attempts; a give-up step that keeps
    // crashing too ends dead without it.
    let id3 = s
        .enqueue(NewJob::new("q", json!({})).max_attempts(9))
        .await
        .unwrap()
        .id;
    for crash in 1..=4 {
        let j = s
            .claim(&kinds(&["q"]), 1, Duration::from_millis(20))
            .await
            .unwrap()
            .remove(0);
        assert_eq!(j.give_up.is_some(), crash > 2, "crash {crash}");
        tokio::time::sleep(Duration::from_millis(60)).await;
        s.reclaim_expired().await.unwrap();
        let after = s.job(id3).await.unwrap().unwrap();
        assert_eq!(after.crashes, crash);
        if crash >= 2 {
            assert!(after.give_up.unwrap().starts_with("quarantined"));
        }
    }
    let dead = s.job(id3).await.unwrap().unwrap();
    assert_eq!((dead.state, dead.attempts), (JobState::Dead, 2));
    assert!(s.requeue(id3).await.unwrap());
    let fresh = s.job(id3).await.unwrap().unwrap();
    assert_eq!((fresh.crashes, fresh.give_up), (0, None));
}

async fn effects_are_claimed_once(s: Arc<dyn Store>) {
    assert_eq!(s.begin_effect("post:1").await.unwrap(), EffectClaim::Begun);
    assert!(matches!(
        s.begin_effect("post:1").await.unwrap(),
        EffectClaim::InDoubt { .. }
    ));
    s.finish_effect("post:1", "501").await.unwrap();
    assert_eq!(
        s.begin_effect("post:1").await.unwrap(),
        EffectClaim::Done(Some("501".into()))
    );
    s.abandon_effect("post:1").await.unwrap();
    assert_eq!(
        s.begin_effect("post:1").await.unwrap(),
        EffectClaim::Done(Some("501".into())),
        "a finished effect cannot be withdrawn"
    );
    assert_eq!(s.begin_effect("post:2").await.unwrap(), EffectClaim::Begun);
    s.abandon_effect("post:2").await.unwrap();
    assert_eq!(
        s.begin_effect("post:2").await.unwrap(),
        EffectClaim::Begun,
        "a withdrawn claim can be made again"
    );
}

async fn renew_extends_only_own_lease(s: Arc<dyn Store>) {
    let id = s.enqueue(NewJob::new("k", json!({}))).await.unwrap().id;
    let j = s
        .claim(&kinds(&["k"]), 1, Duration::from_millis(300))
        .await
        .unwrap()
        .remove(0);
    assert!(!s.renew(id, uuid::Uuid::new_v4(), LEASE).await.unwrap());
    assert!(s.renew(id, j.lease_token.unwrap(), LEASE).await.unwrap());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        s.reclaim_expired().await.unwrap(),
        0,
        "the renewed lease still holds"
    );
}

async fn requeue_revives_dead_jobs(s: Arc<dyn Store>) {
    let id = s
        .enqueue(NewJob::new("k", json!({})).max_attempts(1))
        .await
        .unwrap()
        .id;
    let j = s.claim(&kinds(&["k"]), 1, LEASE).await.unwrap().remove(0);
    assert!(
        !s.requeue(id).await.unwrap(),
        "a running job is not requeued"
    );
    s.fail(id, j.lease_token.unwrap(), "x", None).await.unwrap();
    assert!(s.requeue(id).await.unwrap());
    let again = s.claim(&kinds(&["k"]), 1, LEASE).await.unwrap();
    assert_eq!(again[0].attempts, 1);
}

async fn job_counts_group_by_kind_and_state(s: Arc<dyn Store>) {
    for _ in 0..3 {
        s.enqueue(NewJob::new("a", json!({}))).await.unwrap();
    }
    s.enqueue(NewJob::new("b", json!({}))).await.unwrap();
    let j = s.claim(&kinds(&["a"]), 1, LEASE).await.unwrap().remove(0);
    s.complete(j.id, j.lease_token.unwrap()).await.unwrap();
    let mut counts: Vec<(String, JobState, i64)> = s
        .job_counts()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.kind, c.state, c.count))
        .collect();
    counts.sort_by(|x, y| (x.0.clone(), x.1.as_str()).cmp(&(y.0.clone(), y.1.as_str())));
    assert_eq!(
        counts,
        vec![
            ("a".into(), JobState::Done, 1),
            ("a".into(), JobState::Queued, 2),
            ("b".into(), JobState::Queued, 1)
        ]
    );
}

async fn users_and_roles(s: Arc<dyn Store>) {
    assert_eq!(s.user_role(7).await.unwrap(), None);
    s.upsert_user(&User {
        telegram_id: 7,
        role: Role::Viewer,
        name: Some("Анна".into()),
        added_by: Some(1),
    })
    .await
    .unwrap();
    s.upsert_user(&User {
        telegram_id: 7,
        role: Role::Manager,
        name: None,
        added_by: Some(1),
    })
    .await
    .unwrap();
    assert_eq!(s.user_role(7).await.unwrap(), Some(Role::Manager));
    let users = s.list_users().await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(
        users[0].name.as_deref(),
        Some("Анна"),
        "the name is kept when not given again"
    );
    assert!(s.remove_user(7).await.unwrap());
    assert!(!s.remove_user(7).await.unwrap());
    assert_eq!(s.user_role(7).await.unwrap(), None);
}

async fn chat_language_setting(s: Arc<dyn Store>) {
    assert_eq!(s.chat_language(-100).await.unwrap(), None);
    s.set_chat_language(-100, "en").await.unwrap();
    s.set_chat_language(-100, "ru").await.unwrap();
    assert_eq!(s.chat_language(-100).await.unwrap().as_deref(), Some("ru"));
}

async fn telegram_posts_keep_the_first(s: Arc<dyn Store>) {
    let post = TelegramPost {
        post_key: "call:1:protocol".into(),
        call_id: None,
        kind: PostKind::Protocol,
        chat_id: -100,
        message_id: 55,
        extra_ids: vec![56, 57],
    };
    s.record_telegram_post(&post).await.unwrap();
    s.record_telegram_post(&TelegramPost {
        message_id: 99,
        ..post.clone()
    })
    .await
    .unwrap();
    assert_eq!(
        s.telegram_post("call:1:protocol").await.unwrap(),
        Some(post)
    );
    assert_eq!(s.telegram_post("nope").await.unwrap(), None);
}

async fn a_post_is_only_a_record_and_posting_is_stamped_explicitly(s: Arc<dyn Store>) {
    let (call, _) = s.insert_call(&new_call("posted_1")).await.unwrap();
    let window = (
        call.started_at - chrono::Duration::hours(1),
        call.started_at + chrono::Duration::hours(1),
    );
    let posted_at = |rows: Vec<callops::store::ChartRow>| rows[0].posted_at;
    // A lead card with rating buttons, then the protocol itself: recorded, nothing else changes.
    for (key, kind, message_id) in [
        ("lead:-5:70", PostKind::Lead, 70),
        ("call:p:protocol", PostKind::Protocol, 71),
    ] {
        s.record_telegram_post(&TelegramPost {
            post_key: key.into(),
            call_id: Some(call.id),
            kind,
            chat_id: -5,
            message_id,
            extra_ids: vec![],
        })
        .await
        .unwrap();
    }
    let rows = s.chart_rows(window.0, window.1).await.unwrap();
    assert_eq!(posted_at(rows), None, "recording a post stamps nothing");
    assert_eq!(
        s.message_kinds(call.id, -5, 70).await.unwrap(),
        vec![PostKind::Lead]
    );
    assert_eq!(
        s.message_kinds(call.id, -5, 71).await.unwrap(),
        vec![PostKind::Protocol]
    );
    assert!(s.message_kinds(call.id, -6, 71).await.unwrap().is_empty());
    assert!(s
        .message_kinds(call.id + 1, -5, 71)
        .await
        .unwrap()
        .is_empty());
    s.mark_posted(call.id).await.unwrap();
    let first = posted_at(s.chart_rows(window.0, window.1).await.unwrap()).expect("stamped");
    tokio::time::sleep(Duration::from_millis(20)).await;
    s.mark_posted(call.id).await.unwrap();
    let again = posted_at(s.chart_rows(window.0, window.1).await.unwrap());
    assert_eq!(again, Some(first), "the first stamp stays");
}

fn new_call(id: &str) -> NewCall {
    NewCall {
        provider: "novofon".into(),
        provider_call_id: id.into(),
        direction: Direction::Incoming,
        caller: "+79161234567".into(),
        called: "+74951234567".into(),
        started_at: Utc.with_ymd_and_hms(2026, 11, 20, 10, 30, 15).unwrap(),
        duration_secs: 323,
        recording_ref: None,
        operator: Some("101".into()),
    }
}

async fn calls_are_unique_per_provider(s: Arc<dyn Store>) {
    let (a, created_a) = s.insert_call(&new_call("in_1")).await.unwrap();
    let (b, created_b) = s.insert_call(&new_call("in_1")).await.unwrap();
    assert!(created_a && !created_b);
    assert_eq!(a, b);
    assert_eq!(
        a.started_at,
        Utc.with_ymd_and_hms(2026, 11, 20, 10, 30, 15).unwrap()
    );
    assert_eq!(a.status, CallStatus::New);
    assert_eq!(a.operator.as_deref(), Some("101"), "the operator is kept");
    let (other, created) = s
        .insert_call(&NewCall {
            provider: "zadarma".into(),
            ..new_call("in_1")
        })
        .await
        .unwrap();
    assert!(created && other.id != a.id);
    s.set_call_status(a.id, CallStatus::Skipped, Some("shorter than 10 s"))
        .await
        .unwrap();
    let got = s.call(a.id).await.unwrap().unwrap();
    assert_eq!(
        (got.status, got.reason.as_deref()),
        (CallStatus::Skipped, Some("shorter than 10 s"))
    );
    assert_eq!(s.call(999_999).await.unwrap(), None);
}

async fn utterances_replace_in_order(s: Arc<dyn Store>) {
    let (call, _) = s.insert_call(&new_call("u1")).await.unwrap();
    let u = |sp: &str, a: i64, t: &str| Utterance {
        speaker: sp.parse().unwrap(),
        start_ms: a,
        end_ms: a + 900,
        text: t.into(),
    };
    s.replace_utterances(
        call.id,
        &[
            u("manager", 0, "Добрый день!"),
            u("client", 1000, "Здравствуйте"),
        ],
    )
    .await
    .unwrap();
    s.replace_utterances(
        call.id,
        &[
            u("client", 0, "Алло"),
            u("manager", 500, "Слушаю"),
            u("client", 900, "Да"),
        ],
    )
    .await
    .unwrap();
    let got = s.utterances(call.id).await.unwrap();
    assert_eq!(
        got.iter().map(|x| x.text.as_str()).collect::<Vec<_>>(),
        ["Алло", "Слушаю", "Да"]
    );
}

async fn cursors_and_token_usage(s: Arc<dyn Store>) {
    assert_eq!(s.cursor("novofon").await.unwrap(), None);
    s.set_cursor("novofon", "2026-11-20T10:00:00Z")
        .await
        .unwrap();
    s.set_cursor("novofon", "2026-11-20T11:00:00Z")
        .await
        .unwrap();
    assert_eq!(
        s.cursor("novofon").await.unwrap().as_deref(),
        Some("2026-11-20T11:00:00Z")
    );
    s.record_token_usage(&TokenUsage {
        call_id: None,
        purpose: "analysis".into(),
        model: "gpt-4o".into(),
        prompt_tokens: 1200,
        completion_tokens: 300,
        cost_usd: 0.006,
    })
    .await
    .unwrap();
}

async fn analyses_feedback_and_listing(s: Arc<dyn Store>) {
    let (a, _) = s.insert_call(&new_call("l1")).await.unwrap();
    let (b, _) = s
        .insert_call(&NewCall {
            started_at: Utc.with_ymd_and_hms(2026, 11, 21, 9, 0, 0).unwrap(),
            ..new_call("l2")
        })
        .await
        .unwrap();
    let analysis = |call_id, cat: &str, rating| NewAnalysis {
        call_id,
        profile: "realty_lead".into(),
        result: json!({"lead_category": cat, "interest_rating": rating, "summary": "Клиент ищет двушку"}),
        lead_category: Some(cat.parse().unwrap()),
        interest_rating: Some(rating),
        priority: Some("high".into()),
        agency_name: Some("Этажи".into()),
        model: Some("gpt-4o".into()),
    };
    s.save_analysis(&analysis(a.id, "cold", 3)).await.unwrap();
    let second = s.save_analysis(&analysis(a.id, "hot", 9)).await.unwrap();
    s.save_analysis(&analysis(b.id, "warm", 6)).await.unwrap();
    s.set_call_status(a.id, CallStatus::Analyzed, None)
        .await
        .unwrap();
    let cur = s.current_analysis(a.id).await.unwrap().unwrap();
    assert_eq!(
        (
            cur.id,
            cur.lead_category.map(|c| c.as_str()),
            cur.interest_rating
        ),
        (second, Some("hot"), Some(9))
    );
    assert_eq!(cur.result["summary"], "Клиент ищет двушку");

    s.add_feedback(&Feedback {
        call_id: a.id,
        user_id: 42,
        user_name: Some("Анна".into()),
        choice: FeedbackChoice::parse("warm").unwrap(),
        created_at: Utc::now(),
    })
    .await
    .unwrap();
    let fb = s.feedback(a.id).await.unwrap();
    assert_eq!(
        (fb.len(), fb[0].choice.as_str(), fb[0].user_id),
        (1, "warm", 42)
    );

    let page = |f: CallFilter| {
        let s = s.clone();
        async move { s.list_calls(&f).await.unwrap() }
    };
    let (all, total) = page(CallFilter {
        limit: 10,
        ..Default::default()
    })
    .await;
    assert_eq!(total, 2);
    assert_eq!(all[0].call.id, b.id, "newest first");
    assert_eq!(
        all[1].lead_category.map(|c| c.as_str()),
        Some("hot"),
        "only the current analysis joins"
    );
    let (hot, n) = page(CallFilter {
        category: Some("hot".into()),
        limit: 10,
        ..Default::default()
    })
    .await;
    assert_eq!((n, hot[0].call.id), (1, a.id));
    let (analyzed, n) = page(CallFilter {
        status: Some(CallStatus::Analyzed),
        limit: 10,
        ..Default::default()
    })
    .await;
    assert_eq!((n, analyzed.len()), (1, 1));
    let (late, n) = page(CallFilter {
        from: Some(Utc.with_ymd_and_hms(2026, 11, 21, 0, 0, 0).unwrap()),
        limit: 10,
        ..Default::default()
    })
    .await;
    assert_eq!((n, late[0].call.id), (1, b.id));
    let (paged, n) = page(CallFilter {
        limit: 1,
        offset: 1,
        ..Default::default()
    })
    .await;
    assert_eq!((n, paged.len(), paged[0].call.id), (2, 1, a.id));

    s.record_token_usage(&TokenUsage {
        call_id: Some(a.id),
        purpose: "analysis".into(),
        model: "gpt-4o".into(),
        prompt_tokens: 100,
        completion_tokens: 20,
        cost_usd: 0.5,
    })
    .await
    .unwrap();
    let t = s.call_tokens(a.id).await.unwrap();
    assert_eq!((t.prompt_tokens, t.completion_tokens), (100, 20));
    let stats = s
        .stats_since(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap())
        .await
        .unwrap();
    assert!(
        stats.by_status.contains(&("analyzed".to_string(), 1))
            && stats.by_status.contains(&("new".to_string(), 1))
    );
    assert_eq!(
        stats.by_category,
        vec![("hot".to_string(), 1), ("warm".to_string(), 1)]
    );
    assert!((stats.tokens.cost_usd - 0.5).abs() < 1e-9);
}

async fn period_stats_agreement_and_corrections(s: Arc<dyn Store>) {
    let day = |d: u32| Utc.with_ymd_and_hms(2026, 11, d, 10, 0, 0).unwrap();
    let mut ids = Vec::new();
    for (i, (cat, rating)) in [("hot", 9), ("cold", 3), ("warm", 6), ("refusal", 1)]
        .iter()
        .enumerate()
    {
        let (c, _) = s
            .insert_call(&NewCall {
                started_at: day(20),
                ..new_call(&format!("p{i}"))
            })
            .await
            .unwrap();
        s.save_analysis(&NewAnalysis {
            call_id: c.id,
            profile: "realty_lead".into(),
            result: json!({"summary": format!("Звонок {i}")}),
            lead_category: Some(cat.parse().unwrap()),
            interest_rating: Some(*rating),
            priority: None,
            agency_name: None,
            model: None,
        })
        .await
        .unwrap();
        s.set_call_status(c.id, CallStatus::Analyzed, None)
            .await
            .unwrap();
        ids.push(c.id);
    }
    let (old, _) = s
        .insert_call(&NewCall {
            started_at: day(1),
            ..new_call("old")
        })
        .await
        .unwrap();
    s.set_call_status(old.id, CallStatus::Skipped, Some("short"))
        .await
        .unwrap();
    let fb = |call_id: i64, choice: &str| Feedback {
        call_id,
        user_id: 1,
        user_name: None,
        choice: FeedbackChoice::parse(choice).unwrap(),
        created_at: Utc::now(),
    };
    s.add_feedback(&fb(ids[0], "confirm")).await.unwrap();
    s.add_feedback(&fb(ids[1], "warm")).await.unwrap();
    s.add_feedback(&fb(ids[2], "hot")).await.unwrap();
    s.add_feedback(&fb(ids[2], "warm")).await.unwrap(); // the latest word counts: agrees

    let st = s.period_stats(day(19), day(21)).await.unwrap();
    assert_eq!(st.total(), 4, "the call of the 1st is outside the period");
    assert_eq!(st.count("analyzed"), 4);
    assert_eq!(st.by_category.len(), 4);
    assert!((st.avg_rating.unwrap() - 4.75).abs() < 1e-9);
    assert_eq!((st.rated, st.agreed), (3, 2));
    assert!((st.agreement().unwrap() - 66.666).abs() < 0.01);
    assert_eq!(
        st.agreement_by_profile,
        vec![("realty_lead".to_string(), 3, 2)]
    );
    let empty = s.period_stats(day(25), day(26)).await.unwrap();
    assert_eq!(
        (empty.total(), empty.avg_rating, empty.agreement()),
        (0, None, None)
    );

    let corr = s.corrections("realty_lead", 5).await.unwrap();
    assert_eq!(
        corr.len(),
        2,
        "confirmations and agreeing picks are not corrections"
    );
    assert_eq!(corr[0].human_category, "hot", "newest first");
    assert_eq!(corr[0].summary, "Звонок 2");
    assert_eq!(
        (
            corr[1].ai_category.as_deref(),
            corr[1].human_category.as_str()
        ),
        (Some("cold"), "warm")
    );
    assert_eq!(s.corrections("realty_lead", 1).await.unwrap().len(), 1);
    assert!(s.corrections("qa_checklist", 5).await.unwrap().is_empty());
}

async fn chart_rows_carry_the_current_state(s: Arc<dyn Store>) {
    let at = Utc.with_ymd_and_hms(2026, 11, 20, 9, 30, 0).unwrap();
    let (a, _) = s
        .insert_call(&NewCall {
            started_at: at,
            ..new_call("c1")
        })
        .await
        .unwrap();
    let (b, _) = s
        .insert_call(&NewCall {
            started_at: at + chrono::Duration::hours(1),
            duration_secs: 0,
            ..new_call("c2")
        })
        .await
        .unwrap();
    s.set_call_status(b.id, CallStatus::Skipped, Some("not answered"))
        .await
        .unwrap();
    s.save_analysis(&NewAnalysis {
        call_id: a.id,
        profile: "realty_lead".into(),
        result: json!({}),
        lead_category: Some(LeadCategory::Warm),
        interest_rating: Some(6),
        priority: None,
        agency_name: None,
        model: None,
    })
    .await
    .unwrap();
    s.set_call_status(a.id, CallStatus::Analyzed, None)
        .await
        .unwrap();
    s.add_feedback(&Feedback {
        call_id: a.id,
        user_id: 1,
        user_name: None,
        choice: FeedbackChoice::parse("hot").unwrap(),
        created_at: Utc::now(),
    })
    .await
    .unwrap();
    s.record_telegram_post(&TelegramPost {
        post_key: "call:a:protocol".into(),
        call_id: Some(a.id),
        kind: PostKind::Protocol,
        chat_id: -1,
        message_id: 10,
        extra_ids: vec![],
    })
    .await
    .unwrap();
    s.mark_posted(a.id).await.unwrap();
    let rows = s
        .chart_rows(
            at - chrono::Duration::hours(1),
            at + chrono::Duration::hours(5),
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let first = &rows[0];
    assert_eq!(first.started_at, at);
    assert_eq!(
        (first.status.as_str(), first.direction.as_str()),
        ("analyzed", "incoming")
    );
    assert_eq!(
        (first.caller.as_str(), first.called.as_str()),
        ("+79161234567", "+74951234567")
    );
    assert_eq!(
        (
            first.profile.as_deref(),
            first.category.as_deref(),
            first.rating
        ),
        (Some("realty_lead"), Some("warm"), Some(6))
    );
    assert_eq!(first.last_feedback.as_deref(), Some("hot"));
    assert!(first.posted_at.is_some());
    let second = &rows[1];
    assert_eq!(
        (second.status.as_str(), second.duration_secs),
        ("skipped", 0)
    );
    assert_eq!(
        (
            second.profile.clone(),
            second.category.clone(),
            second.rating,
            second.posted_at
        ),
        (None, None, None, None)
    );
    assert!(s
        .chart_rows(
            at + chrono::Duration::days(1),
            at + chrono::Duration::days(2)
        )
        .await
        .unwrap()
        .is_empty());
}

async fn agent_calls_timings_chats_and_do_not_call(s: Arc<dyn Store>) {
    let (call, _) = s.insert_call(&new_call("agent_1")).await.unwrap();
    let turn = |n: u32, end: i64| callops::domain::TurnTiming {
        turn: n,
        caller_end_ms: end,
        stt_done_ms: Some(end + 300),
        llm_first_token_ms: Some(end + 700),
        first_sentence_ms: Some(end + 800),
        tts_first_byte_ms: Some(end + 950),
        first_audio_ms: Some(end + 960),
        barge_in_ms: None,
        stt_vendor: Some("salute".into()),
        speech_ms: Some(2300),
        stt_fallback: end > 3000,
        tts_vendor: Some("yandex".into()),
        tts_chars: Some(120),
    };
    s.save_agent_turns(call.id, &[turn(1, 1000), turn(2, 5000)])
        .await
        .unwrap();
    let mut second = turn(2, 6000);
    second.barge_in_ms = Some(7000);
    s.save_agent_turns(call.id, &[turn(1, 1000), second.clone()])
        .await
        .unwrap();
    assert_eq!(
        s.agent_turns(call.id).await.unwrap(),
        vec![turn(1, 1000), second.clone()],
        "saving again replaces the turns"
    );
    let started = new_call("agent_1").started_at;
    assert_eq!(
        s.agent_turns_between(started, started + chrono::Duration::seconds(1))
            .await
            .unwrap(),
        vec![turn(1, 1000), second],
        "the turns of the period's calls"
    );
    assert!(s
        .agent_turns_between(
            started + chrono::Duration::seconds(1),
            started + chrono::Duration::days(1)
        )
        .await
        .unwrap()
        .is_empty());
    assert_eq!(s.call_chat(call.id).await.unwrap(), None);
    s.set_call_chat(call.id, 42).await.unwrap();
    s.set_call_chat(call.id, 43).await.unwrap();
    assert_eq!(s.call_chat(call.id).await.unwrap(), Some(43));
    let number = PhoneNumber::parse("+79161234567").unwrap();
    assert!(!s.is_do_not_call(&number).await.unwrap());
    assert!(s.add_do_not_call(&number, "opt-out").await.unwrap());
    assert!(!s.add_do_not_call(&number, "again").await.unwrap());
    assert!(s.is_do_not_call(&number).await.unwrap());
}

async fn rehearsals_are_kept_per_chat(s: Arc<dyn Store>) {
    assert!(s.rehearsals().await.unwrap().is_empty());
    s.save_rehearsal(7, &json!({"script": "realty_cold", "turns": []}))
        .await
        .unwrap();
    s.save_rehearsal(-5, &json!({"script": "other"}))
        .await
        .unwrap();
    s.save_rehearsal(7, &json!({"script": "realty_cold", "turns": [1]}))
        .await
        .unwrap();
    assert_eq!(
        s.rehearsals().await.unwrap(),
        vec![
            (-5, json!({"script": "other"})),
            (7, json!({"script": "realty_cold", "turns": [1]}))
        ]
    );
    s.delete_rehearsal(-5).await.unwrap();
    s.delete_rehearsal(-5).await.unwrap();
    assert_eq!(s.rehearsals().await.unwrap().len(), 1);
}

async fn outbound_attempts_are_claimed_once_within_capacity_and_interrupted_when_abandoned(
    s: Arc<dyn Store>,
) {
    use callops::domain::{NewOutboundCall, OutboundStatus};
    use callops::store::DialClaim;
    let new = |n: &str| NewOutboundCall {
        phone: PhoneNumber::parse(n).unwrap(),
        script: "realty_cold".into(),
        variables: json!({"name": "Иван"}),
        requested_by: Some(7),
        chat_id: Some(-100),
    };
    let a = s.queue_outbound(&new("+79161234567")).await.unwrap();
    let b = s.queue_outbound(&new("+79161234568")).await.unwrap();
    assert_eq!(a.status, OutboundStatus::Queued);
    assert_eq!(a.phone.as_str(), "+79161234567");
    assert_eq!(a.variables["name"], "Иван");
    assert_eq!((a.requested_by, a.chat_id), (Some(7), Some(-100)));
    let lease = Duration::from_secs(30);
    assert_eq!(
        s.claim_dial(a.id, "i1", lease, 1).await.unwrap(),
        DialClaim::Started
    );
    // Claimed once: a second claim (another instance, a retried job) does not dial again.
    assert_eq!(
        s.claim_dial(a.id, "i2", lease, 5).await.unwrap(),
        DialClaim::NotQueued(OutboundStatus::Dialling)
    );
    // One call under way and a limit of one: the next waits, queued.
    assert_eq!(
        s.claim_dial(b.id, "i2", lease, 1).await.unwrap(),
        DialClaim::AtCapacity
    );
    assert_eq!(
        s.outbound_call(b.id).await.unwrap().unwrap().status,
        OutboundStatus::Queued
    );
    let open: Vec<i64> = s
        .open_outbound()
        .await
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(open, vec![a.id, b.id]);
    // Only the owner moves it on.
    let upd = |st, owner: &'static str| {
        let s = s.clone();
        async move {
            s.update_outbound(a.id, owner, st, None, None, lease)
                .await
                .unwrap()
        }
    };
    assert!(!upd(OutboundStatus::Ringing, "i2").await);
    assert!(upd(OutboundStatus::Ringing, "i1").await);
    assert!(upd(OutboundStatus::Talking, "i1").await);
    assert!(s
        .update_outbound(
            a.id,
            "i1",
            OutboundStatus::Ended,
            None,
            Some("interested"),
            lease
        )
        .await
        .unwrap());
    let ended = s.outbound_call(a.id).await.unwrap().unwrap();
    assert_eq!(ended.status, OutboundStatus::Ended);
    assert_eq!(ended.outcome.as_deref(), Some("interested"));
    assert!(ended.answered_at.is_some() && ended.ended_at.is_some());
    assert!(
        !upd(OutboundStatus::Talking, "i1").await,
        "an ended call stays ended"
    );
    // Capacity is free again; b's owner stops without a word: its lease runs out.
    assert_eq!(
        s.claim_dial(b.id, "i2", Duration::from_millis(1), 1)
            .await
            .unwrap(),
        DialClaim::Started
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(s.interrupt_expired_outbound().await.unwrap(), 1);
    let b = s.outbound_call(b.id).await.unwrap().unwrap();
    assert_eq!(b.status, OutboundStatus::Interrupted);
    assert!(b.reason.unwrap().contains("stopped"));
    assert_eq!(
        s.claim_dial(b.id, "i3", lease, 5).await.unwrap(),
        DialClaim::NotQueued(OutboundStatus::Interrupted),
        "an interrupted attempt is never redialled"
    );
    assert!(!s
        .update_outbound(b.id, "i2", OutboundStatus::Talking, None, None, lease)
        .await
        .unwrap());
    assert!(s.open_outbound().await.unwrap().is_empty());
}

async fn concurrent_claims_never_exceed_the_limit(s: Arc<dyn Store>) {
    use callops::domain::NewOutboundCall;
    use callops::store::DialClaim;
    let mut ids = Vec::new();
    for i in 0..8 {
        let call = NewOutboundCall {
            phone: PhoneNumber::parse(&format!("+7916000000{i}")).unwrap(),
            script: "realty_cold".into(),
            variables: json!({}),
            requested_by: None,
            chat_id: None,
        };
        ids.push(s.queue_outbound(&call).await.unwrap().id);
    }
    // Eight instances claim at once, each its own attempt, with room for three.
    let claims = futures::future::join_all(ids.iter().enumerate().map(|(i, &id)| {
        let s = s.clone();
        async move {
            s.claim_dial(id, &format!("i{i}"), Duration::from_secs(30), 3)
                .await
                .unwrap()
        }
    }))
    .await;
    let started = claims.iter().filter(|c| **c == DialClaim::Started).count();
    assert_eq!(started, 3, "{claims:?}");
    assert!(claims
        .iter()
        .all(|c| matches!(c, DialClaim::Started | DialClaim::AtCapacity)));
}

async fn a_call_under_way_is_steered_through_the_store(s: Arc<dyn Store>) {
    use callops::domain::{
        NewOutboundCall, OutboundLine, OutboundStatus, Speaker, StopRequest, REASON_CANCELLED,
    };
    use callops::store::DialClaim;
    let new = |n: &str| NewOutboundCall {
        phone: PhoneNumber::parse(n).unwrap(),
        script: "realty_cold".into(),
        variables: json!({}),
        requested_by: Some(7),
        chat_id: Some(-100),
    };
    let a = s.queue_outbound(&new("+79161234567")).await.unwrap();
    let b = s.queue_outbound(&new("+79161234568")).await.unwrap();
    assert_eq!(a.status_message_id, None);
    s.set_outbound_message(a.id, 42).await.unwrap();
    assert_eq!(
        s.outbound_by_message(-100, 42).await.unwrap().map(|c| c.id),
        Some(a.id)
    );
    assert_eq!(
        s.outbound_by_message(-200, 42).await.unwrap(),
        None,
        "another chat"
    );
    assert_eq!(s.outbound_by_message(-100, 43).await.unwrap(), None);

    // No hints for a call not under way; none taken twice; in the order they were left.
    assert!(!s.add_outbound_hint(a.id, "рано", None).await.unwrap());
    assert_eq!(
        s.claim_dial(a.id, "i1", LEASE, 5).await.unwrap(),
        DialClaim::Started
    );
    assert!(s.add_outbound_hint(a.id, "первая", Some(7)).await.unwrap());
    assert!(s.add_outbound_hint(a.id, "вторая", Some(7)).await.unwrap());
    let taken = s.take_outbound_signals(a.id).await.unwrap();
    assert_eq!(
        (taken.stop, taken.hints.clone()),
        (false, vec!["первая".into(), "вторая".into()])
    );
    assert!(s
        .take_outbound_signals(a.id)
        .await
        .unwrap()
        .hints
        .is_empty());

    // Hanging up: a call under way is flagged for its owner; a queued one ends undialled.
    assert_eq!(
        s.request_outbound_stop(a.id).await.unwrap(),
        Some(StopRequest::Flagged)
    );
    assert!(s.take_outbound_signals(a.id).await.unwrap().stop);
    assert_eq!(
        s.request_outbound_stop(b.id).await.unwrap(),
        Some(StopRequest::Cancelled)
    );
    let b = s.outbound_call(b.id).await.unwrap().unwrap();
    assert_eq!(b.status, OutboundStatus::Failed);
    assert_eq!(b.reason.as_deref(), Some(REASON_CANCELLED));
    assert!(b.ended_at.is_some());
    assert_eq!(
        s.claim_dial(b.id, "i1", LEASE, 5).await.unwrap(),
        DialClaim::NotQueued(OutboundStatus::Failed),
        "a cancelled call is never dialled"
    );
    assert_eq!(
        s.request_outbound_stop(b.id).await.unwrap(),
        Some(StopRequest::AlreadyOver(OutboundStatus::Failed))
    );
    assert_eq!(s.request_outbound_stop(9999).await.unwrap(), None);

    // The live transcript: in order, a repeated line kept once.
    let line = |seq, speaker, text: &str| OutboundLine {
        seq,
        speaker,
        text: text.into(),
        at_ms: i64::from(seq) * 1000,
    };
    s.append_outbound_line(a.id, &line(1, Speaker::Client, "Алло"))
        .await
        .unwrap();
    s.append_outbound_line(a.id, &line(0, Speaker::Agent, "Здравствуйте"))
        .await
        .unwrap();
    s.append_outbound_line(a.id, &line(1, Speaker::Client, "повтор"))
        .await
        .unwrap();
    assert_eq!(
        s.outbound_lines(a.id).await.unwrap(),
        vec![
            line(0, Speaker::Agent, "Здравствуйте"),
            line(1, Speaker::Client, "Алло")
        ]
    );
    assert!(s.outbound_lines(b.id).await.unwrap().is_empty());
    s.set_outbound_answered_by(a.id, callops::domain::AnsweredBy::Screener)
        .await
        .unwrap();
    assert_eq!(
        s.outbound_call(a.id).await.unwrap().unwrap().answered_by,
        Some(callops::domain::AnsweredBy::Screener)
    );
    assert_eq!(b.answered_by, None);
}

async fn imported_numbering_tables_replace_per_leading_digit(s: Arc<dyn Store>) {
    assert!(s.numbering_tables().await.unwrap().is_empty());
    s.save_numbering_table(9, "nine, first").await.unwrap();
    s.save_numbering_table(3, "three").await.unwrap();
    s.save_numbering_table(9, "nine, again").await.unwrap();
    assert_eq!(
        s.numbering_tables().await.unwrap(),
        vec!["three".to_string(), "nine, again".to_string()]
    );
}

async fn the_do_not_call_list_is_listed_newest_first_and_numbers_come_off_it(s: Arc<dyn Store>) {
    let a = PhoneNumber::parse("+79161234567").unwrap();
    let b = PhoneNumber::parse("+79031112233").unwrap();
    assert_eq!(s.list_do_not_call(10).await.unwrap(), (Vec::new(), 0));
    assert!(s.add_do_not_call(&a, "первый").await.unwrap());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(s.add_do_not_call(&b, "второй").await.unwrap());
    let (entries, total) = s.list_do_not_call(10).await.unwrap();
    assert_eq!(total, 2);
    let order: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e.phone.as_str(), e.reason.as_str()))
        .collect();
    assert_eq!(
        order,
        vec![("+79031112233", "второй"), ("+79161234567", "первый")]
    );
    assert!(
        (chrono::Utc::now() - entries[0].added_at)
            .num_seconds()
            .abs()
            < 60
    );
    let (one, total) = s.list_do_not_call(1).await.unwrap();
    assert_eq!((one.len(), total), (1, 2));
    assert!(s.remove_do_not_call(&a).await.unwrap());
    assert!(!s.remove_do_not_call(&a).await.unwrap());
    assert!(!s.is_do_not_call(&a).await.unwrap());
    assert_eq!(s.list_do_not_call(10).await.unwrap().1, 1);
}

async fn a_campaign_is_written_with_its_contacts_in_one_go_and_counted_by_state(s: Arc<dyn Store>) {
    use callops::domain::{
        CampaignStatus, ContactSkip, ContactState, NewCampaign, NewCampaignContact,
    };
    let contact = |i: usize| NewCampaignContact {
        line: i as i64 + 2,
        phone: PhoneNumber::parse(&format!("+7914{:07}", i)).unwrap(),
        variables: serde_json::json!({"name": format!("Клиент {i}")}),
        zone: Some(chrono_tz::Asia::Vladivostok),
        consent: (i == 0).then(|| "да".to_string()),
        source: None,
        variant: (i % 2) as i64,
        skip: (i % 100 == 7).then_some(ContactSkip::DoNotCall),
    };
    // 1 200 contacts (more than one batch), one number twice: kept once.
    let mut contacts: Vec<NewCampaignContact> = (0..1200).map(contact).collect();
    contacts.push(contact(5));
    let new = NewCampaign {
        name: "Склады Q4".into(),
        scripts: vec!["logistics_cold".into(), "realty_cold".into()],
        chat_id: Some(-100),
        created_by: Some(42),
        zone: chrono_tz::Europe::Moscow,
        concurrency: 5,
        priority: 1,
        plan: callops::domain::CampaignPlan {
            retries: 3,
            retry_min: 45,
            window: callops::domain::CallWindow::parse("10:00-19:00").unwrap(),
            days: callops::domain::Days::parse("пн-сб").unwrap(),
            voicemail_retries: 1,
            screened_retries: 0,
        },
    };
    let c = s.create_campaign(&new, &contacts).await.unwrap();
    assert_eq!(c.plan, new.plan);
    assert_eq!(c.status, CampaignStatus::Paused);
    assert_eq!(
        (c.name.as_str(), c.scripts.len(), c.zone),
        ("Склады Q4", 2, chrono_tz::Europe::Moscow)
    );
    assert_eq!(s.campaign(c.id).await.unwrap(), Some(c.clone()));
    let counts = s.campaign_counts(c.id).await.unwrap();
    assert_eq!(counts.total(), 1200);
    assert_eq!(counts.get(ContactState::Skipped), 12);
    assert_eq!(counts.get(ContactState::Pending), 1188);
    assert_eq!(counts.get(ContactState::Done), 0);
    let second = s.create_campaign(&new, &contacts[..3]).await.unwrap();
    let listed: Vec<i64> = s.campaigns().await.unwrap().iter().map(|c| c.id).collect();
    assert_eq!(listed, vec![second.id, c.id], "newest first");
    assert!(s
        .set_campaign_status(c.id, CampaignStatus::Running)
        .await
        .unwrap());
    assert_eq!(
        s.campaign(c.id).await.unwrap().unwrap().status,
        CampaignStatus::Running
    );
    assert!(!s
        .set_campaign_status(9999, CampaignStatus::Running)
        .await
        .unwrap());
    assert_eq!(s.campaign(9999).await.unwrap(), None);
}

async fn campaign_attempts_are_written_within_both_limits_and_settled_once(s: Arc<dyn Store>) {
    use callops::domain::{
        CampaignPlan, CampaignStatus, ContactOutcome, ContactState, Conversation, NewCampaign,
        NewCampaignContact, OutboundStatus, Settlement, Stage, REASON_CANCELLED,
    };
    let now = Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap();
    let contact = |i: usize| NewCampaignContact {
        line: i as i64 + 2,
        phone: PhoneNumber::parse(&format!("+7916{:07}", i)).unwrap(),
        variables: serde_json::json!({"name": format!("Клиент {i}")}),
        zone: None,
        consent: None,
        source: None,
        variant: 0,
        skip: None,
    };
    let new = |concurrency| NewCampaign {
        name: "Склады".into(),
        scripts: vec!["logistics_cold".into()],
        chat_id: Some(-100),
        created_by: Some(42),
        zone: chrono_tz::Europe::Moscow,
        concurrency,
        priority: 0,
        plan: CampaignPlan::default(),
    };
    let c = s
        .create_campaign(&new(2), &(0..5).map(contact).collect::<Vec<_>>())
        .await
        .unwrap();
    assert!(
        s.running_campaigns().await.unwrap().is_empty(),
        "created paused"
    );
    s.set_campaign_status(c.id, CampaignStatus::Running)
        .await
        .unwrap();
    let c = s.running_campaigns().await.unwrap().remove(0);
    // One contact is due later (a retry, a window not open yet).
    let due = s.due_contacts(c.id, now, 10).await.unwrap();
    assert_eq!(due.len(), 5);
    s.defer_contacts(&[
        (due[4].id, now + chrono::Duration::hours(1)),
        (due[3].id, now - chrono::Duration::minutes(1)),
    ])
    .await
    .unwrap();
    let due = s.due_contacts(c.id, now, 10).await.unwrap();
    assert_eq!(due.len(), 4);
    assert_eq!(
        due[0].next_at,
        Some(now - chrono::Duration::minutes(1)),
        "timed ones first"
    );
    assert_eq!(
        s.due_contacts(c.id, now, 2).await.unwrap().len(),
        2,
        "limited"
    );
    let ready: Vec<(i64, String)> = due
        .iter()
        .map(|k| (k.id, "logistics_cold".to_string()))
        .collect();
    // The campaign's own limit: 2.
    let written = s.start_attempts(&c, &ready, 10).await.unwrap();
    assert!(!written.global_full);
    let started = written.started;
    assert_eq!(started.len(), 2);
    assert_eq!(started[0].0, due[0].id);
    let again = s.start_attempts(&c, &ready, 10).await.unwrap();
    assert!(
        again.started.is_empty(),
        "at its limit, and started contacts are not waiting"
    );
    let attempt = s.outbound_call(started[0].1).await.unwrap().unwrap();
    assert_eq!(attempt.status, OutboundStatus::Queued);
    assert_eq!(attempt.campaign_contact_id, Some(due[0].id));
    assert_eq!(attempt.phone, due[0].phone);
    assert_eq!(attempt.variables, due[0].variables);
    assert_eq!(
        (attempt.chat_id, attempt.requested_by),
        (Some(-100), Some(42))
    );
    let k = s.campaign_contact(due[0].id).await.unwrap().unwrap();
    assert_eq!(
        (k.state, k.attempts, k.outbound_id),
        (ContactState::Calling, 1, Some(attempt.id))
    );
    // The global limit counts every open attempt: another campaign gets one line of 3.
    let other = s
        .create_campaign(&new(5), &(10..13).map(contact).collect::<Vec<_>>())
        .await
        .unwrap();
    let other_ready: Vec<(i64, String)> = s
        .due_contacts(other.id, now, 10)
        .await
        .unwrap()
        .iter()
        .map(|k| (k.id, "logistics_cold".to_string()))
        .collect();
    let third = s.start_attempts(&other, &other_ready, 3).await.unwrap();
    assert_eq!((third.started.len(), third.global_full), (1, true));
    // An attempt that ended is settled once, on its contact only.
    assert_eq!(
        s.claim_dial(attempt.id, "me", LEASE, 10).await.unwrap(),
        callops::store::DialClaim::Started
    );
    s.update_outbound(
        attempt.id,
        "me",
        OutboundStatus::Ended,
        None,
        Some("interested"),
        LEASE,
    )
    .await
    .unwrap();
    let settled = Settlement {
        state: ContactState::Done,
        outcome: Some(ContactOutcome::Converted),
        skip: None,
        next_at: None,
        not_dialled: false,
        conversation: Some(Conversation {
            stage: Stage::Contact,
            objections: Some(true),
            duration_ms: 61_000,
            callback: None,
            captured: Some("Иван, директор, +79161112233".into()),
            call_id: None,
        }),
        ended: now,
    };
    let unsettled = s.unsettled_contacts(10).await.unwrap();
    assert_eq!(unsettled.len(), 1);
    assert_eq!(unsettled[0].1.id, attempt.id);
    assert!(s
        .settle_contact(due[0].id, attempt.id, &settled)
        .await
        .unwrap());
    assert!(
        !s.settle_contact(due[0].id, attempt.id, &settled)
            .await
            .unwrap(),
        "once"
    );
    assert!(s.unsettled_contacts(10).await.unwrap().is_empty());
    let k = s.campaign_contact(due[0].id).await.unwrap().unwrap();
    assert_eq!(
        (k.state, k.outcome, k.last_at),
        (
            ContactState::Done,
            Some(ContactOutcome::Converted),
            Some(now)
        )
    );
    assert_eq!(k.conversation, settled.conversation);
    // Pausing cancels the attempt not dialled yet; its contact waits again, its try not counted.
    assert_eq!(s.cancel_queued_attempts(c.id).await.unwrap(), 1);
    let cancelled = s.outbound_call(started[1].1).await.unwrap().unwrap();
    assert_eq!(
        (cancelled.status, cancelled.reason.as_deref()),
        (OutboundStatus::Failed, Some(REASON_CANCELLED))
    );
    let k = s.campaign_contact(due[1].id).await.unwrap().unwrap();
    assert_eq!((k.state, k.attempts), (ContactState::Pending, 0));
    // Not finished while anyone waits; finished once nobody does (and only once).
    assert!(!s.finish_campaign(c.id).await.unwrap());
    let all = s.campaign_contacts(c.id).await.unwrap();
    assert_eq!(all.len(), 5);
    for k in all.iter().filter(|k| k.state == ContactState::Pending) {
        let [(_, a)] = s
            .start_attempts(&c, &[(k.id, "logistics_cold".into())], 10)
            .await
            .unwrap()
            .started[..]
        else {
            panic!("one attempt for contact {}", k.id)
        };
        let failed = Settlement {
            state: ContactState::Exhausted,
            outcome: Some(ContactOutcome::NoAnswer),
            conversation: None,
            ..settled.clone()
        };
        assert!(s.settle_contact(k.id, a, &failed).await.unwrap());
    }
    assert!(s.finish_campaign(c.id).await.unwrap());
    assert!(!s.finish_campaign(c.id).await.unwrap());
    let done = s.campaign(c.id).await.unwrap().unwrap();
    assert_eq!(done.status, CampaignStatus::Finished);
    assert!(done.finished_at.is_some());
    s.set_campaign_message(c.id, 77).await.unwrap();
    assert_eq!(
        s.campaign(c.id).await.unwrap().unwrap().status_message_id,
        Some(77)
    );
    // Bulk add keeps numbers once.
    let added = s
        .add_campaign_contacts(other.id, &(11..15).map(contact).collect::<Vec<_>>())
        .await
        .unwrap();
    assert_eq!(added, 2);
}

async fn leader_leases_fence_the_old_leader_out(s: Arc<dyn Store>) {
    let short = Duration::from_millis(300);
    let a = s.acquire_leader("poll", "a", short).await.unwrap().unwrap();
    assert_eq!(a.last_run, None);
    assert!(s
        .acquire_leader("poll", "b", short)
        .await
        .unwrap()
        .is_none());
    assert!(
        s.acquire_leader("digest", "b", short)
            .await
            .unwrap()
            .is_some(),
        "per work"
    );
    assert!(s.renew_leader("poll", "a", a.token, short).await.unwrap());
    assert!(s.mark_leader_run("poll", a.token).await.unwrap());
    // a stops renewing; b takes over after the lease and the token moves on.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let b = s.acquire_leader("poll", "b", short).await.unwrap().unwrap();
    assert!(b.token > a.token);
    assert!(
        b.last_run.is_some(),
        "the new leader knows when the work last ran"
    );
    assert!(!s.renew_leader("poll", "a", a.token, short).await.unwrap());
    assert!(!s.mark_leader_run("poll", a.token).await.unwrap(), "fenced");
    assert!(s.mark_leader_run("poll", b.token).await.unwrap());
    // Releasing hands over at once; a stale release does nothing.
    s.release_leader("poll", "a", a.token).await.unwrap();
    assert!(s
        .acquire_leader("poll", "c", short)
        .await
        .unwrap()
        .is_none());
    s.release_leader("poll", "b", b.token).await.unwrap();
    let c = s.acquire_leader("poll", "c", short).await.unwrap().unwrap();
    assert!(c.token > b.token);
    let rows = s.leaders().await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[1].name.as_str(), rows[1].holder.as_str()),
        ("poll", "c")
    );
}

async fn completions_are_stored_together_for_held_leases_only(s: Arc<dyn Store>) {
    for i in 0..3 {
        s.enqueue(NewJob::new("k", serde_json::json!({ "i": i })))
            .await
            .unwrap();
    }
    let jobs = s.claim(&kinds(&["k"]), 3, LEASE).await.unwrap();
    assert_eq!(jobs.len(), 3);
    let mut done: Vec<(i64, uuid::Uuid)> = jobs
        .iter()
        .map(|j| (j.id, j.lease_token.unwrap()))
        .collect();
    done[2].1 = uuid::Uuid::new_v4(); // a lease lost meanwhile
    let mut held = s.complete_many(&done).await.unwrap();
    held.sort_unstable();
    assert_eq!(held, vec![jobs[0].id, jobs[1].id]);
    assert_eq!(
        s.job(jobs[0].id).await.unwrap().unwrap().state,
        JobState::Done
    );
    assert_eq!(
        s.job(jobs[2].id).await.unwrap().unwrap().state,
        JobState::Running
    );
}

async fn a_telegram_update_is_seen_once(s: Arc<dyn Store>) {
    assert!(s.first_sight_of_update(41).await.unwrap());
    assert!(
        !s.first_sight_of_update(41).await.unwrap(),
        "delivered again"
    );
    assert!(s.first_sight_of_update(42).await.unwrap());
    // Several instances receiving the same update at once: one handles it.
    let firsts = futures::future::join_all((0..8).map(|_| s.first_sight_of_update(500)))
        .await
        .into_iter()
        .filter(|r| *r.as_ref().unwrap())
        .count();
    assert_eq!(firsts, 1);
    // A pruning update keeps recent ones.
    assert!(!s.first_sight_of_update(41).await.unwrap());
}
