//! x-uuencode, as old mailers attached files: a `begin <mode> <name>`
//! line, lines whose first character gives their length in bytes, `end`.

/// The file a uuencoded text holds: the name on its `begin` line and its
/// bytes; `None` when the text is not whole uuencoded data.
pub(super) fn decode(text: &[u8]) -> Option<(Option<String>, Vec<u8>)> {
    let mut lines = text
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    let begin = lines.by_ref().find(|line| line.starts_with(b"begin "))?;
    let name = begin_name(begin)?;
    let mut bytes = Vec::new();
    for line in lines {
        if line.trim_ascii_end() == b"end" {
            return Some((name, bytes));
        }
        decode_line(line, &mut bytes)?;
    }
    None
}

/// The name on `begin <octal mode> <name>` (none when absent); `None`
/// when the mode is not octal.
fn begin_name(line: &[u8]) -> Option<Option<String>> {
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.splitn(3, ' ');
    let mode = words.nth(1)?;
    if mode.is_empty() || !mode.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    let name = words.next().map(str::trim).filter(|n| !n.is_empty());
    Some(name.map(str::to_string))
}

/// A character's six bits (`` ` `` and space are zero).
fn sextet(c: u8) -> Option<u32> {
    (b' '..=b'`').contains(&c).then(|| u32::from((c - b' ') & 0x3f))
}

/// Appends one line's bytes; an empty line adds nothing. Trailing spaces a
/// transport dropped are taken as zeros.
fn decode_line(line: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let Some((&first, rest)) = line.split_first() else {
        return Some(());
    };
    let length = usize::try_from(sextet(first)?).ok()?;
    let mut written = 0;
    for group in rest.chunks(4).chain(std::iter::repeat(&b"    "[..])) {
        if written >= length {
            break;
        }
        let mut chunk = 0u32;
        for i in 0..4 {
            chunk = (chunk << 6) | sextet(group.get(i).copied().unwrap_or(b' '))?;
        }
        let [_, a, b, c] = chunk.to_be_bytes();
        for byte in [a, b, c].into_iter().take(length - written) {
            out.push(byte);
            written += 1;
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uuencoded_file_is_decoded_with_its_name() {
        let text = b"\r\nbegin 644 cat.txt\r\n#0V%T\r\n`\r\nend\r\n";
        assert_eq!(decode(text), Some((Some("cat.txt".into()), b"Cat".to_vec())));
    }

    #[test]
    fn lines_whose_trailing_spaces_were_dropped_still_decode() {
        // "AB" is `"04(` and "\0\0\0" is a line of spaces after its length.
        assert_eq!(
            decode(b"begin 600 x\n\"04(\n#\nend\n"),
            Some((Some("x".into()), b"AB\0\0\0".to_vec()))
        );
    }

    #[test]
    fn text_that_is_not_uuencoded_is_not_decoded() {
        assert_eq!(decode(b"hello\r\nworld\r\n"), None);
        assert_eq!(decode(b"begin 644 a.bin\r\n#0V%T\r\n"), None, "no end line");
        assert_eq!(decode(b"begin abc a.bin\r\nend\r\n"), None, "no octal mode");
        assert_eq!(
            decode(b"begin 644 a.bin\r\n#0V\x7fT\r\nend\r\n"),
            None,
            "a character outside the alphabet"
        );
    }
}
