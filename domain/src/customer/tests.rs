use super::*;
use cqrs_es::test::TestFramework;

const ORG: Uuid = Uuid::from_u128(1);

fn asha() -> EmailAddress {
    EmailAddress::parse("Asha@Example.in").unwrap()
}

fn create(name: Option<&str>) -> CustomerCommand {
    CustomerCommand::Create {
        customer_id: customer_id(ORG, &asha()),
        organisation_id: ORG,
        email: asha(),
        name: name.map(str::to_string),
        at: DateTime::<Utc>::UNIX_EPOCH,
    }
}

fn created(name: Option<&str>) -> CustomerEvent {
    CustomerEvent::CustomerCreated {
        customer_id: customer_id(ORG, &asha()),
        organisation_id: ORG,
        email: asha(),
        name: name.map(str::to_string),
        at: DateTime::<Utc>::UNIX_EPOCH,
    }
}

#[test]
fn the_same_address_in_the_same_organisation_is_the_same_customer() {
    let again = EmailAddress::parse(" asha@example.IN ").unwrap();
    assert_eq!(customer_id(ORG, &asha()), customer_id(ORG, &again));
    assert_ne!(customer_id(ORG, &asha()), customer_id(Uuid::from_u128(2), &asha()));
}

#[test]
fn a_new_address_creates_a_customer_with_a_cleaned_name() {
    TestFramework::<Customer>::with(())
        .given_no_previous_events()
        .when(create(Some("  Asha\u{7} Rao ")))
        .then_expect_events(vec![created(Some("Asha Rao"))]);
}

#[test]
fn a_known_address_is_not_created_twice() {
    TestFramework::<Customer>::with(())
        .given(vec![created(None)])
        .when(create(None))
        .then_expect_error(CustomerError::AlreadyExists);
}

#[test]
fn an_id_not_derived_from_the_address_is_refused() {
    let CustomerCommand::Create {
        organisation_id,
        email,
        name,
        at,
        ..
    } = create(None)
    else {
        unreachable!("create() builds a Create");
    };
    let command = CustomerCommand::Create {
        customer_id: Uuid::from_u128(9),
        organisation_id,
        email,
        name,
        at,
    };
    TestFramework::<Customer>::with(())
        .given_no_previous_events()
        .when(command)
        .then_expect_error(CustomerError::IdNotDerivedFromAddress);
}

#[test]
fn event_type_names_are_pinned() {
    assert_eq!(created(None).event_type(), "CustomerCreated");
    assert_eq!(created(None).event_version(), "1.0");
}

#[test]
fn a_name_is_trimmed_cut_to_its_limit_and_dropped_when_blank() {
    assert_eq!(clean_name(None), None);
    assert_eq!(clean_name(Some(" \u{7} ".into())), None);
    let long = clean_name(Some("n".repeat(MAX_NAME_CHARS + 1))).unwrap();
    assert_eq!(long.len(), MAX_NAME_CHARS);
}

#[test]
fn the_customer_remembers_who_they_are_and_since_when() {
    let mut customer = Customer::default();
    customer.apply(created(Some("Asha")));
    assert_eq!(customer.id, Some(customer_id(ORG, &asha())));
    assert_eq!(customer.organisation_id, Some(ORG));
    assert_eq!(customer.email, Some(asha()));
    assert_eq!(customer.name.as_deref(), Some("Asha"));
    assert_eq!(customer.created_at, Some(DateTime::<Utc>::UNIX_EPOCH));
}

const ASHA_PHONE: &str = "+919812300061";

fn for_phone(id: Uuid) -> CustomerCommand {
    CustomerCommand::CreateForPhone {
        customer_id: id,
        organisation_id: ORG,
        phone: ASHA_PHONE.into(),
        name: Some(" Asha ".into()),
        at: DateTime::<Utc>::UNIX_EPOCH,
    }
}

fn created_for_phone() -> CustomerEvent {
    CustomerEvent::CustomerCreatedForPhone {
        customer_id: phone_customer_id(ORG, ASHA_PHONE),
        organisation_id: ORG,
        phone: ASHA_PHONE.into(),
        name: Some("Asha".into()),
        at: DateTime::<Utc>::UNIX_EPOCH,
    }
}

#[test]
fn a_number_is_its_own_customer_apart_from_any_address() {
    let id = phone_customer_id(ORG, ASHA_PHONE);
    assert_eq!(id, phone_customer_id(ORG, ASHA_PHONE));
    assert_ne!(id, phone_customer_id(Uuid::from_u128(2), ASHA_PHONE));
    assert_ne!(id, phone_customer_id(ORG, "+919812300062"));
    let address = EmailAddress::parse("tel:+919812300061@x.in").unwrap();
    assert_ne!(id, customer_id(ORG, &address));
}

