//! Threads of e-mail: how a subject is normalised for matching, and the id
//! of a thread an e-mail starts.

use uuid::Uuid;

const THREAD_NAMESPACE: Uuid = Uuid::from_u128(0x5b1c_0a2e_7d41_4e3a_9f10_8c3e_2a9d_0007);
/// Reply and forward prefixes, English and German, compared lower-cased.
const PREFIXES: [&str; 5] = ["re", "fwd", "fw", "aw", "wg"];

/// The thread an e-mail starts when it joins none: derived from the e-mail's
/// own id, so deciding twice gives the same thread.
pub fn new_thread_id(email_id: Uuid) -> Uuid {
    Uuid::new_v5(&THREAD_NAMESPACE, email_id.as_bytes())
}

/// A subject as threads compare it: reply and forward prefixes (`Re:`,
/// `Fwd:`, `Fw:`, `AW:`, `WG:`, also `Re[2]:`) and `[tags]` removed from the
/// front, whitespace collapsed, control characters dropped, lower-cased.
pub fn subject_key(subject: &str) -> String {
    let mut rest = subject.trim();
    loop {
        let stripped = strip_tag(rest).or_else(|| strip_prefix(rest));
        match stripped {
            Some(shorter) => rest = shorter.trim_start(),
            None => break,
        }
    }
    let words: Vec<&str> = rest.split_whitespace().collect();
    words
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .to_lowercase()
}

/// `[anything] rest` → `rest`.
fn strip_tag(text: &str) -> Option<&str> {
    let inner = text.strip_prefix('[')?;
    let end = inner.find(']')?;
    Some(&inner[end + 1..])
}

/// `Re: rest`, `re [3]: rest`, `FWD : rest` → `rest`.
fn strip_prefix(text: &str) -> Option<&str> {
    let word_end = text.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(text.len());
    let word = text[..word_end].to_ascii_lowercase();
    if !PREFIXES.contains(&word.as_str()) {
        return None;
    }
    let mut rest = text[word_end..].trim_start();
    if let Some(counted) = rest.strip_prefix('[').or_else(|| rest.strip_prefix('(')) {
        let digits = counted.trim_start_matches(|c: char| c.is_ascii_digit());
        rest = digits
            .strip_prefix(']')
            .or_else(|| digits.strip_prefix(')'))?
            .trim_start();
    }
    rest.strip_prefix(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_and_forward_prefixes_and_tags_are_removed() {
        for subject in [
            "Invoice 42",
            "Re: Invoice 42",
            "RE: re: Fwd: invoice 42",
            "AW: WG: Invoice   42",
            "[Support] Re: [Ticket #7] Fw: Invoice 42",
            "Re[2]: Invoice 42",
            "  re (3) : INVOICE 42 ",
        ] {
            assert_eq!(subject_key(subject), "invoice 42", "{subject}");
        }
    }

    #[test]
    fn words_that_only_begin_like_a_prefix_are_kept() {
        assert_eq!(subject_key("Regarding: the order"), "regarding: the order");
        assert_eq!(subject_key("Reorder now"), "reorder now");
        assert_eq!(subject_key("Re-order"), "re-order");
    }

    #[test]
    fn control_characters_are_not_part_of_the_key() {
        assert_eq!(subject_key("Re: In\u{0}voice\u{7} 42"), "invoice 42");
    }

    #[test]
    fn an_empty_or_prefix_only_subject_has_an_empty_key() {
        assert_eq!(subject_key(""), "");
        assert_eq!(subject_key("Re: "), "");
        assert_eq!(subject_key("[tag]"), "");
    }

    #[test]
    fn a_thread_started_by_the_same_email_has_the_same_id() {
        let email = Uuid::from_u128(7);
        assert_eq!(new_thread_id(email), new_thread_id(email));
        assert_ne!(new_thread_id(email), new_thread_id(Uuid::from_u128(8)));
    }

    #[test]
    fn an_unclosed_tag_or_count_is_part_of_the_subject() {
        assert_eq!(subject_key("[unclosed subject"), "[unclosed subject");
        assert_eq!(subject_key("Re[2 Invoice"), "re[2 invoice");
        assert_eq!(subject_key("Re(2] Invoice"), "re(2] invoice");
        assert_eq!(subject_key("Re Invoice"), "re invoice", "no colon, no prefix");
        assert_eq!(subject_key("Fw [12] : Invoice"), "invoice");
    }
}
