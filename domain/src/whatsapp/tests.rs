use super::*;

fn text(body: &str) -> WhatsappContent {
    WhatsappContent::Text {
        body: body.into(),
        preview_url: false,
    }
}

fn media(kind: MediaKind, caption: Option<&str>, filename: Option<&str>) -> WhatsappContent {
    WhatsappContent::Media(Media {
        kind,
        url: "https://cdn.example.com/menu.pdf".into(),
        caption: caption.map(Into::into),
        filename: filename.map(Into::into),
    })
}

fn place(latitude: f64, longitude: f64, name: Option<String>) -> WhatsappContent {
    WhatsappContent::Location(Location {
        latitude,
        longitude,
        name,
        address: None,
    })
}

fn button(id: &str, title: &str) -> ReplyButton {
    ReplyButton {
        id: id.into(),
        title: title.into(),
    }
}

fn buttons(buttons: Vec<ReplyButton>) -> WhatsappContent {
    WhatsappContent::Interactive(Interactive::Buttons {
        body: "Confirm your order?".into(),
        header: None,
        footer: None,
        buttons,
    })
}

fn row(id: &str, title: &str, description: Option<&str>) -> ListRow {
    ListRow {
        id: id.into(),
        title: title.into(),
        description: description.map(Into::into),
    }
}

fn list(sections: Vec<ListSection>) -> WhatsappContent {
    WhatsappContent::Interactive(Interactive::List {
        body: "Pick a slot".into(),
        header: None,
        footer: None,
        button: "Slots".into(),
        sections,
    })
}

fn section(rows: Vec<ListRow>) -> ListSection {
    ListSection { title: None, rows }
}

fn rows(count: usize) -> Vec<ListRow> {
    (0..count).map(|i| row(&format!("r{i}"), "Row", None)).collect()
}

#[test]
fn text_of_4096_characters_emoji_included_is_taken_and_one_more_is_refused() {
    let emoji = "🙂".repeat(MAX_TEXT_CHARS);
    assert_eq!(text(&emoji).check(), Ok(()));
    assert_eq!(text(&format!("{emoji}a")).check(), Err(WhatsappRule::Text));
    assert_eq!(text("").check(), Err(WhatsappRule::Text));
    assert_eq!(text("  \n").check(), Err(WhatsappRule::Text));
    assert_eq!(WhatsappRule::Text.field(), "content.body");
}

#[test]
fn media_needs_a_web_url_and_a_caption_only_where_whatsapp_shows_one() {
    assert_eq!(media(MediaKind::Image, Some("Menu"), None).check(), Ok(()));
    assert_eq!(
        media(MediaKind::Document, Some("Menu"), Some("menu.pdf")).check(),
        Ok(())
    );
    assert_eq!(media(MediaKind::Video, Some("Menu"), None).check(), Ok(()));
    assert_eq!(
        media(MediaKind::Audio, Some("Menu"), None).check(),
        Err(WhatsappRule::Caption)
    );
    assert_eq!(
        media(MediaKind::Sticker, Some("x"), None).check(),
        Err(WhatsappRule::Caption)
    );
    assert_eq!(media(MediaKind::Audio, None, None).check(), Ok(()));
    let longest = "c".repeat(MAX_CAPTION_CHARS);
    assert_eq!(media(MediaKind::Image, Some(&longest), None).check(), Ok(()));
    let longer = format!("{longest}c");
    assert_eq!(
        media(MediaKind::Image, Some(&longer), None).check(),
        Err(WhatsappRule::Caption)
    );
    assert_eq!(
        media(MediaKind::Image, Some(""), None).check(),
        Err(WhatsappRule::Caption)
    );
    assert_eq!(
        media(MediaKind::Image, None, Some("a.jpg")).check(),
        Err(WhatsappRule::Filename)
    );
    let name = "n".repeat(240);
    assert_eq!(media(MediaKind::Document, None, Some(&name)).check(), Ok(()));
    let longer_name = "n".repeat(241);
    assert_eq!(
        media(MediaKind::Document, None, Some(&longer_name)).check(),
        Err(WhatsappRule::Filename)
    );
    for url in ["ftp://cdn.example.com/a.jpg", "cdn.example.com/a.jpg", "https://"] {
        let content = WhatsappContent::Media(Media {
            kind: MediaKind::Image,
            url: url.into(),
            caption: None,
            filename: None,
        });
        assert_eq!(content.check(), Err(WhatsappRule::MediaUrl), "{url}");
    }
    let long_url = format!("https://cdn.example.com/{}", "a".repeat(MAX_URL_CHARS));
    let content = WhatsappContent::Media(Media {
        kind: MediaKind::Image,
        url: long_url,
        caption: None,
        filename: None,
    });
    assert_eq!(content.check(), Err(WhatsappRule::MediaUrl));
    assert!(MediaKind::Document.takes_caption() && !MediaKind::Sticker.takes_caption());
}

