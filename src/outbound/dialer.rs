//! Requesting and placing one outbound call (see the module header).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::campaign::settle::Talk;
use super::campaign_runner::CampaignRunner;
use crate::agent::after_call::{record_call, CallParty};
use crate::agent::{run_call, AgentDeps, CallControl, DialogSettings, Scripts};
use crate::analysis::pipeline::CallIntake;
use crate::domain::{
    CallOrigin, Endpoint, NewOutboundCall, OutboundCall, OutboundStatus, PhoneNumber,
    REASON_DO_NOT_CALL, REASON_HUNG_UP_RINGING,
};
use crate::store::{DialClaim, Store, StoreError};
use crate::telephony::line::Line;
use crate::telephony::recorded_line::RecordedLine;
use crate::telephony::trunk::{DialFailure, DialProgress, Trunk};

/// Limits of outbound calling.
#[derive(Debug, Clone)]
pub struct OutboundSettings {
    /// Calls under way at once across every instance (`CALL_CONCURRENCY`).
    pub concurrency: i64,
    /// Ringing ends after this (`CALL_RING_TIMEOUT_SEC`).
    pub ring_timeout: Duration,
    /// How long an attempt stays ours without a heartbeat; past it, it counts as interrupted.
    pub lease: Duration,
    /// Our number (the caller ID).
    pub caller_id: Option<PhoneNumber>,
}

