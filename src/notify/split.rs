//! Splitting long texts into Telegram-sized messages on line boundaries.

/// Telegram's limit for one message, in UTF-16 code units.
pub const TELEGRAM_TEXT_LIMIT: usize = 4096;

/// Length as Telegram counts it (UTF-16 code units: emoji count 2).
pub fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// Splits `text` into parts of at most `limit` UTF-16 units, breaking at line ends (preferring
/// blank lines between paragraphs); a single line longer than the limit is cut at a space, or
/// at a character boundary as a last resort. Empty input gives no parts.
pub fn split_message(text: &str, limit: usize) -> Vec<String> {
    let limit = limit.max(16);
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut current_len = 0;
    for line in text.split_inclusive('\n') {
        let len = utf16_len(line);
        if current_len + len <= limit {
            current.push_str(line);
            current_len += len;
            continue;
        }
        if !current.is_empty() {
            // Prefer to break at the last paragraph gap if it is not too early.
            if let Some(pos) = current.rfind("\n\n") {
                let head_len = utf16_len(&current[..pos]);
                if head_len >= limit / 2 && utf16_len(&current[pos + 2..]) + len <= limit {
                    let tail = current[pos + 2..].to_string();
                    parts.push(current[..pos].to_string());
                    current = tail;
                    current_len = utf16_len(&current);
                    current.push_str(line);
                    current_len += len;
                    continue;
                }
            }
            parts.push(std::mem::take(&mut current));
        }
        if len <= limit {
            current.push_str(line);
            current_len = len;
        } else {
            let mut pieces = cut_long_line(line, limit);
            let last = pieces.pop().unwrap_or_default();
            parts.extend(pieces);
            current_len = utf16_len(&last);
            current = last;
        }
    }
    if !current.trim().is_empty() {
        parts.push(current);
    }
    parts
        .into_iter()
        .map(|p| p.trim_end_matches('\n').to_string())
        .filter(|p| !p.trim().is_empty())
        .collect()
}

fn cut_long_line(line: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while utf16_len(rest) > limit {
        let mut units = 0;
        let mut cut = 0;
        let mut last_space = None;
        for (i, c) in rest.char_indices() {
            if units + c.len_utf16() > limit {
                break;
            }
            units += c.len_utf16();
            cut = i + c.len_utf8();
            if c == ' ' {
                last_space = Some(cut);
            }
        }
        let at = match last_space {
            Some(s) if s > cut / 2 => s,
            _ => cut,
        };
        out.push(rest[..at].to_string());
        rest = &rest[at..];
    }
    out.push(rest.to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_part() {
        assert_eq!(split_message("привет\nмир", 4096), vec!["привет\nмир"]);
        assert!(split_message("", 4096).is_empty());
    }

    #[test]
    fn long_text_splits_on_lines_within_limit() {
        let line = "Строка протокола звонка с эмодзи 🔥 и текстом.\n";
        let text = line.repeat(300);
        let parts = split_message(&text, 4096);
        assert!(parts.len() > 1);
        for p in &parts {
            assert!(utf16_len(p) <= 4096, "{}", utf16_len(p));
            assert!(
                p.ends_with('.'),
                "split mid-line: {:?}",
                &p[p.len().saturating_sub(20)..]
            );
        }
        let joined: String = parts.join("\n");
        assert_eq!(joined.matches('🔥').count(), 300, "no text lost");
    }

    #[test]
    fn emoji_count_two_units() {
        let text = "🔥".repeat(3000);
        let parts = split_message(&text, 4096);
        assert_eq!(parts.len(), 2);
        assert_eq!(utf16_len(&parts[0]), 4096);
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn one_huge_line_is_cut_at_spaces() {
        let text = "слово ".repeat(2000);
        let parts = split_message(&text, 4096);
        assert!(parts.len() >= 3);
        for p in &parts {
            assert!(utf16_len(p) <= 4096);
        }
        assert_eq!(parts.concat().split_whitespace().count(), 2000);
    }
}
