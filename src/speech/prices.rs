//! What speech costs, per vendor: recognition per minute of caller audio and synthesis per
//! thousand characters, in US dollars like the model's cost. Only OpenAI's list prices are built
//! in (`gpt-4o-mini-transcribe` $0.003 a minute; $0.015 per thousand characters, the `tts-1`
//! price); Russian vendors bill in roubles by contract, so a team sets theirs
//! (`STT_PRICE_PER_MIN`, `TTS_PRICE_PER_1K_CHARS`). A vendor without a price has no cost shown.

use super::SpeechVendor;

/// `vendor → price` pairs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceList(pub Vec<(SpeechVendor, f64)>);

impl PriceList {
    /// Reads `openai=0.003, salute=0.016` (vendor names as in `STT_PROVIDER`).
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (vendor, price) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?}: write vendor=price, e.g. salute=0.016"))?;
            let vendor = SpeechVendor::parse(vendor)?;
            let price: f64 = price
                .trim()
                .parse()
                .ok()
                .filter(|p: &f64| p.is_finite() && *p >= 0.0)
                .ok_or_else(|| format!("{price:?} is not a price"))?;
            out.retain(|(v, _)| *v != vendor);
            out.push((vendor, price));
        }
        Ok(Self(out))
    }

    pub fn get(&self, vendor: SpeechVendor) -> Option<f64> {
        self.0.iter().find(|(v, _)| *v == vendor).map(|(_, p)| *p)
    }
}

/// The prices of recognition and synthesis.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpeechPrices {
    /// USD per minute of audio recognised.
    pub stt_per_min: PriceList,
    /// USD per thousand characters synthesised.
    pub tts_per_1k_chars: PriceList,
}

impl SpeechPrices {
    /// What recognising `ms` of audio on `vendor` cost, when its price is known.
    pub fn stt_cost(&self, vendor: SpeechVendor, ms: i64) -> Option<f64> {
        self.stt_per_min
            .get(vendor)
            .map(|p| p * ms.max(0) as f64 / 60_000.0)
    }

    /// What synthesising `chars` characters on `vendor` cost, when its price is known.
    pub fn tts_cost(&self, vendor: SpeechVendor, chars: i64) -> Option<f64> {
        self.tts_per_1k_chars
            .get(vendor)
            .map(|p| p * chars.max(0) as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_lists_read_and_cost_what_was_used() {
        let l = PriceList::parse("openai=0.003, sber = 0.02").unwrap();
        assert_eq!(l.get(SpeechVendor::Salute), Some(0.02));
        assert_eq!(l.get(SpeechVendor::Yandex), None);
        assert!(PriceList::parse("google=1").is_err());
        assert!(PriceList::parse("openai=-1").is_err());
        assert!(PriceList::parse("openai").is_err());
        assert_eq!(PriceList::parse("").unwrap(), PriceList::default());
        let p = SpeechPrices {
            stt_per_min: l,
            tts_per_1k_chars: PriceList::parse("yandex=0.5").unwrap(),
        };
        assert_eq!(p.stt_cost(SpeechVendor::OpenAi, 120_000), Some(0.006));
        assert_eq!(p.tts_cost(SpeechVendor::Yandex, 3000), Some(1.5));
        assert_eq!(p.tts_cost(SpeechVendor::Salute, 3000), None);
    }
}
