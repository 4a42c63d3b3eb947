//! What a WhatsApp message may carry and WhatsApp's limits on it: text,
//! media by URL, a location, reply buttons and lists. Each limit is one
//! rule, checked before anything is sent.

use serde::{Deserialize, Serialize};

/// Longest text, in characters (Unicode scalar values).
pub const MAX_TEXT_CHARS: usize = 4_096;
/// Longest media caption.
pub const MAX_CAPTION_CHARS: usize = 1_024;
/// Longest body of an interactive message.
pub const MAX_INTERACTIVE_BODY_CHARS: usize = 1_024;
/// Longest header or footer of an interactive message.
pub const MAX_HEADER_CHARS: usize = 60;
/// Most reply buttons.
pub const MAX_BUTTONS: usize = 3;
/// Longest reply button title, and list button label.
pub const MAX_BUTTON_TITLE_CHARS: usize = 20;
/// Most rows of a list, over all its sections; most sections.
pub const MAX_LIST_ROWS: usize = 10;
pub const MAX_LIST_SECTIONS: usize = 10;
/// Longest row (and section) title; longest row description.
pub const MAX_ROW_TITLE_CHARS: usize = 24;
pub const MAX_ROW_DESCRIPTION_CHARS: usize = 72;
/// Longest button or row id.
pub const MAX_ID_CHARS: usize = 256;
/// Longest location name or address.
pub const MAX_PLACE_CHARS: usize = 1_000;
/// Longest media URL.
pub const MAX_URL_CHARS: usize = 2_048;

/// Media WhatsApp sends by link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Document,
    Audio,
    Video,
    Sticker,
}

impl MediaKind {
    /// Whether WhatsApp shows a caption with it.
    pub fn takes_caption(self) -> bool {
        matches!(self, Self::Image | Self::Document | Self::Video)
    }

    /// The media types WhatsApp takes for it: JPEG and PNG images; PDF,
    /// Word, Excel and PowerPoint documents; MP3, WAV, OGG and AMR audio;
    /// MP4 and 3GPP video; WebP stickers.
    pub fn accepts(self, content_type: &str) -> bool {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let types: &[&str] = match self {
            Self::Image => &["image/jpeg", "image/png"],
            Self::Document => &[
                "application/pdf",
                "application/msword",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/vnd.ms-excel",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "application/vnd.ms-powerpoint",
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            ],
            Self::Audio => &[
                "audio/mpeg",
                "audio/mp3",
                "audio/wav",
                "audio/x-wav",
                "audio/wave",
                "audio/ogg",
                "audio/amr",
            ],
            Self::Video => &["video/mp4", "video/3gpp"],
            Self::Sticker => &["image/webp"],
        };
        types.contains(&essence.as_str())
    }

    /// The largest file WhatsApp takes for it, in bytes.
    pub fn max_bytes(self) -> u64 {
        const MB: u64 = 1024 * 1024;
        match self {
            Self::Image => 5 * MB,
            Self::Document => 100 * MB,
            Self::Audio | Self::Video => 16 * MB,
            Self::Sticker => 500 * 1024,
        }
    }