#[test]
fn a_new_number_creates_a_customer_once_with_its_derived_id() {
    let id = phone_customer_id(ORG, ASHA_PHONE);
    TestFramework::<Customer>::with(())
        .given_no_previous_events()
        .when(for_phone(id))
        .then_expect_events(vec![created_for_phone()]);
    TestFramework::<Customer>::with(())
        .given(vec![created_for_phone()])
        .when(for_phone(id))
        .then_expect_error(CustomerError::AlreadyExists);
    TestFramework::<Customer>::with(())
        .given_no_previous_events()
        .when(for_phone(Uuid::from_u128(9)))
        .then_expect_error(CustomerError::IdNotDerivedFromAddress);
    let mut customer = Customer::default();
    customer.apply(created_for_phone());
    assert_eq!(customer.id, Some(id));
    assert_eq!(customer.phone.as_deref(), Some(ASHA_PHONE));
    assert_eq!(customer.email, None);
    assert_eq!(customer.name.as_deref(), Some("Asha"));
    assert_eq!(customer.organisation_id, Some(ORG));
    assert_eq!(created_for_phone().event_type(), "CustomerCreatedForPhone");
}

const RAVI: Uuid = Uuid::from_u128(7);
const MEENA: Uuid = Uuid::from_u128(8);

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap()
}

fn asha_id() -> Uuid {
    customer_id(ORG, &asha())
}

fn update(name: Option<&str>, notes: Option<&str>) -> CustomerCommand {
    CustomerCommand::Update {
        name: name.map(str::to_string),
        notes: notes.map(str::to_string),
        at: at(10),
    }
}

fn updated(name: Option<&str>, notes: Option<&str>) -> CustomerEvent {
    CustomerEvent::CustomerUpdated {
        name: name.map(str::to_string),
        notes: notes.map(str::to_string),
        at: at(10),
    }
}

fn merged(into: Uuid) -> CustomerEvent {
    CustomerEvent::CustomerMerged { into, at: at(20) }
}

fn ravi_points() -> Vec<ContactPoint> {
    vec![ContactPoint::Phone("+919812300062".into())]
}

fn absorb(source: Uuid) -> CustomerCommand {
    CustomerCommand::Absorb {
        source,
        points: ravi_points(),
        at: at(20),
    }
}

fn absorbed(source: Uuid) -> CustomerEvent {
    CustomerEvent::CustomerAbsorbed {
        source,
        points: ravi_points(),
        at: at(20),
    }
}

fn after(events: Vec<CustomerEvent>) -> Customer {
    let mut customer = Customer::default();
    events.into_iter().for_each(|e| customer.apply(e));
    customer
}

#[test]
fn a_contact_point_is_stored_as_its_kind_and_value() {
    let phone = ContactPoint::Phone(ASHA_PHONE.into());
    let email = ContactPoint::Email(EmailAddress::parse("a@b.in").unwrap());
    let stored = [&phone, &email].map(|p| serde_json::to_value(p).unwrap());
    let expected = [
        serde_json::json!({"kind": "phone", "value": "+919812300061"}),
        serde_json::json!({"kind": "email", "value": "a@b.in"}),
    ];
    assert_eq!(stored, expected);
    let loaded: Vec<ContactPoint> = serde_json::from_value(serde_json::json!(expected)).unwrap();
    assert_eq!(loaded, vec![phone, email]);
}

#[test]
fn a_contact_point_names_the_customer_it_was_first_seen_as() {
    assert_eq!(ContactPoint::Email(asha()).customer_id(ORG), customer_id(ORG, &asha()));
    let phone = ContactPoint::Phone(ASHA_PHONE.into());
    assert_eq!(phone.customer_id(ORG), phone_customer_id(ORG, ASHA_PHONE));
}

#[test]
fn every_command_but_creation_needs_an_existing_customer() {
    let commands = [
        update(Some("Asha"), None),
        CustomerCommand::MergeInto { into: RAVI, at: at(20) },
        absorb(RAVI),
        CustomerCommand::Unmerge { at: at(30) },
        CustomerCommand::Release {
            source: RAVI,
            at: at(40),
        },
    ];
    for command in commands {
        TestFramework::<Customer>::with(())
            .given_no_previous_events()
            .when(command)
            .then_expect_error(CustomerError::Unknown);
    }
}

#[test]
fn an_update_records_the_cleaned_name_and_notes() {
    TestFramework::<Customer>::with(())
        .given(vec![created(None)])
        .when(update(
            Some("  Asha\u{7} Rao "),
            Some(" Prefers calls\r\n\tafter 6\u{1b} "),
        ))
        .then_expect_events(vec![updated(Some("Asha Rao"), Some("Prefers calls\n\tafter 6"))]);
}

