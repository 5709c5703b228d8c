//! Cuts streamed LLM text into sentences for speech synthesis, so the first sentence can be
//! spoken while the rest is still being written. Knows Russian punctuation (… ?! «»),
//! abbreviations (т.е., т.д., г., ул., руб., тыс., млн.), initials and numbers (3.5, 10.00).

/// Lowercase words that end with a dot without ending the sentence.
const ABBREVIATIONS: &[&str] = &[
    "т", "е", "д", "п", "г", "гг", "ул", "руб", "тыс", "млн", "млрд", "им", "пр", "см", "др",
    "стр", "кв", "м", "км", "мин", "сек", "ч", "тел", "напр", "проф", "доц", "св", "обл", "р",
    "пл", "корп", "эт", "коп", "шт", "ок", "mr", "mrs", "dr", "vs", "etc", "e", "g", "i",
];

/// A long stretch without a full stop is cut at a comma past this many characters.
const SOFT_LIMIT: usize = 160;

#[derive(Default)]
pub struct SentenceSplitter {
    buf: String,
}

fn is_terminal(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…')
}

fn is_closing(c: char) -> bool {
    matches!(c, '»' | '"' | ')' | '\'' | '”')
}

impl SentenceSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds streamed text; returns the sentences it completed.
    pub fn push(&mut self, text: &str) -> Vec<String> {
        self.buf.push_str(text);
        let mut out = Vec::new();
        while let Some(end) = self.boundary() {
            let sentence: String = self.buf[..end].trim().to_string();
            self.buf = self.buf[end..].trim_start().to_string();
            if !sentence.is_empty() {
                out.push(sentence);
            }
        }
        out
    }

    /// The rest of the text at the end of the stream.
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.buf).trim().to_string();
        (!rest.is_empty()).then_some(rest)
    }

    /// Byte index just after the first complete sentence, if the buffer holds one.
    fn boundary(&self) -> Option<usize> {
        let chars: Vec<(usize, char)> = self.buf.char_indices().collect();
        let mut i = 0;
        while i < chars.len() {
            let (_, c) = chars[i];
            if is_terminal(c) {
                // Take a run of terminals and closing quotes: "?!", "...", ".»".
                let mut j = i + 1;
                while j < chars.len() && (is_terminal(chars[j].1) || is_closing(chars[j].1)) {
                    j += 1;
                }
                // Need to see what follows before deciding.
                let &(_, next) = chars.get(j)?;
                if next.is_whitespace() {
                    // Find the next visible character.
                    let mut k = j;
                    while k < chars.len() && chars[k].1.is_whitespace() {
                        k += 1;
                    }
                    let &(_, after) = chars.get(k)?;
                    if c == '.' && !self.ends_sentence(&chars, i, after) {
                        i = j;
                        continue;
                    }
                    return Some(chars[j].0);
                }
                // "3.5", "10.00", "т.е." with no space: not a boundary.
                i = j;
                continue;
            }
            i += 1;
        }
        if self.buf.chars().count() > SOFT_LIMIT {
            // No full stop for too long: cut after the last comma followed by a space.
            if let Some(pos) = self.buf.rfind(", ") {
                return Some(pos + 1);
            }
        }
        None
    }

    /// Whether the dot at `dot` ends a sentence, given the next visible character.
    fn ends_sentence(&self, chars: &[(usize, char)], dot: usize, after: char) -> bool {
        if after.is_lowercase() || after.is_ascii_digit() {
            return false;
        }
        // The word before the dot.
        let mut s = dot;
        while s > 0 && chars[s - 1].1.is_alphanumeric() {
            s -= 1;
        }
        let word: String = chars[s..dot].iter().map(|&(_, c)| c).collect();
        if word.is_empty() {
            return true;
        }
        let lower = word.to_lowercase();
        // An initial: "А. С. Пушкин".
        if word.chars().count() == 1 && word.chars().all(char::is_uppercase) {
            return false;
        }
        !(ABBREVIATIONS.contains(&lower.as_str()) && word.chars().all(char::is_lowercase))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(stream: &[&str]) -> Vec<String> {
        let mut s = SentenceSplitter::new();
        let mut out: Vec<String> = stream.iter().flat_map(|t| s.push(t)).collect();
        out.extend(s.finish());
        out
    }

    #[test]
    fn russian_sentences_streamed_token_by_token() {
        let text = "Здравствуйте! Меня зовут Анна, компания «Дом». Удобно говорить? Отлично…";
        let tokens: Vec<String> = text.chars().map(|c| c.to_string()).collect();
        let refs: Vec<&str> = tokens.iter().map(String::as_str).collect();
        assert_eq!(
            split(&refs),
            vec![
                "Здравствуйте!",
                "Меня зовут Анна, компания «Дом».",
                "Удобно говорить?",
                "Отлично…"
            ]
        );
    }

    #[test]
    fn the_first_sentence_is_out_as_soon_as_the_next_one_starts() {
        let mut s = SentenceSplitter::new();
        assert!(s.push("Добрый день.").is_empty());
        assert_eq!(s.push(" Я"), vec!["Добрый день."]);
    }

    #[test]
    fn abbreviations_numbers_and_initials_do_not_split() {
        assert_eq!(
            split(&["Цена 3.5 млн. руб. за квартиру, т.е. со скидкой. Адрес: ул. Ленина, д. 5."]),
            vec![
                "Цена 3.5 млн. руб. за квартиру, т.е. со скидкой.",
                "Адрес: ул. Ленина, д. 5."
            ]
        );
        assert_eq!(
            split(&["Встреча в 10.00 с А. С. Петровым. Хорошо?"]),
            vec!["Встреча в 10.00 с А. С. Петровым.", "Хорошо?"]
        );
        assert_eq!(
            split(&["Это т. е. пример. Да!"]),
            vec!["Это т. е. пример.", "Да!"]
        );
        assert_eq!(split(&["Правда?! Да."]), vec!["Правда?!", "Да."]);
    }

    #[test]
    fn long_clauses_are_cut_at_a_comma() {
        let long = "слово ".repeat(30) + ", и ещё " + &"слово ".repeat(5);
        let out = split(&[&long]);
        assert_eq!(out.len(), 2);
    }
}