    /// Whether a file of this type and length may be sent as this kind.
    pub fn check_file(self, content_type: Option<&str>, length: Option<u64>) -> Result<(), WhatsappRule> {
        rule(content_type.is_some_and(|t| self.accepts(t)), WhatsappRule::MediaType)?;
        rule(length.is_some_and(|l| l <= self.max_bytes()), WhatsappRule::MediaSize)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Media {
    pub kind: MediaKind,
    pub url: String,
    pub caption: Option<String>,
    /// A document's file name, as the recipient sees it.
    pub filename: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    pub name: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyButton {
    pub id: String,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListRow {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListSection {
    pub title: Option<String>,
    pub rows: Vec<ListRow>,
}

/// A message the recipient answers by tapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Interactive {
    Buttons {
        body: String,
        header: Option<String>,
        footer: Option<String>,
        buttons: Vec<ReplyButton>,
    },
    List {
        body: String,
        header: Option<String>,
        footer: Option<String>,
        /// The label of the button that opens the list.
        button: String,
        sections: Vec<ListSection>,
    },
}

/// The header a template message sends: the value of a text header's
/// variable, or the media of a media header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TemplateHeaderValue {
    Text {
        text: String,
    },
    Media {
        kind: MediaKind,
        url: String,
        /// A document's file name, as the recipient sees it.
        filename: Option<String>,
    },
}

/// The value a template's button takes: a URL button's suffix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateButtonValue {
    /// The button's position in the template, from 0.
    pub index: usize,
    pub text: String,
}

/// An approved template, filled in: the one kind of message WhatsApp
/// delivers outside the customer-service window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateMessage {
    pub name: String,
    /// The template's language code (`en`, `hi`, `en_US`).
    pub language: String,
    pub header: Option<TemplateHeaderValue>,
    /// The body's variables, `{{1}}` first.
    pub body: Vec<String>,
    pub buttons: Vec<TemplateButtonValue>,
}

/// What a WhatsApp message carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WhatsappContent {
    Text { body: String, preview_url: bool },
    Media(Media),
    Location(Location),
    Interactive(Interactive),
    Template(TemplateMessage),
}

/// Longest template name (Meta's limit).
pub const MAX_TEMPLATE_NAME_CHARS: usize = 512;
/// Longest variable value of a template's body.
pub const MAX_TEMPLATE_VALUE_CHARS: usize = 1_024;
/// Most body variables a message sends.
pub const MAX_TEMPLATE_VALUES: usize = 100;

/// One variant per limit; each names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WhatsappRule {
    #[error("a text message has 1 to {MAX_TEXT_CHARS} characters")]
    Text,
    #[error("a media URL is an http(s) URL of at most {MAX_URL_CHARS} characters")]
    MediaUrl,
    #[error(
        "the media's type is not one WhatsApp takes for it (images JPEG or PNG; documents PDF, DOC(X), XLS(X), PPT(X); audio MP3, WAV, OGG, AMR; video MP4, 3GPP; stickers WebP)"
    )]
    MediaType,
    #[error(
        "the media is larger than WhatsApp takes, or its size could not be learned (images 5 MB, audio and video 16 MB, documents 100 MB, stickers 500 KB)"
    )]
    MediaSize,
    /// The URL could not be asked for its type and length.
    #[error("the media's URL could not be reached to check its type and size")]
    MediaUnreachable,
    #[error("a caption has at most {MAX_CAPTION_CHARS} characters, and audio and stickers have none")]
    Caption,
    #[error("only a document has a file name, of 1 to 240 characters")]
    Filename,
    #[error("a latitude is from -90 to 90 degrees")]
    Latitude,
    #[error("a longitude is from -180 to 180 degrees")]
    Longitude,
    #[error("a location's name and address have at most {MAX_PLACE_CHARS} characters")]
    Place,
    #[error("an interactive message's body has 1 to {MAX_INTERACTIVE_BODY_CHARS} characters")]
    InteractiveBody,
    #[error("a header or footer has at most {MAX_HEADER_CHARS} characters")]
    HeaderOrFooter,
    #[error("a message has 1 to {MAX_BUTTONS} reply buttons")]
    ButtonCount,
    #[error("a button's title has 1 to {MAX_BUTTON_TITLE_CHARS} characters")]
    ButtonTitle,
    #[error("an id has 1 to {MAX_ID_CHARS} characters, and each is used once")]
    Id,
    #[error(
        "a list has 1 to {MAX_LIST_SECTIONS} sections and 1 to {MAX_LIST_ROWS} rows in all, each section with one row at least"
    )]
    ListSize,
    #[error("a row's or section's title has 1 to {MAX_ROW_TITLE_CHARS} characters")]
    RowTitle,
    #[error("a row's description has at most {MAX_ROW_DESCRIPTION_CHARS} characters")]
    RowDescription,
    #[error("a template's name has 1 to {MAX_TEMPLATE_NAME_CHARS} lower-case letters, digits and underscores")]
    TemplateName,
    #[error("a template's language is a code such as en, hi or en_US")]
    TemplateLanguage,
    #[error(
        "a template's body takes at most {MAX_TEMPLATE_VALUES} values, each of 1 to {MAX_TEMPLATE_VALUE_CHARS} characters without new lines or tabs"
    )]
    TemplateValue,
    #[error(
        "a template's text header value has 1 to {MAX_HEADER_CHARS} characters, and a media header is an image, video or document"
    )]
    TemplateHeader,
    #[error("a template's button values name each button once, each of 1 to 2,000 characters")]
    TemplateButton,
}

