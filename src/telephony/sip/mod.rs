//! SIP signalling for outbound calls over a trunk, on rsipstack (pinned): one endpoint and dialog
//! layer per process, a dispatcher that answers in-dialog requests (BYE from the callee) and
//! refuses unknown dialogs with 481, and [`SipTrunk::invite`], which sends an INVITE with our SDP
//! offer, answers 401/407 challenges, reports 180/183, keeps a 183's early SDP for a 200 that
//! carries none, and CANCELs when the ring timeout passes or the caller gives up; REGISTER with
//! digest authentication, refreshed at 75 % of the granted expiry, unregistered on shutdown.
//! No media here.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::dialog::{DialogState, TerminatedReason};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::{Method, StatusCode, Uri};
use rsipstack::transaction::Endpoint;
use rsipstack::transport::udp::UdpConnection;
use rsipstack::transport::{SipAddr, TcpListenerConnection, TransportLayer};
use rsipstack::EndpointBuilder;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How to reach a trunk.
#[derive(Debug, Clone)]
pub struct SipConfig {
    /// The trunk's `host[:port]`.
    pub server: String,
    /// The domain of our and their URIs, `host[:port]` (default: the server). A CANCEL goes where
    /// the Request-URI points, so a domain other than the server must reach the trunk too.
    pub domain: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Our caller ID, as the user part of From.
    pub caller: String,
    /// Where our SIP listens.
    pub bind: SocketAddr,
    /// The address advertised behind NAT.
    pub public: Option<std::net::IpAddr>,
    /// Signalling over TCP (`SIP_TRANSPORT=tcp`): we connect to the trunk and also listen on
    /// `bind` for requests it opens connections for; UDP stays open too.
    pub tcp: bool,
}

impl SipConfig {
    /// The user agent's settings from the `sip` section, for the trunk at `server`.
    pub fn from_settings(s: &crate::config::SipSettings, server: String) -> Self {
        Self {
            // With the port: a CANCEL follows the Request-URI, so it must name the trunk's port.
            domain: s.domain.clone().unwrap_or_else(|| server.clone()),
            username: s.username.clone(),
            password: s.password.as_ref().map(|p| p.expose().to_string()),
            caller: s
                .caller_id
                .as_ref()
                .map(|n| s.number_format.dial_string(n))
                .or_else(|| s.username.clone())
                .unwrap_or_else(|| "callops".into()),
            bind: s.bind,
            public: s.public_ip,
            tcp: s.transport == crate::config::SipTransport::Tcp,
            server,
        }
    }
}

/// The URI parameter naming TCP (UDP is the default and goes unsaid).
fn transport_param(tcp: bool) -> &'static str {
    if tcp {
        ";transport=tcp"
    } else {
        ""
    }
}

/// Why an INVITE did not become a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InviteError {
    /// A final answer other than 2xx.
    #[error("the trunk answered {0}")]
    Refused(u16),
    /// Nobody answered within the ring timeout; the INVITE was cancelled.
    #[error("no answer within the ring timeout")]
    Timeout,
    #[error("cancelled before the answer")]
    Cancelled,
    #[error("SIP error: {0}")]
    Stack(String),
}

/// What happens to a call after the INVITE, as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SipEvent {
    /// 180/183 (with the early SDP, if any).
    Ringing(Option<String>),
    /// The dialog ended (BYE from them, or ours, or a failure).
    Ended(EndedBy),
}

/// Who ended a dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndedBy {
    Callee,
    Us,
    Network,
}

/// An answered call's signalling: its dialog, the callee's SDP, and the events that follow.
pub struct SipCall {
    pub answer_sdp: String,
    pub events: mpsc::Receiver<SipEvent>,
    dialog: InviteDialog,
    layer: Arc<DialogLayer>,
}

impl SipCall {
    /// Hangs up with a BYE and forgets the dialog.
    pub async fn hangup(&self) {
        if let Err(e) = self.dialog.bye().await {
            tracing::debug!(error = %e, "BYE failed");
        }
        self.layer.remove_dialog(&self.dialog.id());
    }
}

/// The process's SIP user agent towards one trunk.
pub struct SipTrunk {
    cfg: SipConfig,
    endpoint: Arc<Endpoint>,
    layer: Arc<DialogLayer>,
    server: SipAddr,
    local: SipAddr,
    stop: CancellationToken,
}

