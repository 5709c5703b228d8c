//! Per-vendor figures of the voice agent's calls, from their stored turns: how fast each
//! recogniser gave the final text after the caller stopped, how often its stream failed, how
//! soon the model's first token came, how fast each synthesiser gave its first byte, what was
//! used and what it cost. IO-free: turns and prices in, figures out (`/stats` shows them).

use std::collections::BTreeMap;

use crate::domain::TurnTiming;
use crate::speech::{SpeechPrices, SpeechVendor};

/// One vendor's part.
#[derive(Debug, Clone, PartialEq)]
pub struct VendorFigures {
    pub vendor: String,
    pub turns: usize,
    /// Recognition: end of speech → final text; synthesis: sentence ready → first byte (p50).
    pub delay_p50_ms: Option<i64>,
    /// Recognition streams that failed (batch took the turn).
    pub fallbacks: usize,
    /// Recognition: ms of caller speech; synthesis: characters.
    pub used: i64,
    /// USD, when the vendor's price is set.
    pub cost_usd: Option<f64>,
}

/// The agent's calls of a period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentFigures {
    pub turns: usize,
    pub voice_to_voice_p50_ms: Option<i64>,
    /// End of speech → the model's first token (0 when an early reply had it before).
    pub llm_first_token_p50_ms: Option<i64>,
    pub recognition: Vec<VendorFigures>,
    pub synthesis: Vec<VendorFigures>,
}

fn p50(mut v: Vec<i64>) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    Some(v[(v.len() - 1) / 2])
}

/// The figures of `turns` at `prices`.
pub fn agent_figures(turns: &[TurnTiming], prices: &SpeechPrices) -> AgentFigures {
    let mut stt: BTreeMap<&str, Vec<&TurnTiming>> = BTreeMap::new();
    let mut tts: BTreeMap<&str, Vec<&TurnTiming>> = BTreeMap::new();
    for t in turns {
        if let Some(v) = t.stt_vendor.as_deref() {
            stt.entry(v).or_default().push(t);
        }
        if let Some(v) = t.tts_vendor.as_deref() {
            tts.entry(v).or_default().push(t);
        }
    }
    let recognition = stt
        .into_iter()
        .map(|(vendor, ts)| {
            let used: i64 = ts.iter().filter_map(|t| t.speech_ms).sum();
            VendorFigures {
                vendor: vendor.to_string(),
                turns: ts.len(),
                delay_p50_ms: p50(ts
                    .iter()
                    .filter_map(|t| t.stt_done_ms.map(|d| (d - t.caller_end_ms).max(0)))
                    .collect()),
                fallbacks: ts.iter().filter(|t| t.stt_fallback).count(),
                used,
                cost_usd: SpeechVendor::parse(vendor)
                    .ok()
                    .and_then(|v| prices.stt_cost(v, used)),
            }
        })
        .collect();
    let synthesis = tts
        .into_iter()
        .map(|(vendor, ts)| {
            let used: i64 = ts.iter().filter_map(|t| t.tts_chars).sum();
            VendorFigures {
                vendor: vendor.to_string(),
                turns: ts.len(),
                delay_p50_ms: p50(ts
                    .iter()
                    .filter_map(|t| match (t.first_sentence_ms, t.tts_first_byte_ms) {
                        (Some(s), Some(b)) => Some((b - s).max(0)),
                        _ => None,
                    })
                    .collect()),
                fallbacks: 0,
                used,
                cost_usd: SpeechVendor::parse(vendor)
                    .ok()
                    .and_then(|v| prices.tts_cost(v, used)),
            }
        })
        .collect();
    AgentFigures {
        turns: turns.len(),
        voice_to_voice_p50_ms: p50(turns
            .iter()
            .filter(|t| t.barge_in_ms.is_none())
            .filter_map(TurnTiming::voice_to_voice_ms)
            .collect()),
        llm_first_token_p50_ms: p50(turns
            .iter()
            .filter_map(|t| t.llm_first_token_ms.map(|f| (f - t.caller_end_ms).max(0)))
            .collect()),
        recognition,
        synthesis,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::speech::PriceList;

    fn turn(
        stt: &str,
        done: i64,
        fallback: bool,
        tts: &str,
        sentence: i64,
        byte: i64,
    ) -> TurnTiming {
        TurnTiming {
            turn: 1,
            caller_end_ms: 1000,
            stt_done_ms: Some(1000 + done),
            llm_first_token_ms: Some(1000 + done + 400),
            first_sentence_ms: Some(sentence),
            tts_first_byte_ms: Some(byte),
            first_audio_ms: Some(byte + 5),
            stt_vendor: Some(stt.into()),
            speech_ms: Some(30_000),
            stt_fallback: fallback,
            tts_vendor: Some(tts.into()),
            tts_chars: Some(500),
            ..Default::default()
        }
    }

    #[test]
    fn figures_per_vendor_with_cost_where_a_price_is_set() {
        let turns = [
            turn("salute", 150, false, "yandex", 1600, 1750),
            turn("salute", 170, true, "yandex", 1600, 1760),
            turn("salute", 900, false, "yandex", 1600, 1800),
            turn("openai", 500, false, "openai", 2000, 2300),
        ];
        let prices = SpeechPrices {
            stt_per_min: PriceList::parse("salute=0.02").unwrap(),
            tts_per_1k_chars: PriceList::parse("openai=0.015").unwrap(),
        };
        let f = agent_figures(&turns, &prices);
        assert_eq!(f.turns, 4);
        let salute = &f.recognition[1];
        assert_eq!(
            (
                salute.vendor.as_str(),
                salute.turns,
                salute.delay_p50_ms,
                salute.fallbacks
            ),
            ("salute", 3, Some(170), 1)
        );
        assert_eq!(salute.used, 90_000);
        assert!((salute.cost_usd.unwrap() - 0.03).abs() < 1e-9);
        assert_eq!(f.recognition[0].cost_usd, None, "no price for openai here");
        let yandex = &f.synthesis[1];
        assert_eq!(
            (yandex.delay_p50_ms, yandex.used, yandex.cost_usd),
            (Some(160), 1500, None)
        );
        assert!((f.synthesis[0].cost_usd.unwrap() - 0.0075).abs() < 1e-9);
        assert_eq!(f.llm_first_token_p50_ms, Some(570));
        assert_eq!(agent_figures(&[], &prices), AgentFigures::default());
    }
}