#[test]
fn an_update_to_the_current_values_records_nothing() {
    TestFramework::<Customer>::with(())
        .given(vec![created(Some("Asha")), updated(Some("Asha"), Some("VIP"))])
        .when(update(Some(" Asha "), Some("VIP\u{7}")))
        .then_expect_events(vec![]);
}

#[test]
fn an_update_of_the_notes_alone_is_recorded() {
    TestFramework::<Customer>::with(())
        .given(vec![created(Some("Asha"))])
        .when(update(Some("Asha"), Some("VIP")))
        .then_expect_events(vec![updated(Some("Asha"), Some("VIP"))]);
}

#[test]
fn an_update_of_the_name_alone_is_recorded() {
    TestFramework::<Customer>::with(())
        .given(vec![created(Some("Asha")), updated(Some("Asha"), Some("VIP"))])
        .when(update(Some("Asha Rao"), Some("VIP")))
        .then_expect_events(vec![updated(Some("Asha Rao"), Some("VIP"))]);
}

#[test]
fn blank_values_clear_the_name_and_notes() {
    TestFramework::<Customer>::with(())
        .given(vec![created(Some("Asha")), updated(Some("Asha"), Some("VIP"))])
        .when(update(Some("  "), Some(" \n\t ")))
        .then_expect_events(vec![updated(None, None)]);
}

#[test]
fn a_merged_customer_is_updated_where_it_was_merged() {
    TestFramework::<Customer>::with(())
        .given(vec![created(None), merged(RAVI)])
        .when(update(Some("Asha"), None))
        .then_expect_error(CustomerError::Merged { into: RAVI });
}

#[test]
fn notes_keep_line_breaks_and_tabs_and_are_cut_to_their_limit() {
    assert_eq!(clean_notes(None), None);
    assert_eq!(clean_notes(Some(" \u{7}\n\t ".into())), None);
    assert_eq!(clean_notes(Some("a\u{0}b\r\nc\td".into())).as_deref(), Some("ab\nc\td"));
    let exact = "é".repeat(MAX_NOTES_CHARS);
    assert_eq!(clean_notes(Some(exact.clone())), Some(exact.clone()));
    let long = clean_notes(Some(format!("  {exact}x"))).unwrap();
    assert_eq!(long, exact);
}

#[test]
fn a_customer_is_merged_into_another() {
    TestFramework::<Customer>::with(())
        .given(vec![created(None)])
        .when(CustomerCommand::MergeInto { into: RAVI, at: at(20) })
        .then_expect_events(vec![merged(RAVI)]);
}

#[test]
fn a_customer_cannot_be_merged_into_itself() {
    TestFramework::<Customer>::with(())
        .given(vec![created(None)])
        .when(CustomerCommand::MergeInto {
            into: asha_id(),
            at: at(20),
        })
        .then_expect_error(CustomerError::MergeIntoItself);
}

#[test]
fn merging_again_into_the_same_customer_records_nothing() {
    TestFramework::<Customer>::with(())
        .given(vec![created(None), merged(RAVI)])
        .when(CustomerCommand::MergeInto { into: RAVI, at: at(21) })
        .then_expect_events(vec![]);
}

#[test]
fn a_customer_merged_into_one_cannot_be_merged_into_another() {
    TestFramework::<Customer>::with(())
        .given(vec![created(None), merged(RAVI)])
        .when(CustomerCommand::MergeInto {
            into: MEENA,
            at: at(21),
        })
        .then_expect_error(CustomerError::AlreadyMerged { into: RAVI });
}

#[test]
fn an_unmerged_customer_can_be_merged_into_another() {
    let unmerged = CustomerEvent::CustomerUnmerged { from: RAVI, at: at(30) };
    TestFramework::<Customer>::with(())
        .given(vec![created(None), merged(RAVI), unmerged])
        .when(CustomerCommand::MergeInto {
            into: MEENA,
            at: at(20),
        })
        .then_expect_events(vec![merged(MEENA)]);
}

#[test]
fn a_customer_absorbs_another_with_its_contact_points() {
    TestFramework::<Customer>::with(())
        .given(vec![created(None)])
        .when(absorb(RAVI))
        .then_expect_events(vec![absorbed(RAVI)]);
}

#[test]
fn a_customer_cannot_absorb_itself() {
    TestFramework::<Customer>::with(())
        .given(vec![created(None)])
        .when(absorb(asha_id()))
        .then_expect_error(CustomerError::MergeIntoItself);
}

#[test]
fn absorbing_the_same_customer_again_records_nothing() {
    TestFramework::<Customer>::with(())
        .given(vec![created(None), absorbed(RAVI)])
        .when(absorb(RAVI))
        .then_expect_events(vec![]);
}

#[test]
fn a_merged_customer_cannot_absorb_another() {
    TestFramework::<Customer>::with(())
        .given(vec![created(None), merged(RAVI)])
        .when(absorb(MEENA))
        .then_expect_error(CustomerError::Merged { into: RAVI });
}

