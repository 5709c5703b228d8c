//! What the call-analysis workers share: the store, the call sources, speech-to-text, the LLM, the
//! profiles and the routing settings (which profile and which chat a number gets).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;
use tokio::sync::Notify;

use crate::analysis::Profiles;
use crate::domain::Speaker;
use crate::domain::{Call, Direction, PhoneNumber};
use crate::i18n::Lang;
use crate::llm::LlmClient;
use crate::speech::Stt;
use crate::store::Store;
use crate::telephony::CallSource;

/// Routing and filter settings.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    pub our_numbers: Vec<PhoneNumber>,
    pub min_call_secs: i64,
    pub recording_delay: Duration,
    /// The longest recording analysed (`MAX_RECORDING_MINUTES`); a call's own duration caps it too.
    pub max_recording: Duration,
    pub channel_roles: Vec<Speaker>,
    pub default_profile: String,
    pub profile_by_number: Vec<(PhoneNumber, String)>,
    pub team_chat: Option<i64>,
    /// Administrators, told in private when a protocol cannot be posted.
    pub admins: Vec<i64>,
    pub chat_by_number: Vec<(PhoneNumber, i64)>,
    /// Departments: a call goes to its department's chat and profile, and its operator is named.
    pub departments: crate::domain::Departments,
    pub timezone: Tz,
    pub lang: Lang,
    /// How many recent corrections go into a profile's prompt as examples.
    pub fewshot_examples: i64,
    /// Phone calls are configured: a missed call's alert offers to call back.
    pub offer_call_back: bool,
}

/// The dependencies of the pipeline workers (job handlers and pollers). Edges get only the
/// narrow services they use: [`CallIntake`] and [`ProtocolViews`].
pub struct PipelineDeps {
    pub store: Arc<dyn Store>,
    pub sources: HashMap<String, Arc<dyn CallSource>>,
    pub stt: Arc<dyn Stt>,
    pub llm: Arc<LlmClient>,
    pub profiles: Arc<Profiles>,
    pub settings: Arc<PipelineSettings>,
    /// Wakes the worker pool after an enqueue.
    pub waker: Arc<Notify>,
    pub intake: Arc<CallIntake>,
    pub views: Arc<ProtocolViews>,
    /// The team's Google Sheets (checklist and results), when configured.
    pub sheets: Option<Arc<super::sheets::SheetsLink>>,
}

/// Taking calls in and queueing work on them: what webhooks, the API, the bot and the voice agent
/// may do to the pipeline.
pub struct CallIntake {
    pub store: Arc<dyn Store>,
    pub settings: Arc<PipelineSettings>,
    /// Wakes the worker pool after an enqueue.
    pub waker: Arc<Notify>,
}

/// Showing protocols and choosing profiles: what the bot and the API read of the pipeline.
pub struct ProtocolViews {
    pub store: Arc<dyn Store>,
    pub profiles: Arc<Profiles>,
    pub settings: Arc<PipelineSettings>,
}

/// Our number of a call: the callee of an incoming call, the caller of an outgoing one.
pub fn our_side(call: &Call) -> Option<PhoneNumber> {
    let ours = match call.direction {
        Direction::Incoming => &call.called,
        Direction::Outgoing => &call.caller,
    };
    ours.phone().cloned()
}

impl PipelineDeps {
    /// The pipeline over its parts; the narrow services share them.
    pub fn new(
        store: Arc<dyn Store>,
        sources: HashMap<String, Arc<dyn CallSource>>,
        stt: Arc<dyn Stt>,
        llm: Arc<LlmClient>,
        profiles: Arc<Profiles>,
        settings: PipelineSettings,
        waker: Arc<Notify>,
    ) -> Self {
        let settings = Arc::new(settings);
        let intake = Arc::new(CallIntake {
            store: store.clone(),
            settings: settings.clone(),
            waker: waker.clone(),
        });
        let views = Arc::new(ProtocolViews {
            store: store.clone(),
            profiles: profiles.clone(),
            settings: settings.clone(),
        });
        Self {
            store,
            sources,
            stt,
            llm,
            profiles,
            settings,
            waker,
            intake,
            views,
            sheets: None,
        }
    }

    /// The chat of a call's protocol: the call's own chat (a rehearsal), else by routing.
    pub async fn chat_for_call(
        &self,
        call: &Call,
    ) -> Result<Option<i64>, crate::store::StoreError> {
        Ok(match self.store.call_chat(call.id).await? {
            Some(chat) => Some(chat),
            None => self.settings.chat_for(call),
        })
    }
}

impl PipelineSettings {
    /// The call's department, if any.
    pub fn department_of(&self, call: &Call) -> Option<&crate::domain::Department> {
        self.departments
            .of_call(our_side(call).as_ref(), call.operator.as_deref())
    }

    /// The profile for a call: by our number, else its department's, else the default.
    pub fn profile_for(&self, call: &Call) -> String {
        let ours = our_side(call);
        self.profile_by_number
            .iter()
            .find(|(n, _)| Some(n) == ours.as_ref())
            .map(|(_, p)| p.clone())
            .or_else(|| self.department_of(call).and_then(|d| d.profile.clone()))
            .unwrap_or_else(|| self.default_profile.clone())
    }

    /// The chat a call's protocol goes to: its department's, else by our number, else the team
    /// chat.
    pub fn chat_for(&self, call: &Call) -> Option<i64> {
        let ours = our_side(call);
        self.department_of(call)
            .and_then(|d| d.chat)
            .or_else(|| {
                self.chat_by_number
                    .iter()
                    .find(|(n, _)| Some(n) == ours.as_ref())
                    .map(|(_, c)| *c)
            })
            .or(self.team_chat)
    }

    /// The forum topic of the call's department when its post goes to the routed chat (a
    /// rehearsal's own chat has no topics).
    pub fn topic_in(&self, chat: i64, call: &Call) -> Option<i32> {
        if self.chat_for(call) != Some(chat) {
            return None;
        }
        self.department_of(call).and_then(|d| d.topic)
    }

    /// How the call's protocol names its operator («Анна (101)»), when the PBX said who it was.
    pub fn operator_label(&self, call: &Call) -> Option<String> {
        call.operator
            .as_deref()
            .filter(|o| !o.is_empty())
            .map(|o| self.departments.operator_label(o))
    }
}
