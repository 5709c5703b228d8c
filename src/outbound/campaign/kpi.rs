//! A campaign's figures from its contacts, free of IO: counts by outcome, contacts reached,
//! conversion (the goal reached among those reached), average conversation length, the share of
//! objections the agent got past, the funnel of stages reached, and per A/B variant how many
//! were reached and converted, with the chance that each later variant beats the first.

use super::ab::{probability_better, Tally};
use crate::domain::{CampaignContact, ContactOutcome, ContactState, Stage};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Kpis {
    pub contacts: u64,
    /// Contacts whose calls are over: done, exhausted or skipped.
    pub finished: u64,
    /// Latest outcome of each contact that has one, by outcome (in [`ContactOutcome::ALL`] order).
    pub outcomes: Vec<(ContactOutcome, u64)>,
    /// A person talked with the agent.
    pub reached: u64,
    pub converted: u64,
    /// Mean length of the conversations, in seconds.
    pub avg_duration_secs: Option<f64>,
    /// Conversations where objections came up, and those the agent got past.
    pub objections_met: u64,
    pub objections_handled: u64,
    /// Conversations that reached at least each stage, in funnel order.
    pub funnel: Vec<(Stage, u64)>,
    pub variants: Vec<Variant>,
}

impl Kpis {
    /// Converted out of reached, 0..1.
    pub fn conversion(&self) -> Option<f64> {
        (self.reached > 0).then(|| self.converted as f64 / self.reached as f64)
    }

    /// Handled out of met, 0..1.
    pub fn objections_share(&self) -> Option<f64> {
        (self.objections_met > 0)
            .then(|| self.objections_handled as f64 / self.objections_met as f64)
    }
}

/// One A/B variant's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// Its index among the campaign's scripts.
    pub index: usize,
    pub tally: Tally,
    /// How likely it converts better than variant A (none for A itself or with too little data).
    pub better_than_a: Option<f64>,
}

pub fn kpis(contacts: &[CampaignContact], variants: usize) -> Kpis {
    let mut k = Kpis {
        contacts: contacts.len() as u64,
        ..Kpis::default()
    };
    let mut outcomes = vec![0u64; ContactOutcome::ALL.len()];
    let mut funnel = [0u64; Stage::ALL.len()];
    let mut tallies = vec![
        Tally {
            reached: 0,
            converted: 0
        };
        variants.max(1)
    ];
    let (mut talk_ms, mut talks) = (0i64, 0u64);
    for c in contacts {
        if matches!(
            c.state,
            ContactState::Done | ContactState::Exhausted | ContactState::Skipped
        ) {
            k.finished += 1;
        }
        if let Some(o) = c.outcome {
            if let Some(i) = ContactOutcome::ALL.iter().position(|x| *x == o) {
                outcomes[i] += 1;
            }
            let tally = usize::try_from(c.variant)
                .ok()
                .and_then(|v| tallies.get_mut(v));
            if o.reached_a_person() {
                k.reached += 1;
                if let Some(t) = tally {
                    t.reached += 1;
                    t.converted += u64::from(o == ContactOutcome::Converted);
                }
            }
            k.converted += u64::from(o == ContactOutcome::Converted);
        }
        if let Some(conv) = c
            .conversation
            .as_ref()
            .filter(|_| c.outcome.is_some_and(ContactOutcome::reached_a_person))
        {
            talk_ms += conv.duration_ms;
            talks += 1;
            for (i, s) in Stage::ALL.iter().enumerate() {
                funnel[i] += u64::from(conv.stage >= *s);
            }
            if let Some(handled) = conv.objections {
                k.objections_met += 1;
                k.objections_handled += u64::from(handled);
            }
        }
    }
    k.outcomes = ContactOutcome::ALL
        .iter()
        .zip(outcomes)
        .filter(|(_, n)| *n > 0)
        .map(|(o, n)| (*o, n))
        .collect();
    k.avg_duration_secs = (talks > 0).then(|| talk_ms as f64 / talks as f64 / 1000.0);
    k.funnel = Stage::ALL.iter().copied().zip(funnel).collect();
    if variants > 1 {
        let a = tallies[0];
        k.variants = tallies
            .iter()
            .enumerate()
            .map(|(index, t)| Variant {
                index,
                tally: *t,
                better_than_a: (index > 0).then(|| probability_better(a, *t)).flatten(),
            })
            .collect();
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Conversation, PhoneNumber};

    fn contact(
        i: usize,
        variant: i64,
        outcome: Option<ContactOutcome>,
        stage: Option<(Stage, Option<bool>, i64)>,
    ) -> CampaignContact {
        CampaignContact {
            id: i as i64,
            campaign_id: 1,
            line: i as i64 + 2,
            phone: PhoneNumber::parse(&format!("+7916{i:07}")).unwrap(),
            variables: serde_json::json!({}),
            zone: None,
            consent: None,
            source: None,
            variant,
            state: if outcome.is_some() {
                ContactState::Done
            } else {
                ContactState::Pending
            },
            skip: None,
            outcome,
            attempts: 1,
            next_at: None,
            outbound_id: None,
            conversation: stage.map(|(stage, objections, ms)| Conversation {
                stage,
                objections,
                duration_ms: ms,
                ..Conversation::default()
            }),
            last_at: None,
        }
    }

    #[test]
    fn figures_of_a_small_campaign() {
        use ContactOutcome::*;
        let list = vec![
            contact(
                0,
                0,
                Some(Converted),
                Some((Stage::Contact, Some(true), 90_000)),
            ),
            contact(
                1,
                0,
                Some(Reached),
                Some((Stage::Objections, Some(false), 30_000)),
            ),
            contact(
                2,
                1,
                Some(Reached),
                Some((Stage::Presentation, None, 60_000)),
            ),
            contact(3, 1, Some(Busy), None),
            contact(4, 1, None, None),
            // A voicemail: a conversation record, but no person.
            contact(5, 0, Some(Voicemail), Some((Stage::Greeting, None, 20_000))),
        ];
        let k = kpis(&list, 2);
        assert_eq!((k.contacts, k.finished), (6, 5));
        assert_eq!((k.reached, k.converted), (3, 1));
        assert!((k.conversion().unwrap() - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(k.avg_duration_secs, Some(60.0));
        assert_eq!((k.objections_met, k.objections_handled), (2, 1));
        assert_eq!(k.objections_share(), Some(0.5));
        assert_eq!(
            k.funnel,
            vec![
                (Stage::Greeting, 3),
                (Stage::Qualification, 3),
                (Stage::Presentation, 3),
                (Stage::Objections, 2),
                (Stage::Contact, 1),
                (Stage::Closing, 0)
            ]
        );
        assert_eq!(
            k.outcomes,
            vec![(Reached, 2), (Converted, 1), (Busy, 1), (Voicemail, 1)]
        );
        assert_eq!(k.variants.len(), 2);
        assert_eq!(
            k.variants[1].tally,
            Tally {
                reached: 1,
                converted: 0
            }
        );
        assert_eq!(k.variants[1].better_than_a, None, "too little to tell");
        assert!(kpis(&list, 1).variants.is_empty());
        assert_eq!(kpis(&[], 1).conversion(), None);
    }
}