#[test]
fn a_location_is_on_the_globe_and_its_names_are_bounded() {
    assert_eq!(place(12.9716, 77.5946, None).check(), Ok(()));
    assert_eq!(place(90.0, 180.0, None).check(), Ok(()));
    assert_eq!(place(-90.0, -180.0, None).check(), Ok(()));
    assert_eq!(place(90.01, 0.0, None).check(), Err(WhatsappRule::Latitude));
    assert_eq!(place(-90.01, 0.0, None).check(), Err(WhatsappRule::Latitude));
    assert_eq!(place(f64::NAN, 0.0, None).check(), Err(WhatsappRule::Latitude));
    assert_eq!(place(0.0, 180.5, None).check(), Err(WhatsappRule::Longitude));
    assert_eq!(place(0.0, -180.5, None).check(), Err(WhatsappRule::Longitude));
    let name = Some("n".repeat(MAX_PLACE_CHARS));
    assert_eq!(place(0.0, 0.0, name).check(), Ok(()));
    let longer = Some("n".repeat(MAX_PLACE_CHARS + 1));
    assert_eq!(place(0.0, 0.0, longer).check(), Err(WhatsappRule::Place));
    let address = WhatsappContent::Location(Location {
        latitude: 0.0,
        longitude: 0.0,
        name: None,
        address: Some(String::new()),
    });
    assert_eq!(address.check(), Err(WhatsappRule::Place));
}

#[test]
fn three_reply_buttons_are_taken_and_four_are_refused() {
    let three = vec![button("y", "Yes"), button("n", "No"), button("l", "Later")];
    assert_eq!(buttons(three.clone()).check(), Ok(()));
    let mut four = three;
    four.push(button("x", "Cancel"));
    assert_eq!(buttons(four).check(), Err(WhatsappRule::ButtonCount));
    assert_eq!(buttons(vec![]).check(), Err(WhatsappRule::ButtonCount));
}

#[test]
fn a_button_title_of_twenty_characters_is_taken_and_twenty_one_is_refused() {
    let twenty = "t".repeat(MAX_BUTTON_TITLE_CHARS);
    assert_eq!(buttons(vec![button("a", &twenty)]).check(), Ok(()));
    let longer = format!("{twenty}t");
    assert_eq!(
        buttons(vec![button("a", &longer)]).check(),
        Err(WhatsappRule::ButtonTitle)
    );
    assert_eq!(buttons(vec![button("a", "")]).check(), Err(WhatsappRule::ButtonTitle));
}

#[test]
fn button_ids_are_unique_and_bounded() {
    let twice = vec![button("same", "Yes"), button("same", "No")];
    assert_eq!(buttons(twice).check(), Err(WhatsappRule::Id));
    assert_eq!(buttons(vec![button("", "Yes")]).check(), Err(WhatsappRule::Id));
    let longest = "i".repeat(MAX_ID_CHARS);
    assert_eq!(buttons(vec![button(&longest, "Yes")]).check(), Ok(()));
    let longer = "i".repeat(MAX_ID_CHARS + 1);
    assert_eq!(buttons(vec![button(&longer, "Yes")]).check(), Err(WhatsappRule::Id));
}

#[test]
fn an_interactive_body_header_and_footer_are_bounded() {
    let framed = |body: &str, header: Option<String>, footer: Option<String>| {
        WhatsappContent::Interactive(Interactive::Buttons {
            body: body.into(),
            header,
            footer,
            buttons: vec![button("y", "Yes")],
        })
    };
    let longest = "b".repeat(MAX_INTERACTIVE_BODY_CHARS);
    assert_eq!(framed(&longest, None, None).check(), Ok(()));
    let longer = format!("{longest}b");
    assert_eq!(framed(&longer, None, None).check(), Err(WhatsappRule::InteractiveBody));
    assert_eq!(framed(" ", None, None).check(), Err(WhatsappRule::InteractiveBody));
    let header = "h".repeat(MAX_HEADER_CHARS);
    assert_eq!(framed("x", Some(header.clone()), Some(header.clone())).check(), Ok(()));
    let over = format!("{header}h");
    assert_eq!(
        framed("x", Some(over.clone()), None).check(),
        Err(WhatsappRule::HeaderOrFooter)
    );
    assert_eq!(framed("x", None, Some(over)).check(), Err(WhatsappRule::HeaderOrFooter));
}

#[test]
fn ten_list_rows_in_all_are_taken_and_eleven_are_refused() {
    assert_eq!(list(vec![section(rows(10))]).check(), Ok(()));
    assert_eq!(list(vec![section(rows(11))]).check(), Err(WhatsappRule::ListSize));
    let split = vec![
        section(vec![row("a", "A", None), row("b", "B", None)]),
        section((0..9).map(|i| row(&format!("c{i}"), "C", None)).collect()),
    ];
    assert_eq!(list(split).check(), Err(WhatsappRule::ListSize));
    assert_eq!(list(vec![]).check(), Err(WhatsappRule::ListSize));
    assert_eq!(
        list(vec![section(rows(1)), section(vec![])]).check(),
        Err(WhatsappRule::ListSize)
    );
}

#[test]
fn ten_sections_are_the_most_a_list_has() {
    let ten: Vec<ListSection> = (0..10)
        .map(|i| section(vec![row(&format!("r{i}"), "R", None)]))
        .collect();
    assert_eq!(list(ten).check(), Ok(()));
}

