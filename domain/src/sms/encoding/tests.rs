use super::*;

/// The GSM 03.38 default alphabet as Unicode code points by septet value,
/// with `None` at 0x1B, the escape to the extension table. Positions from
/// 0x20 not listed here hold the ASCII character of the same value.
fn default_alphabet() -> Vec<Option<char>> {
    let differing: [(usize, u32); 44] = [
        (0x00, 0x40),
        (0x01, 0xA3),
        (0x02, 0x24),
        (0x03, 0xA5),
        (0x04, 0xE8),
        (0x05, 0xE9),
        (0x06, 0xF9),
        (0x07, 0xEC),
        (0x08, 0xF2),
        (0x09, 0xC7),
        (0x0A, 0x0A),
        (0x0B, 0xD8),
        (0x0C, 0xF8),
        (0x0D, 0x0D),
        (0x0E, 0xC5),
        (0x0F, 0xE5),
        (0x10, 0x394),
        (0x11, 0x5F),
        (0x12, 0x3A6),
        (0x13, 0x393),
        (0x14, 0x39B),
        (0x15, 0x3A9),
        (0x16, 0x3A0),
        (0x17, 0x3A8),
        (0x18, 0x3A3),
        (0x19, 0x398),
        (0x1A, 0x39E),
        (0x1C, 0xC6),
        (0x1D, 0xE6),
        (0x1E, 0xDF),
        (0x1F, 0xC9),
        (0x24, 0xA4),
        (0x40, 0xA1),
        (0x5B, 0xC4),
        (0x5C, 0xD6),
        (0x5D, 0xD1),
        (0x5E, 0xDC),
        (0x5F, 0xA7),
        (0x60, 0xBF),
        (0x7B, 0xE4),
        (0x7C, 0xF6),
        (0x7D, 0xF1),
        (0x7E, 0xFC),
        (0x7F, 0xE0),
    ];
    let mut table: Vec<Option<char>> = (0..128u32)
        .map(|septet| if septet < 0x20 { None } else { char::from_u32(septet) })
        .collect();
    for (septet, point) in differing {
        table[septet] = char::from_u32(point);
    }
    table
}

/// The GSM 03.38 extension table's characters as Unicode code points.
const EXTENSION_POINTS: [u32; 10] = [0x0C, 0x5E, 0x7B, 0x7D, 0x5C, 0x5B, 0x7E, 0x5D, 0x7C, 0x20AC];

fn gsm7(segments: u32, units: u32) -> SmsSegments {
    SmsSegments {
        encoding: SmsEncoding::Gsm7,
        segments,
        units,
    }
}

fn ucs2(segments: u32, units: u32) -> SmsSegments {
    SmsSegments {
        encoding: SmsEncoding::Ucs2,
        segments,
        units,
    }
}

fn repeat(c: char, n: usize) -> String {
    std::iter::repeat_n(c, n).collect()
}

#[test]
fn every_character_of_the_default_alphabet_counts_as_one_septet() {
    let alphabet = default_alphabet();
    assert_eq!(alphabet.iter().flatten().count(), 127);
    for c in alphabet.into_iter().flatten() {
        assert_eq!(segments(&c.to_string()), gsm7(1, 1), "{c:?}");
    }
}

#[test]
fn every_character_of_the_extension_table_counts_as_two_septets() {
    for point in EXTENSION_POINTS {
        let c = char::from_u32(point).unwrap_or_default();
        assert_eq!(segments(&c.to_string()), gsm7(1, 2), "{c:?}");
    }
}

#[test]
fn no_other_character_of_the_first_planes_is_gsm7() {
    let alphabet = default_alphabet();
    for c in (0..0x3000u32).filter_map(char::from_u32) {
        let expected = alphabet.contains(&Some(c)) || EXTENSION_POINTS.contains(&u32::from(c));
        assert_eq!(is_gsm7(&c.to_string()), expected, "{c:?} U+{:04X}", u32::from(c));
    }
}

#[test]
fn a_euro_sign_counts_as_two_septets() {
    assert_eq!(segments("€5"), gsm7(1, 3));
}

#[test]
fn a_lower_case_c_cedilla_a_backtick_and_the_escape_are_not_gsm7() {
    assert!(is_gsm7("Ç"));
    assert!(!is_gsm7("ç"));
    assert!(!is_gsm7("`"));
    assert!(!is_gsm7("\u{1b}"));
    assert!(!is_gsm7("\t"));
    assert_eq!(segments("ç"), ucs2(1, 1));
}

#[test]
fn an_empty_body_is_gsm7_in_no_segments() {
    assert!(is_gsm7(""));
    assert_eq!(segments(""), gsm7(0, 0));
    assert_eq!(segments_as("", SmsEncoding::Ucs2), Some(ucs2(0, 0)));
}