/// Why a call cannot be requested.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("the number is on the do-not-call list")]
    DoNotCall,
    #[error("unknown script {0:?}; available: {1}")]
    UnknownScript(String, String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What placing an attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Placed {
    /// It ran to this final status.
    Done(OutboundStatus),
    /// The concurrency limit is reached; it stays queued.
    AtCapacity,
    /// It was not queued (placed already, or ended): nothing was dialled.
    NotQueued(OutboundStatus),
}

/// Places outbound calls from this instance.
pub struct Dialer {
    pub store: Arc<dyn Store>,
    pub trunk: Arc<dyn Trunk>,
    pub agent: AgentDeps,
    pub scripts: Arc<Scripts>,
    /// The script of a request that names none (`AGENT_SCRIPT`).
    pub default_script: String,
    pub dialog: DialogSettings,
    pub intake: Arc<CallIntake>,
    /// The LLM model, for the token accounting of the call.
    pub model: String,
    /// This instance, as the owner of the attempts it places.
    pub owner: String,
    pub settings: OutboundSettings,
    /// Where status messages are edited, when the bot runs.
    pub live: Option<super::live::LiveChat>,
    /// Told how each campaign attempt ended, when campaigns run here.
    pub campaigns: Option<Arc<CampaignRunner>>,
}

#[async_trait::async_trait]
impl super::campaign_runner::Placer for Dialer {
    async fn place_now(&self, id: i64, hang_up: CancellationToken) -> bool {
        let control = CallControl {
            hang_up,
            ..CallControl::default()
        };
        match self.place(id, &control).await {
            Ok(Placed::AtCapacity) => false,
            Ok(_) => true,
            Err(e) => {
                // Where it stands is in the database: a sweep queues it again if still queued,
                // or ends it interrupted once its lease runs out.
                tracing::warn!(outbound = id, error = %e, "placing a campaign call failed");
                true
            }
        }
    }
}

/// How the call itself ended.
struct Finish {
    status: OutboundStatus,
    reason: Option<String>,
    /// The agent's outcome category.
    outcome: Option<String>,
    /// What the agent established, once answered.
    talk: Option<Talk>,
}

impl Finish {
    fn line(status: OutboundStatus, reason: Option<String>) -> Self {
        Self {
            status,
            reason,
            outcome: None,
            talk: None,
        }
    }
}

impl Dialer {
    /// Checks a request (known script, not on the do-not-call list), writes it down and queues
    /// the job that places it.
    pub async fn request(&self, call: NewOutboundCall) -> Result<OutboundCall, RequestError> {
        if self.scripts.get(&call.script).is_none() {
            return Err(RequestError::UnknownScript(
                call.script.clone(),
                self.scripts.names().join(", "),
            ));
        }
        if self.store.is_do_not_call(&call.phone).await? {
            return Err(RequestError::DoNotCall);
        }
        let queued = self.store.queue_outbound(&call).await?;
        super::queue::enqueue_place(
            self.store.as_ref(),
            &self.intake.waker,
            queued.id,
            super::queue::MANUAL_PRIORITY,
        )
        .await?;
        tracing::info!(
            outbound = queued.id,
            phone = %queued.phone.masked(),
            script = %queued.script,
            "outbound call queued"
        );
        Ok(queued)
    }

    /// Places a queued attempt, at most once: claims it, checks the do-not-call list again,
    /// dials, lets the agent talk and records the call. `control` hangs up from outside.
    pub async fn place(&self, id: i64, control: &CallControl) -> Result<Placed, StoreError> {
        let s = &self.settings;
        match self
            .store
            .claim_dial(id, &self.owner, s.lease, s.concurrency)
            .await?
        {
            DialClaim::Started => {}
            DialClaim::AtCapacity => return Ok(Placed::AtCapacity),
            DialClaim::NotQueued(st) => return Ok(Placed::NotQueued(st)),
        }
        let Some(attempt) = self.store.outbound_call(id).await? else {
            return Ok(Placed::NotQueued(OutboundStatus::Failed));
        };
        // The call's own control: hung up by the caller's token (shutdown, a lost job lease) or
        // by a request the follower picks up; its events go to the follower.
        let (events_tx, events_rx) = mpsc::channel(64);
        let own = CallControl {
            hang_up: control.hang_up.child_token(),
            events: Some(events_tx),
            hints: control.hints.clone(),
        };
        let (status_tx, status_rx) = watch::channel(OutboundStatus::Dialling);
        let follow = super::live::Follow {
            store: self.store.clone(),
            // A campaign's calls have no status message of their own (the campaign's shows them).
            chat: self
                .live
                .clone()
                .filter(|_| attempt.campaign_contact_id.is_none()),
            id,
            hang_up: own.hang_up.clone(),
            hints: own.hints.clone(),
        };
        let follower = tokio::spawn(follow.run(events_rx, status_rx));
        // Dropped (so the heartbeat stops) however this ends, even if the task is aborted.
        let heartbeat = self.heartbeat(id, status_tx.subscribe()).drop_guard();
        let result = self.dial_and_talk(&attempt, &status_tx, &own).await;
        drop(heartbeat);
        drop(own);
        let mut talk = None;
        let outcome = match result {
            Ok(finish) => {
                talk = finish.talk;
                self.store
                    .update_outbound(
                        id,
                        &self.owner,
                        finish.status,
                        finish.reason.as_deref(),
                        finish.outcome.as_deref(),
                        s.lease,
                    )
                    .await
                    .map(|_| finish.status)
            }
            Err(e) => Err(e),
        };
        if let Ok(st) = &outcome {
            status_tx.send_replace(*st);
        }
        drop(status_tx);
        // The follower draws the final status; it never holds the call up for long.
        let _ = tokio::time::timeout(Duration::from_secs(10), follower).await;
        let final_status = outcome?;
        tracing::info!(outbound = id, status = %final_status, "outbound call finished");
        if let (Some(runner), Some(_)) = (&self.campaigns, attempt.campaign_contact_id) {
            // Settled here with what the agent established; if this fails (or the process
            // stops now), a tick settles it from the stored attempt.
            match self.store.outbound_call(id).await {
                Ok(Some(ended)) => {
                    if let Err(e) = runner.settle(&ended, talk, (runner.clock)()).await {
                        tracing::warn!(outbound = id, error = %e, "settling a campaign contact failed");
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(outbound = id, error = %e, "reading an ended attempt failed")
                }
            }
        }
        Ok(Placed::Done(final_status))
    }

    /// Renews the attempt's lease at a third of its length while it runs.
    fn heartbeat(&self, id: i64, status: watch::Receiver<OutboundStatus>) -> CancellationToken {
        let stop = CancellationToken::new();
        let (store, owner, lease) = (self.store.clone(), self.owner.clone(), self.settings.lease);
        let token = stop.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = tokio::time::sleep(lease / 3) => {}
                }
                let current = *status.borrow();
                match store
                    .update_outbound(id, &owner, current, None, None, lease)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(e) => {
                        tracing::warn!(outbound = id, error = %e, "outbound heartbeat failed")
                    }
                }
            }
        });
        stop
    }

    async fn set(
        &self,
        id: i64,
        status: &watch::Sender<OutboundStatus>,
        to: OutboundStatus,
    ) -> Result<(), StoreError> {
        self.store
            .update_outbound(id, &self.owner, to, None, None, self.settings.lease)
            .await?;
        status.send_replace(to);
        Ok(())
    }

    /// The call itself; returns its final status, reason and outcome.
    async fn dial_and_talk(
        &self,
        attempt: &OutboundCall,
        status: &watch::Sender<OutboundStatus>,
        control: &CallControl,
    ) -> Result<Finish, StoreError> {
        let id = attempt.id;
        // The list may have changed since the request: checked again right before dialling.
        if self.store.is_do_not_call(&attempt.phone).await? {
            return Ok(Finish::line(
                OutboundStatus::Failed,
                Some(REASON_DO_NOT_CALL.into()),
            ));
        }
        let Some(script) = self.scripts.get(&attempt.script).cloned() else {
            return Ok(Finish::line(
                OutboundStatus::Failed,
                Some(format!("unknown script {:?}", attempt.script)),
            ));
        };
        let (progress_tx, mut progress_rx) = mpsc::channel(8);
        let dial = self.trunk.dial(
            &attempt.phone,
            self.settings.ring_timeout,
            progress_tx,
            control.hang_up.clone(),
        );
        tokio::pin!(dial);
        let line = loop {
            tokio::select! {
                r = &mut dial => break r,
                Some(p) = progress_rx.recv() => {
                    if p == DialProgress::Ringing {
                        self.set(id, status, OutboundStatus::Ringing).await?;
                    }
                }
            }
        };
        let line = match line {
            Ok(line) => line,
            Err(f) => {
                let (st, reason) = match f {
                    DialFailure::Busy => (OutboundStatus::Busy, None),
                    DialFailure::NoAnswer => (OutboundStatus::NoAnswer, None),
                    DialFailure::Declined => (OutboundStatus::Declined, None),
                    DialFailure::Cancelled => (
                        OutboundStatus::Failed,
                        Some(REASON_HUNG_UP_RINGING.to_string()),
                    ),
                    DialFailure::Failed(why) => (OutboundStatus::Failed, Some(why)),
                };
                return Ok(Finish::line(st, reason));
            }
        };
        self.set(id, status, OutboundStatus::Talking).await?;
        let (mut line, recording) = RecordedLine::wrap(line);
        let mut report = run_call(&mut line, &script, &self.agent, &self.dialog, control).await;
        line.hangup().await;
        report.recording = Some(recording.take_wav());
        let outcome = report
            .state
            .outcome
            .as_ref()
            .map(|o| o.0.as_str().to_string());
        let mut talk = super::talk::talk(&report);
        if let Some(who) = report.state.answered_by {
            self.store.set_outbound_answered_by(id, who).await?;
            if who.is_machine() {
                // A voicemail or a menu: no conversation to analyse or to post.
                return Ok(Finish {
                    status: OutboundStatus::Ended,
                    reason: None,
                    outcome,
                    talk: Some(talk),
                });
            }
        }
        let party = CallParty {
            ours: self
                .settings
                .caller_id
                .clone()
                .map_or_else(|| Endpoint::Other(String::new()), Endpoint::Number),
            callee: Endpoint::Number(attempt.phone.clone()),
            chat: attempt.chat_id,
        };
        let call_id = record_call(
            &self.intake,
            &self.model,
            CallOrigin::Agent,
            &format!("outbound:{id}"),
            &party,
            &report,
        )
        .await?;
        self.store.link_outbound_call(id, call_id).await?;
        talk.conversation.call_id = Some(call_id);
        Ok(Finish {
            status: OutboundStatus::Ended,
            reason: None,
            outcome,
            talk: Some(talk),
        })
    }
}
