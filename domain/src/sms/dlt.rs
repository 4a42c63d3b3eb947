//! India's DLT (Distributed Ledger Technology) content templates.
//!
//! A content template is text registered with an operator's DLT platform in
//! which each `{#var#}` marks a variable (the placeholder's letters may be in
//! any case: `{#var#}`, `{#VAR#}`, `{#Var#}`). A body follows its template
//! when it is the template's literal text, exactly and in the same case,
//! with each variable filled by up to [`MAX_VARIABLE_CHARS`] characters.

/// Characters a variable may be filled with, at most (TRAI's limit).
pub const MAX_VARIABLE_CHARS: usize = 30;

/// Characters a template's text may have, at most.
pub const MAX_TEMPLATE_CHARS: usize = 2000;

/// The placeholder marking a variable, in lower case.
const PLACEHOLDER: [char; 7] = ['{', '#', 'v', 'a', 'r', '#', '}'];

/// Characters of the template's text shown as expected in a [`Mismatch`],
/// at most.
const EXPECTED_CHARS: usize = 20;

/// Where a body stops following its template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// 0-based character (Unicode scalar) index into the body: the furthest
    /// point any alignment of the body with the template reached.
    pub position: usize,
    /// Up to 20 characters of the template's text that was expected there
    /// (the literal text following the furthest alignment; `None` when the
    /// template had ended and the body has more).
    pub expected: Option<String>,
}

/// Why values cannot fill a template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FillError {
    /// The number of values is not the number of variables.
    #[error("the template has {expected} variables and {given} values were given")]
    Count { expected: usize, given: usize },
    /// A value is longer than a variable may be; `index` is its 0-based
    /// index.
    #[error("value {index} has more than {MAX_VARIABLE_CHARS} characters")]
    TooLong { index: usize },
}

/// Why text cannot be registered as a template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateTextError {
    /// The text is empty or only white space.
    #[error("a template's text may not be empty")]
    Empty,
    /// The text has more than [`MAX_TEMPLATE_CHARS`] characters.
    #[error("a template's text may have at most {MAX_TEMPLATE_CHARS} characters")]
    TooLong,
}

/// How many variables the template has.
pub fn variables(template: &str) -> usize {
    literals(template).len() - 1
}

/// Whether `body` is the template with each variable filled by 0 to 30
/// characters (any characters, including spaces and newlines); literal text
/// must be equal exactly (case-sensitive).
///
/// An alignment reads the body along the template, each variable taking
/// some 0 to 30 characters, until the body and the template end together
/// (the body matches) or the alignment fails: a body character differs from
/// the literal character the template has there, the body ends inside the
/// template's literal text, or the template ends before the body. When no
/// alignment matches, the [`Mismatch`] reports where the alignment that
/// followed the template furthest failed: the one that got furthest into
/// the template's text and, among those, read the most of the body.
/// Its `position` is the body's first character that even this alignment
/// cannot explain (the body's length when the body ends early), and
/// `expected` is the template's literal text from that point up to the
/// next variable, cut to 20 characters (`None` when the template had ended).
///
/// So for the template `Your OTP is {#var#}. Do not share.`, the body
/// `Your OTP is 1234. Do not shared.` fails at its `d` (position 30),
/// where `.` was expected, rather than at its end (where a variable holding
/// `1234. Do not shared.` would have left `. Do not share.` expected): the
/// former alignment matched more of the template.
///
/// The work grows with the body's length times the template's length.
pub fn matches(template: &str, body: &str) -> Result<(), Mismatch> {
    let literals = literals(template);
    let body: Vec<char> = body.chars().collect();
    let last = literals.len() - 1;
    // `starts[q]`: some alignment may begin the current literal at body index `q`.
    let mut starts = vec![false; body.len() + 1];
    starts[0] = true;
    // The furthest failure so far: (literal, characters of it matched, body index).
    let mut furthest: Option<(usize, usize, usize)> = None;
    for (index, literal) in literals.iter().enumerate() {
        let mut ends = vec![false; body.len() + 1];
        for start in (0..=body.len()).filter(|&q| starts[q]) {
            let matched = common_prefix(literal, &body[start..]);
            let end = start + matched;
            if matched < literal.len() || (index == last && end < body.len()) {
                furthest = furthest.max(Some((index, matched, end)));
            } else {
                ends[end] = true;
            }
        }
        if index == last {
            if ends[body.len()] {
                return Ok(());
            }
        } else {
            starts = widen(&ends);
        }
    }
    let (index, matched, position) = furthest.unwrap_or_default();
    let expected = literals.get(index).and_then(|literal| {
        let rest = literal.get(matched..).unwrap_or_default();
        (!rest.is_empty()).then(|| rest.iter().take(EXPECTED_CHARS).collect())
    });
    Err(Mismatch { position, expected })
}

/// The template with its variables filled in order.
pub fn fill(template: &str, values: &[String]) -> Result<String, FillError> {
    let literals = literals(template);
    let expected = literals.len() - 1;
    if values.len() != expected {
        return Err(FillError::Count {
            expected,
            given: values.len(),
        });
    }
    if let Some(index) = values
        .iter()
        .position(|value| value.chars().count() > MAX_VARIABLE_CHARS)
    {
        return Err(FillError::TooLong { index });
    }
    let mut filled = String::new();
    for (index, literal) in literals.iter().enumerate() {
        filled.extend(literal);
        if let Some(value) = values.get(index) {
            filled.push_str(value);
        }
    }
    Ok(filled)
}

/// A template's text as registered: trimmed of nothing; non-empty after
/// trimming, at most [`MAX_TEMPLATE_CHARS`] characters.
pub fn check_template(text: &str) -> Result<(), TemplateTextError> {
    if text.trim().is_empty() {
        Err(TemplateTextError::Empty)
    } else if text.chars().count() > MAX_TEMPLATE_CHARS {
        Err(TemplateTextError::TooLong)
    } else {
        Ok(())
    }
}

/// The template's literal texts, split at its placeholders: always one more
/// than the template has variables.
fn literals(template: &str) -> Vec<Vec<char>> {
    let chars: Vec<char> = template.chars().collect();
    let mut literals = vec![Vec::new()];
    let mut at = 0;
    while let Some(&c) = chars.get(at) {
        if is_placeholder(chars.get(at..at + PLACEHOLDER.len())) {
            literals.push(Vec::new());
            at += PLACEHOLDER.len();
        } else {
            if let Some(literal) = literals.last_mut() {
                literal.push(c);
            }
            at += 1;
        }
    }
    literals
}

/// Whether `window` is the placeholder, in any case.
fn is_placeholder(window: Option<&[char]>) -> bool {
    window.is_some_and(|window| window.iter().map(char::to_ascii_lowercase).eq(PLACEHOLDER))
}

/// How many characters `literal` and `body` have in common at their start.
fn common_prefix(literal: &[char], body: &[char]) -> usize {
    literal.iter().zip(body).take_while(|(l, b)| l == b).count()
}

/// The body indices a literal may start at when the variable before it
/// starts at any of the indices marked in `ends`: each such index and up to
/// [`MAX_VARIABLE_CHARS`] after it.
fn widen(ends: &[bool]) -> Vec<bool> {
    let mut reach = None;
    ends.iter()
        .enumerate()
        .map(|(q, &end)| {
            if end {
                reach = Some(q + MAX_VARIABLE_CHARS);
            }
            reach.is_some_and(|reach| q <= reach)
        })
        .collect()
}

#[cfg(test)]
mod tests;