impl WhatsappRule {
    /// The field of the request's `content` the rule is about.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Text | Self::InteractiveBody => "content.body",
            Self::MediaUrl | Self::MediaType | Self::MediaSize | Self::MediaUnreachable => "content.url",
            Self::Caption => "content.caption",
            Self::Filename => "content.filename",
            Self::Latitude => "content.latitude",
            Self::Longitude => "content.longitude",
            Self::Place | Self::TemplateName => "content.name",
            Self::TemplateLanguage => "content.language",
            Self::TemplateValue => "content.body",
            Self::TemplateHeader => "content.header",
            Self::TemplateButton => "content.buttons",
            Self::HeaderOrFooter => "content.header",
            Self::ButtonCount | Self::ButtonTitle => "content.buttons",
            Self::Id => "content",
            Self::ListSize | Self::RowTitle | Self::RowDescription => "content.sections",
        }
    }
}

fn length(text: &str) -> usize {
    text.chars().count()
}

fn within(text: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&length(text))
}

fn rule(ok: bool, broken: WhatsappRule) -> Result<(), WhatsappRule> {
    match ok {
        true => Ok(()),
        false => Err(broken),
    }
}

fn optional(text: &Option<String>, max: usize, broken: WhatsappRule) -> Result<(), WhatsappRule> {
    rule(text.as_deref().is_none_or(|t| within(t, 1, max)), broken)
}

/// Whether each id is 1 to 256 characters and used once.
fn unique_ids<'a>(ids: impl Iterator<Item = &'a str>) -> Result<(), WhatsappRule> {
    let mut seen: Vec<&str> = Vec::new();
    for id in ids {
        rule(within(id, 1, MAX_ID_CHARS) && !seen.contains(&id), WhatsappRule::Id)?;
        seen.push(id);
    }
    Ok(())
}

impl WhatsappContent {
    /// The first limit the content breaks.
    pub fn check(&self) -> Result<(), WhatsappRule> {
        match self {
            Self::Text { body, .. } => rule(
                within(body, 1, MAX_TEXT_CHARS) && !body.trim().is_empty(),
                WhatsappRule::Text,
            ),
            Self::Media(media) => check_media(media),
            Self::Location(location) => check_location(location),
            Self::Interactive(interactive) => check_interactive(interactive),
            Self::Template(template) => check_template(template),
        }
    }
}

fn check_template(template: &TemplateMessage) -> Result<(), WhatsappRule> {
    let name = &template.name;
    rule(
        within(name, 1, MAX_TEMPLATE_NAME_CHARS)
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        WhatsappRule::TemplateName,
    )?;
    let language = &template.language;
    rule(
        within(language, 2, 15)
            && language
                .bytes()
                .all(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'-'),
        WhatsappRule::TemplateLanguage,
    )?;
    // WhatsApp refuses a variable with a new line, a tab or nothing in it.
    let value_ok =
        |v: &String| within(v, 1, MAX_TEMPLATE_VALUE_CHARS) && !v.trim().is_empty() && !v.contains(['\n', '\t']);
    rule(
        template.body.len() <= MAX_TEMPLATE_VALUES && template.body.iter().all(value_ok),
        WhatsappRule::TemplateValue,
    )?;
    let header_ok = match &template.header {
        None => true,
        Some(TemplateHeaderValue::Text { text }) => within(text, 1, MAX_HEADER_CHARS) && !text.trim().is_empty(),
        Some(TemplateHeaderValue::Media { kind, url, filename }) => {
            let media = Media {
                kind: *kind,
                url: url.clone(),
                caption: None,
                filename: filename.clone(),
            };
            matches!(kind, MediaKind::Image | MediaKind::Video | MediaKind::Document) && check_media(&media).is_ok()
        }
    };
    rule(header_ok, WhatsappRule::TemplateHeader)?;
    let mut seen: Vec<usize> = Vec::new();
    for button in &template.buttons {
        rule(
            !seen.contains(&button.index) && within(&button.text, 1, 2_000),
            WhatsappRule::TemplateButton,
        )?;
        seen.push(button.index);
    }
    Ok(())
}