impl SipTrunk {
    /// Binds the SIP transport, starts the endpoint and the dispatcher.
    pub async fn start(cfg: SipConfig, stop: CancellationToken) -> Result<Arc<Self>, InviteError> {
        let err = |e: rsipstack::Error| InviteError::Stack(e.to_string());
        let transport = TransportLayer::new(stop.child_token());
        let external = cfg.public.map(|ip| SocketAddr::new(ip, cfg.bind.port()));
        let conn = UdpConnection::create_connection(cfg.bind, external, Some(stop.child_token()))
            .await
            .map_err(err)?;
        transport.add_transport(conn.into());
        if cfg.tcp {
            if cfg.bind.port() == 0 {
                return Err(InviteError::Stack(
                    "SIP_TRANSPORT=tcp needs a fixed SIP_BIND port (the trunk connects back to it)"
                        .into(),
                ));
            }
            let listener = TcpListenerConnection::new(cfg.bind, external)
                .await
                .map_err(err)?;
            transport.add_transport(listener.into());
        }
        let endpoint = EndpointBuilder::new()
            .with_cancel_token(stop.child_token())
            .with_transport_layer(transport)
            .with_user_agent("callops")
            .build();
        let endpoint = Arc::new(endpoint);
        let wanted = if cfg.tcp {
            rsipstack::sip::transport::Transport::Tcp
        } else {
            rsipstack::sip::transport::Transport::Udp
        };
        let addrs = endpoint.get_addrs();
        let local = addrs
            .iter()
            .find(|a| a.r#type == Some(wanted))
            .or(addrs.first())
            .cloned()
            .ok_or_else(|| InviteError::Stack("no SIP address".into()))?;
        let server_uri =
            Uri::try_from(format!("sip:{}{}", cfg.server, transport_param(cfg.tcp)).as_str())
                .map_err(|e| InviteError::Stack(format!("SIP_SERVER: {e}")))?;
        let server = SipAddr::try_from(&server_uri).map_err(err)?;
        let layer = Arc::new(DialogLayer::new(endpoint.inner.clone()));
        let incoming = endpoint.incoming_transactions().map_err(err)?;
        {
            let endpoint = endpoint.clone();
            tokio::spawn(async move { endpoint.serve().await });
        }
        tokio::spawn(dispatch(layer.clone(), incoming, stop.clone()));
        Ok(Arc::new(Self {
            cfg,
            endpoint,
            layer,
            server,
            local,
            stop,
        }))
    }

    /// Our SIP address (what the trunk sends to).
    pub fn local_addr(&self) -> &SipAddr {
        &self.local
    }

    /// Sends an INVITE for `user` (already in the trunk's number format) with `offer` and waits
    /// for the answer (at most `ring_timeout` of ringing); `ringing` hears 180/183.
    pub async fn invite(
        &self,
        user: &str,
        offer: String,
        ring_timeout: Duration,
        ringing: mpsc::Sender<()>,
        cancel: CancellationToken,
    ) -> Result<SipCall, InviteError> {
        let domain = &self.cfg.domain;
        let uri = |u: &str, host: &str| {
            Uri::try_from(format!("sip:{u}@{host}").as_str())
                .map_err(|e| InviteError::Stack(format!("bad URI: {e}")))
        };
        let caller = uri(&self.cfg.caller, domain)?;
        let callee = uri(user, domain)?;
        let contact = uri(
            self.cfg.username.as_deref().unwrap_or(&self.cfg.caller),
            &format!("{}{}", self.local.addr, transport_param(self.cfg.tcp)),
        )?;
        let credential = self.credential();
        let opt = InviteOption {
            caller,
            callee,
            destination: Some(self.server.clone()),
            content_type: Some("application/sdp".into()),
            offer: Some(offer.into_bytes()),
            contact,
            credential,
            ..Default::default()
        };
        let (state_tx, mut state_rx) = self.layer.new_dialog_state_channel();
        let (events_tx, events_rx) = mpsc::channel(16);
        let early: Arc<Mutex<Option<String>>> = Arc::default();
        // Every state of this call's dialog: ringing before the answer, the end after it.
        {
            let early = early.clone();
            let layer = self.layer.clone();
            tokio::spawn(async move {
                while let Some(state) = state_rx.recv().await {
                    match state {
                        DialogState::Early(_, resp) => {
                            let sdp = String::from_utf8_lossy(resp.body()).into_owned();
                            let sdp = (!sdp.trim().is_empty()).then_some(sdp);
                            if sdp.is_some() {
                                *early.lock().unwrap_or_else(|p| p.into_inner()) = sdp.clone();
                            }
                            let _ = ringing.try_send(());
                            let _ = events_tx.try_send(SipEvent::Ringing(sdp));
                        }
                        DialogState::Terminated(id, reason) => {
                            layer.remove_dialog(&id);
                            let by = match reason {
                                TerminatedReason::UasBye => EndedBy::Callee,
                                TerminatedReason::UacBye | TerminatedReason::UacCancel => {
                                    EndedBy::Us
                                }
                                _ => EndedBy::Network,
                            };
                            let _ = events_tx.send(SipEvent::Ended(by)).await;
                            return;
                        }
                        _ => {}
                    }
                }
            });
        }
        let invite = self.layer.do_invite(opt, state_tx);
        // Dropping the INVITE before the answer CANCELs it (rsipstack's guard).
        let result = tokio::select! {
            r = invite => r,
            _ = tokio::time::sleep(ring_timeout) => return Err(InviteError::Timeout),
            _ = cancel.cancelled() => return Err(InviteError::Cancelled),
            _ = self.stop.cancelled() => return Err(InviteError::Cancelled),
        };
        let (dialog, resp) = result.map_err(|e| InviteError::Stack(e.to_string()))?;
        let Some(resp) = resp else {
            return Err(InviteError::Stack("no final answer".into()));
        };
        let code = resp.status_code.code();
        if !(200..300).contains(&code) {
            return Err(InviteError::Refused(code));
        }
        let body = String::from_utf8_lossy(resp.body()).into_owned();
        let answer_sdp = if body.trim().is_empty() {
            early
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
                .unwrap_or_default()
        } else {
            body
        };
        Ok(SipCall {
            answer_sdp,
            events: events_rx,
            dialog,
            layer: self.layer.clone(),
        })
    }

    /// REGISTERs once with `expires` (0 unregisters), answering a 401/407 challenge with our
    /// credentials; returns the expiry the registrar granted.
    pub async fn register(&self, expires: u32) -> Result<u32, InviteError> {
        let mut reg = self.registration();
        let resp = reg
            .register(self.registrar()?, Some(expires))
            .await
            .map_err(|e| InviteError::Stack(e.to_string()))?;
        let code = resp.status_code.code();
        if !(200..300).contains(&code) {
            return Err(InviteError::Refused(code));
        }
        Ok(reg.expires())
    }

    /// Keeps us registered: REGISTERs now, refreshes at 75 % of the expiry granted (retrying
    /// with backoff when the registrar fails), and unregisters when `stop` fires.
    pub fn keep_registered(self: &Arc<Self>, expires: u32, stop: CancellationToken) {
        let this = self.clone();
        tokio::spawn(async move {
            let server = match this.registrar() {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot register with the SIP trunk");
                    return;
                }
            };
            let mut reg = this.registration();
            reg.keep_alive(server.clone(), expires, stop.clone(), |outcome| {
                use rsipstack::dialog::registration::RefreshOutcome;
                match outcome {
                    RefreshOutcome::Registered(_) => {
                        tracing::debug!("registered with the SIP trunk")
                    }
                    RefreshOutcome::Rejected(r) => tracing::warn!(
                        status = r.status_code.code(),
                        "the SIP trunk refused our REGISTER (check SIP_USERNAME and SIP_PASSWORD)"
                    ),
                    RefreshOutcome::Failed(e) => {
                        tracing::warn!(error = %e, "REGISTER failed; retrying")
                    }
                }
            })
            .await;
            match reg.register(server, Some(0)).await {
                Ok(_) => tracing::info!("unregistered from the SIP trunk"),
                Err(e) => tracing::warn!(error = %e, "unregister failed"),
            }
        });
    }

