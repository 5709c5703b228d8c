//! How long a pause ends the caller's turn, from what they have said so far (the interim text of
//! a streaming recogniser). A finished sentence or question ends sooner; a hesitation («э-э»,
//! «ну…», «как бы»), a conjunction or preposition left hanging, or a number, phone or e-mail being
//! dictated waits longer, so a caller who pauses mid-thought is not cut off. IO-free: text in,
//! a duration out.

use std::time::Duration;

/// What the end of the text says about the turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnShape {
    /// A finished sentence or question.
    Complete,
    /// Nothing tells either way.
    Open,
    /// A filler or a trailing ellipsis: the caller is thinking.
    Hesitation,
    /// A conjunction or preposition with nothing after it.
    Dangling,
    /// Digits, number words or an address being dictated.
    Dictation,
}

/// The pauses for each shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndOfTurn {
    pub complete: Duration,
    pub open: Duration,
    pub hesitation: Duration,
    pub dictation: Duration,
}

impl EndOfTurn {
    /// Pauses around the configured end silence (`AGENT_END_SILENCE_MS`): half of it after a
    /// finished sentence (at least 250 ms), twice it after a hesitation or a dangling word, two
    /// and a half times it during dictation.
    pub fn around(base: Duration) -> Self {
        Self {
            complete: (base / 2).max(Duration::from_millis(250)),
            open: base,
            hesitation: base * 2,
            dictation: base * 5 / 2,
        }
    }

    /// The pause that ends a turn whose text so far is `text`.
    pub fn hold(&self, text: &str) -> Duration {
        match shape(text) {
            TurnShape::Complete => self.complete,
            TurnShape::Open => self.open,
            TurnShape::Hesitation | TurnShape::Dangling => self.hesitation,
            TurnShape::Dictation => self.dictation,
        }
    }
}

const FILLERS: &[&str] = &[
    "э",
    "ээ",
    "эээ",
    "э-э",
    "э-э-э",
    "м",
    "мм",
    "ммм",
    "м-м",
    "хм",
    "ну",
    "вот",
    "типа",
    "значит",
    "короче",
    "это",
    "этот",
    "эта",
    "так",
    "бы",
];
/// Two-word fillers, matched on the last two words.
const FILLER_PAIRS: &[&str] = &["как бы", "так сказать", "в общем", "то есть", "скажем так"];
const DANGLING: &[&str] = &[
    "и",
    "а",
    "но",
    "или",
    "либо",
    "что",
    "чтобы",
    "потому",
    "поэтому",
    "если",
    "когда",
    "который",
    "которая",
    "которое",
    "которые",
    "где",
    "куда",
    "чем",
    "как",
    "в",
    "во",
    "на",
    "с",
    "со",
    "к",
    "ко",
    "по",
    "для",
    "от",
    "до",
    "за",
    "из",
    "у",
    "о",
    "об",
    "про",
    "при",
    "под",
    "над",
    "без",
    "через",
    "около",
    "между",
];
const NUMBER_WORDS: &[&str] = &[
    "ноль",
    "один",
    "одна",
    "два",
    "две",
    "три",
    "четыре",
    "пять",
    "шесть",
    "семь",
    "восемь",
    "девять",
    "десять",
    "одиннадцать",
    "двенадцать",
    "тринадцать",
    "четырнадцать",
    "пятнадцать",
    "шестнадцать",
    "семнадцать",
    "восемнадцать",
    "девятнадцать",
    "двадцать",
    "тридцать",
    "сорок",
    "пятьдесят",
    "шестьдесят",
    "семьдесят",
    "восемьдесят",
    "девяносто",
    "сто",
    "двести",
    "триста",
    "четыреста",
    "пятьсот",
    "шестьсот",
    "семьсот",
    "восемьсот",
    "девятьсот",
    "тысяча",
    "тысячи",
    "плюс",
    "собака",
    "точка",
    "дефис",
    "тире",
];

/// The shape of the end of `text`.
pub fn shape(text: &str) -> TurnShape {
    let t = text.trim();
    if t.is_empty() {
        return TurnShape::Open;
    }
    if t.ends_with('…') || t.ends_with("...") {
        return TurnShape::Hesitation;
    }
    let lower = t.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(|w| {
            w.trim_matches(|c: char| matches!(c, '.' | '!' | '?' | ';' | ':' | '«' | '»' | '"'))
        })
        .filter(|w| !w.is_empty())
        .collect();
    let Some(last) = words.last().copied() else {
        return TurnShape::Open;
    };
    if last.chars().any(|c| c.is_ascii_digit())
        || last.contains('@')
        || NUMBER_WORDS.contains(&last)
    {
        return TurnShape::Dictation;
    }
    if t.ends_with(['.', '!', '?']) {
        return TurnShape::Complete;
    }
    let pair = words
        .len()
        .checked_sub(2)
        .map(|i| format!("{} {}", words[i], words[i + 1]));
    if FILLERS.contains(&last) || pair.is_some_and(|p| FILLER_PAIRS.contains(&p.as_str())) {
        return TurnShape::Hesitation;
    }
    if DANGLING.contains(&last) {
        return TurnShape::Dangling;
    }
    TurnShape::Open
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ending_has_its_shape() {
        let cases = [
            ("Да, удобно.", TurnShape::Complete),
            ("А сколько это стоит?", TurnShape::Complete),
            ("Нет, спасибо!", TurnShape::Complete),
            ("да удобно", TurnShape::Open),
            ("", TurnShape::Open),
            ("Мне нужен офис…", TurnShape::Hesitation),
            ("Мне нужен офис...", TurnShape::Hesitation),
            ("ну э-э", TurnShape::Hesitation),
            ("мне бы это как бы", TurnShape::Hesitation),
            ("я хотел спросить, ну", TurnShape::Hesitation),
            ("мы ищем склад и", TurnShape::Dangling),
            ("нужен офис в", TurnShape::Dangling),
            ("потому что", TurnShape::Dangling),
            (
                "мой номер восемь девятьсот шестнадцать",
                TurnShape::Dictation,
            ),
            ("+7 916 123", TurnShape::Dictation),
            ("Запишите: 8 916 123-45.", TurnShape::Dictation),
            ("почта ivan собака", TurnShape::Dictation),
            ("метров на двести", TurnShape::Dictation),
        ];
        for (text, want) in cases {
            assert_eq!(shape(text), want, "{text:?}");
        }
    }

    #[test]
    fn pauses_are_set_around_the_configured_silence() {
        let e = EndOfTurn::around(Duration::from_millis(600));
        assert_eq!(e.hold("Да, удобно."), Duration::from_millis(300));
        assert_eq!(e.hold("да удобно"), Duration::from_millis(600));
        assert_eq!(e.hold("Мне нужен офис…"), Duration::from_millis(1200));
        assert_eq!(e.hold("нужен офис в"), Duration::from_millis(1200));
        assert_eq!(e.hold("восемь девятьсот"), Duration::from_millis(1500));
        let short = EndOfTurn::around(Duration::from_millis(400));
        assert_eq!(
            short.complete,
            Duration::from_millis(250),
            "never below 250 ms"
        );
    }
}