#[test]
fn a_body_with_one_character_outside_gsm7_is_gsm7_no_longer() {
    assert!(is_gsm7("Hello"));
    assert!(!is_gsm7("Hello ₹"));
    assert_eq!(segments("Hello ₹"), ucs2(1, 7));
}

#[test]
fn a_gsm7_body_of_160_septets_is_one_segment() {
    assert_eq!(segments(&repeat('a', 160)), gsm7(1, 160));
}

#[test]
fn a_gsm7_body_of_161_septets_is_two_segments() {
    assert_eq!(segments(&repeat('a', 161)), gsm7(2, 161));
}

#[test]
fn a_gsm7_body_of_80_euro_signs_is_one_segment_and_one_more_makes_two() {
    assert_eq!(segments(&repeat('€', 80)), gsm7(1, 160));
    assert_eq!(segments(&(repeat('€', 80) + "a")), gsm7(2, 161));
}

#[test]
fn gsm7_parts_hold_153_septets_each() {
    assert_eq!(segments(&repeat('a', 306)), gsm7(2, 306));
    assert_eq!(segments(&repeat('a', 307)), gsm7(3, 307));
    assert_eq!(segments(&repeat('a', 459)), gsm7(3, 459));
    assert_eq!(segments(&repeat('a', 460)), gsm7(4, 460));
}

#[test]
fn an_escape_pair_is_never_split_across_two_parts() {
    let body = repeat('a', 152) + "€" + &repeat('a', 152);
    assert_eq!(segments(&body), gsm7(3, 306));
}

#[test]
fn an_escape_pair_that_ends_exactly_at_153_septets_stays_in_its_part() {
    let body = repeat('a', 151) + "€" + &repeat('a', 153);
    assert_eq!(segments(&body), gsm7(2, 306));
}

#[test]
fn a_ucs2_body_of_70_units_is_one_segment() {
    assert_eq!(segments(&repeat('ж', 70)), ucs2(1, 70));
}

#[test]
fn a_ucs2_body_of_71_units_is_two_segments() {
    assert_eq!(segments(&repeat('ж', 71)), ucs2(2, 71));
}

#[test]
fn ucs2_parts_hold_67_units_each() {
    assert_eq!(segments(&repeat('ж', 134)), ucs2(2, 134));
    assert_eq!(segments(&repeat('ж', 135)), ucs2(3, 135));
    assert_eq!(segments(&repeat('ж', 201)), ucs2(3, 201));
    assert_eq!(segments(&repeat('ж', 202)), ucs2(4, 202));
}

#[test]
fn an_emoji_outside_the_basic_plane_counts_as_two_units() {
    assert_eq!(segments("😀"), ucs2(1, 2));
    assert_eq!(segments(&repeat('😀', 35)), ucs2(1, 70));
    assert_eq!(segments(&(repeat('😀', 35) + "a")), ucs2(2, 71));
}

#[test]
fn a_surrogate_pair_is_never_split_across_two_parts() {
    let body = repeat('ж', 66) + "😀" + &repeat('ж', 66);
    assert_eq!(segments(&body), ucs2(3, 134));
}

#[test]
fn a_surrogate_pair_that_ends_exactly_at_67_units_stays_in_its_part() {
    let body = repeat('ж', 65) + "😀" + &repeat('ж', 67);
    assert_eq!(segments(&body), ucs2(2, 134));
}

#[test]
fn a_gsm7_body_forced_to_ucs2_counts_its_utf16_units() {
    assert_eq!(segments_as("€{a}", SmsEncoding::Ucs2), Some(ucs2(1, 4)));
    assert_eq!(segments_as(&repeat('a', 71), SmsEncoding::Ucs2), Some(ucs2(2, 71)));
}

#[test]
fn a_gsm7_body_forced_to_gsm7_counts_as_it_would_unforced() {
    assert_eq!(segments_as("€{a}", SmsEncoding::Gsm7), Some(gsm7(1, 7)));
}

#[test]
fn a_body_outside_gsm7_cannot_be_forced_to_gsm7() {
    assert_eq!(segments_as("नमस्ते", SmsEncoding::Gsm7), None);
    assert_eq!(segments_as("a`", SmsEncoding::Gsm7), None);
}

#[test]
fn encodings_serialise_in_snake_case() {
    assert_eq!(
        serde_json::to_string(&SmsEncoding::Gsm7).ok().as_deref(),
        Some("\"gsm7\"")
    );
    assert_eq!(
        serde_json::to_string(&SmsEncoding::Ucs2).ok().as_deref(),
        Some("\"ucs2\"")
    );
}
