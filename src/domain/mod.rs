//! Plain domain types shared by every layer. No IO lives here.

mod analysis;
mod answered_by;
mod call;
mod callback;
mod campaign;
mod checklist;
mod contact_outcome;
mod department;
mod endpoint;
mod greeting;
mod named;
pub mod numbering;
mod origin;
mod outbound;
pub mod period;
mod phone;
mod post;
mod role;
mod schedule;
mod speaker;
mod spoken_time;
mod stage;
pub mod text;
mod window;
mod zone;

pub use analysis::{Analysis, Feedback, LeadCategory, NewAnalysis};
pub use answered_by::AnsweredBy;
pub use call::{
    bounded_call_secs, call_end, Call, CallFilter, CallStatus, CallSummary, Direction, NewCall,
    SkipReason, TurnTiming, Utterance, MAX_CALL_SECS,
};
pub use callback::{CallbackData, FeedbackChoice, SettingsAction};
pub use campaign::{
    Campaign, CampaignAction, CampaignContact, CampaignPlan, CampaignStatus, ContactCounts,
    ContactSkip, ContactState, Conversation, NewCampaign, NewCampaignContact, Settlement,
};
pub use checklist::{Checklist, Criterion};
pub use contact_outcome::ContactOutcome;
pub use department::{Department, Departments};
pub use endpoint::Endpoint;
pub use greeting::Greeting;
pub use origin::CallOrigin;
pub use outbound::{
    NewOutboundCall, OutboundCall, OutboundLine, OutboundSignals, OutboundStatus, StopRequest,
    REASON_CANCELLED, REASON_DO_NOT_CALL, REASON_HUNG_UP_RINGING,
};
pub use phone::{PhoneError, PhoneNumber};
pub use post::PostKind;
pub use role::Role;
pub use schedule::{CallingSchedule, Days};
pub use speaker::Speaker;
pub use spoken_time::parse_spoken_time;
pub use stage::Stage;
pub use window::CallWindow;
pub use zone::callee_zone;