    fn registration(&self) -> rsipstack::dialog::registration::Registration {
        rsipstack::dialog::registration::Registration::new(
            self.endpoint.inner.clone(),
            self.credential(),
        )
    }

    fn registrar(&self) -> Result<Uri, InviteError> {
        Uri::try_from(format!("sip:{}{}", self.cfg.server, transport_param(self.cfg.tcp)).as_str())
            .map_err(|e| InviteError::Stack(format!("SIP_SERVER: {e}")))
    }

    fn credential(&self) -> Option<Credential> {
        match (&self.cfg.username, &self.cfg.password) {
            (Some(u), Some(p)) => Some(Credential {
                username: u.clone(),
                password: p.clone(),
                realm: None,
                auth_username: None,
            }),
            _ => None,
        }
    }

    /// Stops the endpoint.
    pub fn shutdown(&self) {
        self.stop.cancel();
    }
}

/// Answers what arrives outside our calls' transactions: in-dialog requests go to their dialog
/// (a BYE is answered 200 and ends it), OPTIONS gets 200, anything for an unknown dialog 481, a
/// new INVITE 480 (we only place calls).
async fn dispatch(
    layer: Arc<DialogLayer>,
    mut incoming: rsipstack::transaction::TransactionReceiver,
    stop: CancellationToken,
) {
    loop {
        let mut tx = tokio::select! {
            _ = stop.cancelled() => return,
            tx = incoming.recv() => match tx { Some(tx) => tx, None => return },
        };
        let layer = layer.clone();
        tokio::spawn(async move {
            let method = tx.original.method;
            if let Some(mut d) = layer.match_dialog(&tx) {
                if let Err(e) = d.handle(&mut tx).await {
                    tracing::debug!(error = %e, "in-dialog request failed");
                }
                return;
            }
            let reply = match method {
                Method::Options => StatusCode::OK,
                Method::Invite => StatusCode::TemporarilyUnavailable,
                Method::Ack => return,
                _ => StatusCode::CallTransactionDoesNotExist,
            };
            if let Err(e) = tx.reply(reply).await {
                tracing::debug!(error = %e, "reply failed");
            }
        });
    }
}
