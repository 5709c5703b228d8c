//! The speech vendors a deployment may choose, per use (recordings or live calls).

/// A speech vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpeechVendor {
    /// Any OpenAI-compatible endpoint (`OPENAI_BASE_URL`).
    OpenAi,
    /// SaluteSpeech (Sber).
    Salute,
    /// Yandex SpeechKit v3 (streaming recognition of live calls; synthesis).
    Yandex,
    /// ElevenLabs (synthesis), usually through a proxy abroad.
    ElevenLabs,
}

impl SpeechVendor {
    /// The name used in settings and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Salute => "salute",
            Self::Yandex => "yandex",
            Self::ElevenLabs => "elevenlabs",
        }
    }

    /// Reads a setting's value (any case; `sber` and `salutespeech` name SaluteSpeech too).
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "openai" => Ok(Self::OpenAi),
            "salute" | "salutespeech" | "sber" => Ok(Self::Salute),
            "yandex" | "speechkit" => Ok(Self::Yandex),
            "elevenlabs" | "11labs" => Ok(Self::ElevenLabs),
            _ => Err("use openai, salute, yandex or elevenlabs".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SpeechVendor;

    #[test]
    fn vendors_round_trip_and_unknown_ones_are_refused() {
        for v in [
            SpeechVendor::OpenAi,
            SpeechVendor::Salute,
            SpeechVendor::Yandex,
            SpeechVendor::ElevenLabs,
        ] {
            assert_eq!(SpeechVendor::parse(v.as_str()), Ok(v));
        }
        assert_eq!(SpeechVendor::parse(" Sber "), Ok(SpeechVendor::Salute));
        assert!(SpeechVendor::parse("google").is_err());
    }
}
