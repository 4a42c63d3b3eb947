//! Call recordings: a real WAV file (8 kHz, 16-bit PCM) per recorded call,
//! served behind the account's Basic auth, with a speech-like signal exactly
//! where the scenario says each party talks.
//!
//! Exotel serves MP3 from its own storage (`…/exotelrecordings/{sid}/{CallSid}.mp3`,
//! reference §2.3); the simulator serves WAV from
//! `/v1/Accounts/{sid}/Recordings/{CallSid}.wav` so tests can read the audio
//! without a decoder.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use std::f64::consts::TAU;
use std::io::Cursor;
use std::sync::Arc;

use crate::calls;
use crate::request::{Answer, Received};
use crate::state::{Segment, SimState, Speaker};
use crate::wire::{Format, rest_exception};

/// Samples per second, as telephone audio.
pub const SAMPLE_RATE: u32 = 8_000;

/// `RecordingChannels`: one mixed channel, or the caller and callee apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channels {
    /// Both parties mixed into one channel (Exotel's default).
    Single,
    /// The caller on channel 1, the callee on channel 2.
    Dual,
}

impl Channels {
    /// Reads `RecordingChannels` (`single`, the default, or `dual`).
    pub fn parse(value: Option<&str>) -> Option<Channels> {
        match value {
            None | Some("single") => Some(Channels::Single),
            Some("dual") => Some(Channels::Dual),
            Some(_) => None,
        }
    }
}

/// A finished call's recording: enough to render its audio on request.
#[derive(Debug, Clone)]
pub struct Recording {
    pub url: String,
    pub channels: Channels,
    /// The conversation's length in simulated seconds.
    pub seconds: u64,
    pub segments: Vec<Segment>,
}

/// Recording routes.
pub fn routes() -> Router<Arc<SimState>> {
    Router::new().route("/v1/Accounts/{sid}/Recordings/{file}", get(download))
}

/// Where a call's recording is served, given the host the client used.
pub fn url(host: &str, account_sid: &str, call_sid: &str) -> String {
    format!("http://{host}/v1/Accounts/{account_sid}/Recordings/{call_sid}.wav")
}

/// Turns that fill `talk` seconds when none are scripted: the callee
/// answers, then the two alternate every five seconds with a short pause.
pub fn default_segments(talk: u64) -> Vec<Segment> {
    let talk = talk as f64;
    let mut segments = Vec::new();
    let mut start = 0.0;
    while start < talk {
        let speaker = match segments.len() % 2 {
            0 => Speaker::Callee,
            _ => Speaker::Caller,
        };
        let end = (start + 4.5_f64).min(talk);
        segments.push(Segment { speaker, start, end });
        start += 5.0;
    }
    segments
}

/// `GET /v1/Accounts/{sid}/Recordings/{CallSid}.wav`.
pub async fn download(
    State(state): State<Arc<SimState>>,
    Path((sid, file)): Path<(String, String)>,
    request: Received,
) -> Answer {
    request.v1_account(&state, &sid, Format::Xml)?;
    let recording = file
        .strip_suffix(".wav")
        .and_then(|call_sid| calls::stored(&state, &sid, call_sid)?.recording);
    let recording =
        recording.ok_or_else(|| rest_exception(StatusCode::NOT_FOUND, Format::Xml, "No matching results"))?;
    let broken =
        |error: hound::Error| rest_exception(StatusCode::INTERNAL_SERVER_ERROR, Format::Xml, &error.to_string());
    let bytes = wav(&recording).map_err(broken)?;
    Ok(([(header::CONTENT_TYPE, "audio/wav")], bytes).into_response())
}

/// The recording as WAV bytes: mono mixes both parties, dual keeps the
/// caller on channel 1 and the callee on channel 2.
pub fn wav(recording: &Recording) -> Result<Vec<u8>, hound::Error> {
    let channels = match recording.channels {
        Channels::Single => 1,
        Channels::Dual => 2,
    };
    let spec = hound::WavSpec {
        channels,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut bytes = Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut bytes, spec)?;
    let mut voices = [
        Voice::new(Speaker::Caller, recording),
        Voice::new(Speaker::Callee, recording),
    ];
    for index in 0..recording.seconds * u64::from(SAMPLE_RATE) {
        let [caller, callee] = voices.each_mut().map(|voice| voice.sample(index));
        match recording.channels {
            Channels::Single => writer.write_sample(clamp(caller + callee))?,
            Channels::Dual => {
                writer.write_sample(clamp(caller))?;
                writer.write_sample(clamp(callee))?;
            }
        }
    }
    writer.finalize()?;
    Ok(bytes.into_inner())
}

fn clamp(value: f64) -> i16 {
    value.round().clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16
}

/// One party's voice: a tone with a syllable-rate swell and a little noise
/// while they talk, and digital near-silence (±2) otherwise. Deterministic.
struct Voice {
    pitch: f64,
    spans: Vec<(f64, f64)>,
    noise: u32,
}

impl Voice {
    fn new(speaker: Speaker, recording: &Recording) -> Self {
        let spans = recording
            .segments
            .iter()
            .filter(|segment| segment.heard(speaker))
            .map(|segment| (segment.start, segment.end))
            .collect();
        let (pitch, noise) = match speaker {
            Speaker::Callee => (310.0, 0x9e37_79b9),
            _ => (220.0, 0x2545_f491),
        };
        Self { pitch, spans, noise }
    }

    fn sample(&mut self, index: u64) -> f64 {
        let t = index as f64 / f64::from(SAMPLE_RATE);
        let noise = self.next_noise();
        if !self.spans.iter().any(|(start, end)| *start <= t && t < *end) {
            return (noise * 2.0).round();
        }
        let syllables = 0.6 + 0.4 * (TAU * 4.0 * t).sin();
        let tone = (TAU * self.pitch * t).sin() + 0.3 * (TAU * 2.0 * self.pitch * t).sin();
        7_000.0 * syllables * tone + 300.0 * noise
    }

    /// xorshift32, scaled to -1..1.
    fn next_noise(&mut self) -> f64 {
        self.noise ^= self.noise << 13;
        self.noise ^= self.noise >> 17;
        self.noise ^= self.noise << 5;
        f64::from(self.noise) / f64::from(u32::MAX) * 2.0 - 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_turns_alternate_from_the_callee_and_fill_the_talk_time() {
        let segments = default_segments(12);
        let speakers: Vec<Speaker> = segments.iter().map(|s| s.speaker).collect();
        assert_eq!(speakers, [Speaker::Callee, Speaker::Caller, Speaker::Callee]);
        assert_eq!(segments.last().map(|s| (s.start, s.end)), Some((10.0, 12.0)));
    }

    #[test]
    fn a_dual_recording_has_two_channels_as_long_as_the_conversation() {
        let recording = Recording {
            url: String::new(),
            channels: Channels::Dual,
            seconds: 3,
            segments: default_segments(3),
        };
        let bytes = wav(&recording).unwrap();
        let reader = hound::WavReader::new(Cursor::new(bytes)).unwrap();
        assert_eq!((reader.spec().channels, reader.spec().sample_rate), (2, 8_000));
        assert_eq!(reader.duration(), 3 * 8_000);
    }

    #[test]
    fn recording_channels_other_than_single_or_dual_are_refused() {
        assert_eq!(Channels::parse(None), Some(Channels::Single));
        assert_eq!(Channels::parse(Some("dual")), Some(Channels::Dual));
        assert_eq!(Channels::parse(Some("stereo")), None);
    }
}
