//! A phone line over a SIP trunk: the signalling of [`super::sip`] and the RTP of
//! [`super::media::rtp_session`] joined into the [`Line`] the agent talks on, and the SIP
//! [`Trunk`] that dials with our SDP offer and starts the media on the answer.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::line::{HangupCause, Line, LineEvent};
use super::media::rtp_session::{MediaEvent, RtpPorts, RtpSession, RTP_RATE};
use super::media::sdp;
use super::media::Frame;
use super::sip::{EndedBy, InviteError, SipCall, SipEvent, SipTrunk};
use super::trunk::{DialFailure, DialProgress, Trunk};
use crate::config::NumberFormat;
use crate::domain::PhoneNumber;

/// An answered SIP call with its media.
pub struct SipLine {
    call: SipCall,
    rtp: RtpSession,
    answered: bool,
    ended: bool,
}

#[async_trait]
impl Line for SipLine {
    fn sample_rate(&self) -> u32 {
        RTP_RATE
    }

    async fn recv(&mut self) -> Option<LineEvent> {
        if !self.answered {
            self.answered = true;
            return Some(LineEvent::Answered);
        }
        if self.ended {
            return None;
        }
        loop {
            tokio::select! {
                media = self.rtp.events.recv() => match media {
                    Some(MediaEvent::Frame(f)) => return Some(LineEvent::Frame(f)),
                    Some(MediaEvent::Dtmf(k)) => return Some(LineEvent::Dtmf(k)),
                    None => {
                        self.ended = true;
                        return Some(LineEvent::Hangup(HangupCause::Network));
                    }
                },
                ev = self.call.events.recv() => match ev {
                    Some(SipEvent::Ringing(_)) => continue,
                    Some(SipEvent::Ended(by)) => {
                        self.ended = true;
                        self.rtp.stop();
                        let cause = match by {
                            EndedBy::Callee => HangupCause::Remote,
                            EndedBy::Us => HangupCause::Local,
                            EndedBy::Network => HangupCause::Network,
                        };
                        return Some(LineEvent::Hangup(cause));
                    }
                    None => {
                        self.ended = true;
                        return Some(LineEvent::Hangup(HangupCause::Network));
                    }
                },
            }
        }
    }

    fn sender(&self) -> mpsc::Sender<Frame> {
        self.rtp.frames.clone()
    }

    async fn hangup(&mut self) {
        self.rtp.stop();
        if !self.ended {
            self.ended = true;
            self.call.hangup().await;
        }
    }
}

/// Dials through a SIP trunk.
pub struct SipDialer {
    pub sip: Arc<SipTrunk>,
    pub ports: Arc<RtpPorts>,
    /// The address RTP binds to and advertises (the public one behind NAT).
    pub media_ip: IpAddr,
    pub advertised_ip: IpAddr,
    pub number_format: NumberFormat,
}

#[async_trait]
impl Trunk for SipDialer {
    async fn dial(
        &self,
        to: &PhoneNumber,
        ring_timeout: Duration,
        progress: mpsc::Sender<DialProgress>,
        cancel: CancellationToken,
    ) -> Result<Box<dyn Line>, DialFailure> {
        let socket = self
            .ports
            .bind(self.media_ip)
            .await
            .map_err(|e| DialFailure::Failed(format!("RTP: {e}")))?;
        let port = socket
            .local_addr()
            .map_err(|e| DialFailure::Failed(format!("RTP: {e}")))?
            .port();
        let offer = sdp::offer(
            SocketAddr::new(self.advertised_ip, port),
            rand::random::<u32>().into(),
        );
        let _ = progress.send(DialProgress::Trying).await;
        let (ring_tx, mut ring_rx) = mpsc::channel(4);
        let relay = {
            let progress = progress.clone();
            tokio::spawn(async move {
                if ring_rx.recv().await.is_some() {
                    let _ = progress.send(DialProgress::Ringing).await;
                }
            })
        };
        let result = self
            .sip
            .invite(
                &self.number_format.dial_string(to),
                offer,
                ring_timeout,
                ring_tx,
                cancel,
            )
            .await;
        relay.abort();
        let call = result.map_err(|e| match e {
            InviteError::Refused(486 | 600) => DialFailure::Busy,
            InviteError::Refused(603) => DialFailure::Declined,
            InviteError::Refused(408 | 480) | InviteError::Timeout => DialFailure::NoAnswer,
            InviteError::Cancelled => DialFailure::Cancelled,
            other => DialFailure::Failed(other.to_string()),
        })?;
        let answer = match sdp::parse_answer(&call.answer_sdp) {
            Ok(a) => a,
            Err(e) => {
                call.hangup().await;
                return Err(DialFailure::Failed(e.to_string()));
            }
        };
        Ok(Box::new(SipLine {
            rtp: RtpSession::start(socket, &answer),
            call,
            answered: false,
            ended: false,
        }))
    }
}