#[test]
fn an_unmerged_customer_records_where_it_was_merged() {
    TestFramework::<Customer>::with(())
        .given(vec![created(None), merged(RAVI)])
        .when(CustomerCommand::Unmerge { at: at(30) })
        .then_expect_events(vec![CustomerEvent::CustomerUnmerged { from: RAVI, at: at(30) }]);
}

#[test]
fn a_customer_on_its_own_cannot_be_unmerged() {
    TestFramework::<Customer>::with(())
        .given(vec![created(None)])
        .when(CustomerCommand::Unmerge { at: at(30) })
        .then_expect_error(CustomerError::NotMerged);
}

#[test]
fn an_absorbed_customer_is_released() {
    TestFramework::<Customer>::with(())
        .given(vec![created(None), absorbed(RAVI)])
        .when(CustomerCommand::Release {
            source: RAVI,
            at: at(40),
        })
        .then_expect_events(vec![CustomerEvent::CustomerReleased {
            source: RAVI,
            at: at(40),
        }]);
}

#[test]
fn releasing_a_customer_never_absorbed_records_nothing() {
    TestFramework::<Customer>::with(())
        .given(vec![created(None), absorbed(MEENA)])
        .when(CustomerCommand::Release {
            source: RAVI,
            at: at(40),
        })
        .then_expect_events(vec![]);
}

#[test]
fn a_customer_lists_its_own_contact_point_first_then_those_it_absorbed() {
    let meena_points = vec![
        ContactPoint::Email(EmailAddress::parse("meena@example.in").unwrap()),
        ContactPoint::Phone("+919812300063".into()),
    ];
    let meena = CustomerEvent::CustomerAbsorbed {
        source: MEENA,
        points: meena_points.clone(),
        at: at(21),
    };
    let customer = after(vec![created_for_phone(), meena, absorbed(RAVI)]);
    let own = ContactPoint::Phone(ASHA_PHONE.into());
    assert_eq!(customer.contact_point(), Some(own.clone()));
    let expected: Vec<_> = [vec![own], ravi_points(), meena_points].concat();
    assert_eq!(customer.contact_points(), expected);
    assert_eq!(
        after(vec![created(None)]).contact_point(),
        Some(ContactPoint::Email(asha()))
    );
    assert_eq!(Customer::default().contact_points(), vec![]);
}

#[test]
fn the_customer_remembers_its_notes_its_merges_and_what_it_absorbed() {
    let customer = after(vec![
        created(Some("Asha")),
        updated(Some("Asha Rao"), Some("VIP")),
        absorbed(RAVI),
        absorbed(MEENA),
        CustomerEvent::CustomerReleased {
            source: MEENA,
            at: at(40),
        },
        merged(Uuid::from_u128(9)),
    ]);
    let expected = Customer {
        id: Some(asha_id()),
        organisation_id: Some(ORG),
        email: Some(asha()),
        phone: None,
        name: Some("Asha Rao".into()),
        created_at: Some(DateTime::<Utc>::UNIX_EPOCH),
        notes: Some("VIP".into()),
        merged_into: Some(Uuid::from_u128(9)),
        absorbed: BTreeMap::from([(RAVI, ravi_points())]),
        updated_at: Some(at(10)),
    };
    assert_eq!(customer, expected);
    assert!(customer.is_merged());
    let mut unmerged = customer;
    unmerged.apply(CustomerEvent::CustomerUnmerged {
        from: Uuid::from_u128(9),
        at: at(50),
    });
    assert_eq!(unmerged.merged_into, None);
    assert!(!unmerged.is_merged());
}

#[test]
fn a_customer_stored_before_notes_and_merges_still_loads() {
    let stored = serde_json::json!({
        "id": ORG, "organisation_id": ORG, "email": "ravi@example.com", "name": null, "created_at": "2024-01-01T00:00:00Z",
    });
    let customer: Customer = serde_json::from_value(stored).unwrap();
    assert_eq!(
        (customer.notes, customer.merged_into, customer.updated_at),
        (None, None, None)
    );
    assert!(customer.absorbed.is_empty());
}

#[test]
fn new_event_type_names_are_pinned() {
    let events = [
        updated(None, None),
        merged(RAVI),
        absorbed(RAVI),
        CustomerEvent::CustomerUnmerged { from: RAVI, at: at(30) },
        CustomerEvent::CustomerReleased {
            source: RAVI,
            at: at(40),
        },
    ];
    let types = events.each_ref().map(DomainEvent::event_type);
    let expected = [
        "CustomerUpdated",
        "CustomerMerged",
        "CustomerAbsorbed",
        "CustomerUnmerged",
        "CustomerReleased",
    ];
    assert_eq!(types, expected);
    assert!(events.iter().all(|e| e.event_version() == "1.0"));
}
