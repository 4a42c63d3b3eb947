//! India's SMS rules: how a body is encoded and split into parts, whether a
//! body follows its registered DLT content template, and when promotional
//! SMS may be sent.

pub mod dlt;
pub mod encoding;
pub mod window;

pub use dlt::{FillError, MAX_TEMPLATE_CHARS, MAX_VARIABLE_CHARS, Mismatch, TemplateTextError};
pub use encoding::{SmsEncoding, SmsSegments, is_gsm7, segments, segments_as};
pub use window::{PROMOTIONAL_END_HOUR, PROMOTIONAL_START_HOUR, promotional_send_at, within_promotional_hours};
