//! `GET /v1/Accounts/{sid}/Numbers/{number}[.json]`: a number's telecom
//! circle, operator, type and DND registration, scripted per number.
//!
//! Only the documentation's sample (`GJ`, its circle name, `R` for
//! Reliance) fixes a code; the other circle and operator codes follow the
//! same pattern and are a guess.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use serde_json::{Value, json};
use std::sync::Arc;

use crate::request::{Answer, Received};
use crate::state::{Scenario, SimState, national};

/// Number types Exotel reports.
pub const TYPES: [&str; 3] = ["Landline", "Mobile", "TollFree"];

/// Telecom circles: code and name.
const CIRCLES: [(&str, &str); 23] = [
    ("AP", "Andhra Pradesh Telecom Circle"),
    ("AS", "Assam Telecom Circle"),
    ("BR", "Bihar Telecom Circle (includes Jharkhand)"),
    ("CH", "Chennai Metro Telecom Circle"),
    ("DL", "Delhi Metro Telecom Circle"),
    (
        "GJ",
        "Gujarat Telecom Circle (includes Daman & Diu, Dadra & Nagar Haveli)",
    ),
    ("HP", "Himachal Pradesh Telecom Circle"),
    ("HR", "Haryana Telecom Circle"),
    ("JK", "Jammu & Kashmir Telecom Circle"),
    ("KA", "Karnataka Telecom Circle"),
    ("KL", "Kerala Telecom Circle (includes Lakshadweep)"),
    ("KO", "Kolkata Metro Telecom Circle"),
    ("MH", "Maharashtra Telecom Circle (includes Goa)"),
    ("MP", "Madhya Pradesh Telecom Circle (includes Chhattisgarh)"),
    ("MU", "Mumbai Metro Telecom Circle"),
    ("NE", "North East Telecom Circle"),
    ("OR", "Odisha Telecom Circle"),
    ("PB", "Punjab Telecom Circle"),
    ("RJ", "Rajasthan Telecom Circle"),
    ("TN", "Tamil Nadu Telecom Circle"),
    ("UE", "Uttar Pradesh (East) Telecom Circle"),
    ("UW", "Uttar Pradesh (West) Telecom Circle (includes Uttarakhand)"),
    ("WB", "West Bengal Telecom Circle (includes Andaman & Nicobar, Sikkim)"),
];

/// Operators: code and name.
const OPERATORS: [(&str, &str); 7] = [
    ("A", "Airtel"),
    ("B", "BSNL"),
    ("I", "Idea"),
    ("J", "Reliance Jio"),
    ("M", "MTNL"),
    ("R", "Reliance"),
    ("V", "Vodafone"),
];

/// Landline STD codes of the metro circles, for numbers with no scripted circle.
const STD_CODES: [(&str, &str); 8] = [
    ("011", "DL"),
    ("020", "MH"),
    ("022", "MU"),
    ("033", "KO"),
    ("040", "AP"),
    ("044", "CH"),
    ("079", "GJ"),
    ("080", "KA"),
];

/// Number metadata routes.
pub fn routes() -> Router<Arc<SimState>> {
    Router::new().route("/v1/Accounts/{sid}/Numbers/{number}", get(lookup))
}

/// Whether a scenario's circle, operator and number type are ones Exotel reports.
pub fn valid_scenario(scenario: &Scenario) -> bool {
    let known = |table: &[(&str, &str)], code: &Option<String>| {
        code.as_deref().is_none_or(|c| table.iter().any(|(k, _)| *k == c))
    };
    known(&CIRCLES, &scenario.circle)
        && known(&OPERATORS, &scenario.operator)
        && scenario.number_type.as_deref().is_none_or(|t| TYPES.contains(&t))
}

/// The number's circle code: scripted, else its STD code's, else `KA`.
pub fn circle(state: &SimState, number: &str) -> String {
    let number = national(number);
    let by_std = STD_CODES.iter().find(|(std, _)| number.starts_with(std));
    let fallback = by_std.map_or("KA", |(_, circle)| circle).to_string();
    state.scenario(&number).circle.unwrap_or(fallback)
}

/// The number's type: scripted, else `Landline` for a metro STD code,
/// `TollFree` for 1800, `Mobile` for 6–9 after the 0 and `Landline`
/// otherwise (mobile series and STD codes overlap; this is a heuristic).
pub fn number_type(state: &SimState, number: &str) -> String {
    let number = national(number);
    let derived = match number.chars().nth(1) {
        _ if STD_CODES.iter().any(|(std, _)| number.starts_with(std)) => "Landline",
        _ if number.starts_with("1800") => "TollFree",
        Some('6'..='9') => "Mobile",
        _ => "Landline",
    };
    state.scenario(&number).number_type.unwrap_or(derived.to_string())
}

fn name(table: &[(&str, &str)], code: &str) -> String {
    let found = table.iter().find(|(k, _)| *k == code);
    found.map(|(_, name)| name.to_string()).unwrap_or_default()
}

fn metadata(state: &SimState, number: &str) -> Value {
    let scenario = state.scenario(number);
    let circle = circle(state, number);
    let operator = scenario.operator.unwrap_or_else(|| "A".into());
    json!({
        "PhoneNumber": national(number), "Circle": circle, "CircleName": name(&CIRCLES, &circle),
        "Type": number_type(state, number), "Operator": operator, "OperatorName": name(&OPERATORS, &operator),
        "DND": if scenario.dnd { "Yes" } else { "No" },
    })
}

/// `GET /v1/Accounts/{sid}/Numbers/{number}[.json]`.
pub async fn lookup(
    State(state): State<Arc<SimState>>,
    Path((sid, number)): Path<(String, String)>,
    request: Received,
) -> Answer {
    let describe = |number: &str| metadata(&state, number);
    super::about_number(&state, &sid, &number, &request, "Numbers", describe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_landline_takes_its_circle_from_its_std_code_and_a_mobile_is_a_mobile() {
        let state = SimState::with_sandbox();
        assert_eq!(circle(&state, "+911123456789"), "DL");
        assert_eq!(circle(&state, "09876543210"), "KA");
        assert_eq!(number_type(&state, "09876543210"), "Mobile");
        assert_eq!(number_type(&state, "08047112233"), "Landline");
    }

    #[test]
    fn unknown_circles_operators_and_types_are_refused_in_scenarios() {
        let valid = Scenario {
            circle: Some("GJ".into()),
            operator: Some("R".into()),
            number_type: Some("Mobile".into()),
            ..Scenario::default()
        };
        assert!(valid_scenario(&valid));
        assert!(!valid_scenario(&Scenario {
            circle: Some("XX".into()),
            ..Scenario::default()
        }));
        assert!(!valid_scenario(&Scenario {
            operator: Some("Z".into()),
            ..Scenario::default()
        }));
        assert!(!valid_scenario(&Scenario {
            number_type: Some("mobile".into()),
            ..Scenario::default()
        }));
    }
}
