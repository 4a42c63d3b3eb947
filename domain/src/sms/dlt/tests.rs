use super::*;

const OTP: &str = "Your OTP is {#var#}. Do not share.";

fn repeat(c: char, n: usize) -> String {
    std::iter::repeat_n(c, n).collect()
}

fn mismatch(position: usize, expected: Option<&str>) -> Result<(), Mismatch> {
    Err(Mismatch {
        position,
        expected: expected.map(str::to_owned),
    })
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|&value| value.to_owned()).collect()
}

#[test]
fn variables_are_counted_whatever_the_case_of_their_placeholder() {
    assert_eq!(variables("{#var#} {#VAR#} {#Var#} {#vAR#}"), 4);
    assert_eq!(variables(OTP), 1);
    assert_eq!(variables("{#var#}{#var#}"), 2);
    assert_eq!(variables("{{#var#}}"), 1);
}

#[test]
fn a_template_without_placeholders_has_no_variables() {
    assert_eq!(variables(""), 0);
    assert_eq!(variables("Thank you for shopping"), 0);
}

#[test]
fn text_that_only_resembles_a_placeholder_is_not_a_variable() {
    assert_eq!(variables("{#va r#} {#var} {var#} #var# {#vars#} {#v@r#}"), 0);
    assert_eq!(variables("ends with {#var#"), 0);
    assert_eq!(variables("{#var"), 0);
}

#[test]
fn a_body_equal_to_a_template_without_variables_matches() {
    assert_eq!(matches("Thank you", "Thank you"), Ok(()));
    assert_eq!(matches("", ""), Ok(()));
}

#[test]
fn a_body_with_its_variable_filled_matches() {
    assert_eq!(matches(OTP, "Your OTP is 1234. Do not share."), Ok(()));
}

#[test]
fn a_variable_may_be_left_empty() {
    assert_eq!(matches(OTP, "Your OTP is . Do not share."), Ok(()));
    assert_eq!(matches("{#var#}", ""), Ok(()));
}

#[test]
fn a_variable_may_hold_30_characters() {
    let body = format!("Your OTP is {}. Do not share.", repeat('9', 30));
    assert_eq!(matches(OTP, &body), Ok(()));
}

#[test]
fn a_variable_of_31_characters_fails_at_its_31st_character() {
    let body = format!("Your OTP is {}. Do not share.", repeat('9', 31));
    assert_eq!(matches(OTP, &body), mismatch(42, Some(". Do not share.")));
}

#[test]
fn a_template_that_is_one_variable_matches_up_to_30_characters() {
    assert_eq!(matches("{#var#}", &repeat('x', 30)), Ok(()));
    assert_eq!(matches("{#VAR#}", &repeat('x', 31)), mismatch(30, None));
}

#[test]
fn a_variable_at_the_start_may_hold_30_characters_and_no_more() {
    let template = "{#var#} is your code";
    assert_eq!(matches(template, &(repeat('7', 30) + " is your code")), Ok(()));
    assert_eq!(
        matches(template, &(repeat('7', 31) + " is your code")),
        mismatch(30, Some(" is your code"))
    );
}

#[test]
fn a_variable_at_the_end_may_hold_30_characters_and_no_more() {
    let template = "Hi {#var#}";
    assert_eq!(matches(template, &format!("Hi {}", repeat('a', 30))), Ok(()));
    assert_eq!(
        matches(template, &format!("Hi {}", repeat('a', 31))),
        mismatch(33, None)
    );
}

#[test]
fn a_variable_may_hold_spaces_newlines_and_any_characters() {
    assert_eq!(matches(OTP, "Your OTP is 12 34\n{#var#}✓. Do not share."), Ok(()));
}

#[test]
fn placeholders_match_as_variables_whatever_their_case() {
    assert_eq!(matches("A {#VAR#} B {#Var#} C", "A 1 B 2 C"), Ok(()));
}