fn check_media(media: &Media) -> Result<(), WhatsappRule> {
    let url = media.url.as_str();
    let web = url.starts_with("https://") || url.starts_with("http://");
    rule(
        web && length(url) <= MAX_URL_CHARS && crate::outbound_url::parse(url).is_ok(),
        WhatsappRule::MediaUrl,
    )?;
    let caption_ok = match &media.caption {
        None => true,
        Some(caption) => media.kind.takes_caption() && within(caption, 1, MAX_CAPTION_CHARS),
    };
    rule(caption_ok, WhatsappRule::Caption)?;
    let filename_ok = match &media.filename {
        None => true,
        Some(name) => media.kind == MediaKind::Document && within(name, 1, 240),
    };
    rule(filename_ok, WhatsappRule::Filename)
}

fn check_location(location: &Location) -> Result<(), WhatsappRule> {
    rule((-90.0..=90.0).contains(&location.latitude), WhatsappRule::Latitude)?;
    rule((-180.0..=180.0).contains(&location.longitude), WhatsappRule::Longitude)?;
    optional(&location.name, MAX_PLACE_CHARS, WhatsappRule::Place)?;
    optional(&location.address, MAX_PLACE_CHARS, WhatsappRule::Place)
}

fn check_frame(body: &str, header: &Option<String>, footer: &Option<String>) -> Result<(), WhatsappRule> {
    rule(
        within(body, 1, MAX_INTERACTIVE_BODY_CHARS) && !body.trim().is_empty(),
        WhatsappRule::InteractiveBody,
    )?;
    optional(header, MAX_HEADER_CHARS, WhatsappRule::HeaderOrFooter)?;
    optional(footer, MAX_HEADER_CHARS, WhatsappRule::HeaderOrFooter)
}

fn check_interactive(interactive: &Interactive) -> Result<(), WhatsappRule> {
    match interactive {
        Interactive::Buttons {
            body,
            header,
            footer,
            buttons,
        } => {
            check_frame(body, header, footer)?;
            rule((1..=MAX_BUTTONS).contains(&buttons.len()), WhatsappRule::ButtonCount)?;
            for button in buttons {
                rule(
                    within(&button.title, 1, MAX_BUTTON_TITLE_CHARS),
                    WhatsappRule::ButtonTitle,
                )?;
            }
            unique_ids(buttons.iter().map(|b| b.id.as_str()))
        }
        Interactive::List {
            body,
            header,
            footer,
            button,
            sections,
        } => {
            check_frame(body, header, footer)?;
            rule(within(button, 1, MAX_BUTTON_TITLE_CHARS), WhatsappRule::ButtonTitle)?;
            let rows: usize = sections.iter().map(|s| s.rows.len()).sum();
            let sized = (1..=MAX_LIST_SECTIONS).contains(&sections.len())
                && (1..=MAX_LIST_ROWS).contains(&rows)
                && sections.iter().all(|s| !s.rows.is_empty());
            rule(sized, WhatsappRule::ListSize)?;
            for section in sections {
                optional(&section.title, MAX_ROW_TITLE_CHARS, WhatsappRule::RowTitle)?;
                for row in &section.rows {
                    rule(within(&row.title, 1, MAX_ROW_TITLE_CHARS), WhatsappRule::RowTitle)?;
                    optional(
                        &row.description,
                        MAX_ROW_DESCRIPTION_CHARS,
                        WhatsappRule::RowDescription,
                    )?;
                }
            }
            unique_ids(sections.iter().flat_map(|s| s.rows.iter().map(|r| r.id.as_str())))
        }
    }
}

#[cfg(test)]
mod tests;