#[test]
fn row_titles_descriptions_and_ids_are_bounded() {
    let title = "t".repeat(MAX_ROW_TITLE_CHARS);
    assert_eq!(list(vec![section(vec![row("a", &title, None)])]).check(), Ok(()));
    let longer = format!("{title}t");
    assert_eq!(
        list(vec![section(vec![row("a", &longer, None)])]).check(),
        Err(WhatsappRule::RowTitle)
    );
    let description = "d".repeat(MAX_ROW_DESCRIPTION_CHARS);
    assert_eq!(
        list(vec![section(vec![row("a", "A", Some(&description))])]).check(),
        Ok(())
    );
    let longer = format!("{description}d");
    assert_eq!(
        list(vec![section(vec![row("a", "A", Some(&longer))])]).check(),
        Err(WhatsappRule::RowDescription)
    );
    let titled = ListSection {
        title: Some("s".repeat(MAX_ROW_TITLE_CHARS + 1)),
        rows: rows(1),
    };
    assert_eq!(list(vec![titled]).check(), Err(WhatsappRule::RowTitle));
    let twice = vec![section(vec![row("a", "A", None)]), section(vec![row("a", "B", None)])];
    assert_eq!(list(twice).check(), Err(WhatsappRule::Id));
    let labelled = |label: &str| {
        WhatsappContent::Interactive(Interactive::List {
            body: "Pick".into(),
            header: None,
            footer: None,
            button: label.into(),
            sections: vec![section(rows(1))],
        })
    };
    assert_eq!(labelled(&"l".repeat(21)).check(), Err(WhatsappRule::ButtonTitle));
    assert_eq!(labelled("").check(), Err(WhatsappRule::ButtonTitle));
}

#[test]
fn every_rule_names_the_field_a_caller_sent() {
    assert_eq!(WhatsappRule::Latitude.field(), "content.latitude");
    assert_eq!(WhatsappRule::ButtonCount.field(), "content.buttons");
    assert_eq!(WhatsappRule::ListSize.field(), "content.sections");
    assert_eq!(WhatsappRule::MediaUrl.field(), "content.url");
}

#[test]
fn media_files_are_checked_against_whatsapps_types_and_sizes() {
    const MB: u64 = 1024 * 1024;
    assert_eq!(MediaKind::Image.check_file(Some("image/jpeg"), Some(5 * MB)), Ok(()));
    assert_eq!(
        MediaKind::Image.check_file(Some("IMAGE/PNG; charset=binary"), Some(1)),
        Ok(())
    );
    assert_eq!(
        MediaKind::Image.check_file(Some("image/jpeg"), Some(5 * MB + 1)),
        Err(WhatsappRule::MediaSize)
    );
    assert_eq!(
        MediaKind::Image.check_file(Some("image/gif"), Some(1)),
        Err(WhatsappRule::MediaType)
    );
    assert_eq!(MediaKind::Image.check_file(None, Some(1)), Err(WhatsappRule::MediaType));
    assert_eq!(
        MediaKind::Image.check_file(Some("image/png"), None),
        Err(WhatsappRule::MediaSize)
    );
    assert_eq!(
        MediaKind::Document.check_file(Some("application/pdf"), Some(100 * MB)),
        Ok(())
    );
    assert_eq!(
        MediaKind::Document.check_file(Some("application/pdf"), Some(100 * MB + 1)),
        Err(WhatsappRule::MediaSize)
    );
    let xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    assert_eq!(MediaKind::Document.check_file(Some(xlsx), Some(1)), Ok(()));
    assert_eq!(
        MediaKind::Document.check_file(Some("text/html"), Some(1)),
        Err(WhatsappRule::MediaType)
    );
    assert_eq!(MediaKind::Audio.check_file(Some("audio/ogg"), Some(16 * MB)), Ok(()));
    assert_eq!(
        MediaKind::Audio.check_file(Some("audio/amr"), Some(16 * MB + 1)),
        Err(WhatsappRule::MediaSize)
    );
    assert_eq!(
        MediaKind::Audio.check_file(Some("video/mp4"), Some(1)),
        Err(WhatsappRule::MediaType)
    );
    assert_eq!(MediaKind::Video.check_file(Some("video/3gpp"), Some(16 * MB)), Ok(()));
    assert_eq!(
        MediaKind::Video.check_file(Some("video/mp4"), Some(16 * MB + 1)),
        Err(WhatsappRule::MediaSize)
    );
    assert_eq!(
        MediaKind::Sticker.check_file(Some("image/webp"), Some(500 * 1024)),
        Ok(())
    );
    assert_eq!(
        MediaKind::Sticker.check_file(Some("image/webp"), Some(500 * 1024 + 1)),
        Err(WhatsappRule::MediaSize)
    );
    assert_eq!(
        MediaKind::Sticker.check_file(Some("image/png"), Some(1)),
        Err(WhatsappRule::MediaType)
    );
    assert_eq!(WhatsappRule::MediaSize.field(), "content.url");
}