#[test]
fn a_variable_may_hold_text_equal_to_the_literal_after_it() {
    let template = "Dear {#var#}, your {#var#} is ready";
    assert_eq!(matches(template, "Dear A, your B, your C is ready"), Ok(()));
    assert_eq!(matches("{#var#}a", &repeat('a', 31)), Ok(()));
}

#[test]
fn adjacent_variables_may_hold_60_characters_together_and_no_more() {
    assert_eq!(matches("<{#var#}{#var#}>", &format!("<{}>", repeat('z', 60))), Ok(()));
    assert_eq!(
        matches("<{#var#}{#var#}>", &format!("<{}>", repeat('z', 61))),
        mismatch(61, Some(">"))
    );
}

#[test]
fn literal_text_is_compared_case_sensitively() {
    assert_eq!(
        matches(OTP, "your OTP is 1234. Do not share."),
        mismatch(0, Some("Your OTP is "))
    );
}

#[test]
fn a_body_differing_inside_the_first_literal_fails_at_that_character() {
    assert_eq!(
        matches(OTP, "Your PIN is 1234. Do not share."),
        mismatch(5, Some("OTP is "))
    );
}

#[test]
fn an_extra_character_before_the_final_literal_ends_fails_at_that_character() {
    assert_eq!(
        matches(OTP, "Your OTP is 1234. Do not shared."),
        mismatch(30, Some("."))
    );
}

#[test]
fn a_body_that_ends_early_fails_at_its_end_with_the_missing_literal_expected() {
    assert_eq!(matches(OTP, "Your OTP is 1234"), mismatch(16, Some(". Do not share.")));
    assert_eq!(matches(OTP, "Your OTP is 1234. Do"), mismatch(20, Some(" not share.")));
    assert_eq!(matches(OTP, "Your OTP"), mismatch(8, Some(" is ")));
}

#[test]
fn an_empty_body_fails_at_its_start() {
    assert_eq!(matches(OTP, ""), mismatch(0, Some("Your OTP is ")));
}

#[test]
fn extra_text_after_the_template_fails_where_the_template_ended() {
    assert_eq!(
        matches(OTP, "Your OTP is 1234. Do not share. Thanks"),
        mismatch(31, None)
    );
    assert_eq!(matches("Thank you", "Thank you!"), mismatch(9, None));
    assert_eq!(matches("", "x"), mismatch(0, None));
}

#[test]
fn the_expected_text_is_cut_to_20_characters() {
    let template = "Hello {#var#}, your order has shipped today";
    let expected = ", your order has shi";
    assert_eq!(expected.chars().count(), 20);
    assert_eq!(matches(template, "Hello Asha"), mismatch(10, Some(expected)));
    assert_eq!(
        matches("abcdefghijklmnopqrstu", "X"),
        mismatch(0, Some("abcdefghijklmnopqrst"))
    );
}

#[test]
fn the_expected_text_stops_at_the_next_variable() {
    assert_eq!(
        matches("A {#var#} and {#var#} done", "A 1 x"),
        mismatch(4, Some("and "))
    );
}

#[test]
fn a_later_literal_that_differs_fails_there() {
    let template = "Dear {#var#}, your order {#var#} is ready";
    assert_eq!(
        matches(template, "Dear Asha, your order 42 is late"),
        mismatch(28, Some("ready"))
    );
}

#[test]
fn positions_count_characters_not_bytes() {
    let template = "नमस्ते {#var#} जी";
    assert_eq!(matches(template, "नमस्ते राम जी"), Ok(()));
    assert_eq!(matches(template, "नमस्ते राम"), mismatch(10, Some(" जी")));
    assert_eq!(matches("€€{#var#}", "€£"), mismatch(1, Some("€")));
}

#[test]
fn matching_a_long_template_with_many_variables_is_quick() {
    let template = "{#var#}a".repeat(250);
    assert_eq!(template.chars().count(), MAX_TEMPLATE_CHARS);
    let started = std::time::Instant::now();
    assert_eq!(matches(&template, &repeat('a', 2000)), Ok(()));
    assert_eq!(matches(&template, &(repeat('a', 1999) + "b")), mismatch(1999, None));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn filling_puts_the_values_in_order() {
    let template = "Dear {#var#}, your order {#VAR#} is {#Var#}.";
    let filled = fill(template, &strings(&["Asha", "42", "ready"]));
    assert_eq!(filled.as_deref(), Ok("Dear Asha, your order 42 is ready."));
}

#[test]
fn filling_a_template_without_variables_gives_its_text() {
    assert_eq!(fill("Thank you", &[]).as_deref(), Ok("Thank you"));
    assert_eq!(fill("", &[]).as_deref(), Ok(""));
}

#[test]
fn filling_with_too_few_or_too_many_values_is_refused() {
    assert_eq!(fill(OTP, &[]), Err(FillError::Count { expected: 1, given: 0 }));
    assert_eq!(
        fill(OTP, &strings(&["1", "2"])),
        Err(FillError::Count { expected: 1, given: 2 })
    );
    assert_eq!(
        fill("none", &strings(&["1"])),
        Err(FillError::Count { expected: 0, given: 1 })
    );
}

#[test]
fn a_value_of_30_characters_fills_a_variable() {
    let value = repeat('ж', 30);
    let filled = fill("[{#var#}]", std::slice::from_ref(&value));
    assert_eq!(filled, Ok(format!("[{value}]")));
}

#[test]
fn a_value_of_31_characters_is_refused_with_its_index() {
    let values = vec!["ok".to_owned(), repeat('a', 31), repeat('b', 31)];
    assert_eq!(
        fill("{#var#} {#var#} {#var#}", &values),
        Err(FillError::TooLong { index: 1 })
    );
}

#[test]
fn a_wrong_count_is_reported_before_a_long_value() {
    assert_eq!(
        fill(OTP, &[repeat('a', 31), "x".to_owned()]),
        Err(FillError::Count { expected: 1, given: 2 })
    );
}

#[test]
fn a_filled_template_matches_it() {
    let template = "Hi {#var#}, {#var#} is due on {#var#}";
    let filled = fill(template, &strings(&["Ravi", "₹1,200", "1 May"])).unwrap_or_default();
    assert_eq!(matches(template, &filled), Ok(()));
}

#[test]
fn fill_errors_read_as_sentences() {
    assert_eq!(
        FillError::Count { expected: 2, given: 1 }.to_string(),
        "the template has 2 variables and 1 values were given"
    );
    assert_eq!(
        FillError::TooLong { index: 3 }.to_string(),
        "value 3 has more than 30 characters"
    );
    assert_eq!(
        TemplateTextError::Empty.to_string(),
        "a template's text may not be empty"
    );
    assert_eq!(
        TemplateTextError::TooLong.to_string(),
        "a template's text may have at most 2000 characters"
    );
}

#[test]
fn a_template_text_of_blank_characters_is_empty() {
    assert_eq!(check_template(""), Err(TemplateTextError::Empty));
    assert_eq!(check_template(" \n\t "), Err(TemplateTextError::Empty));
    assert_eq!(check_template("  a  "), Ok(()));
}

#[test]
fn a_template_text_may_have_2000_characters_and_no_more() {
    assert_eq!(check_template(&repeat('a', 2000)), Ok(()));
    assert_eq!(check_template(&repeat('a', 2001)), Err(TemplateTextError::TooLong));
}

#[test]
fn a_template_text_is_measured_in_characters_untrimmed() {
    assert_eq!(check_template(&repeat('ж', 2000)), Ok(()));
    assert_eq!(check_template(&(" ".to_owned() + &repeat('a', 1999))), Ok(()));
    assert_eq!(
        check_template(&(" ".to_owned() + &repeat('a', 2000))),
        Err(TemplateTextError::TooLong)
    );
}
