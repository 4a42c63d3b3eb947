//! The timed life of a call on the simulated clock: ring the first leg,
//! then either bridge the second leg or run the flow, then record the end.

use chrono::Duration as Span;
use std::sync::Arc;

use super::callbacks::callback;
use crate::callbacks::{Callbacks, Encoding};
use crate::flows;
use crate::recordings::{self, Channels, Recording};
use crate::state::{CallRecord, Scenario, Segment, SimState};

/// What the connect request asked for beyond the stored call.
#[derive(Debug, Clone)]
pub struct CallPlan {
    /// `TimeLimit`: the longest conversation, in seconds.
    pub time_limit: u64,
    /// `TimeOut`: the longest a leg may ring before it counts as no-answer.
    pub time_out: Option<u64>,
    /// `Record=true`, with its `RecordingChannels`.
    pub record: Option<Channels>,
    /// The host the client reached, for the recording's URL.
    pub host: String,
}

/// How one dialled leg went, decided from the number's scenario.
#[derive(Debug, Clone)]
pub struct Dialled {
    /// `completed`, `busy`, `no-answer` or `failed`.
    pub status: String,
    pub ring: u64,
    /// Seconds of conversation once answered (0 when not answered).
    pub talk: u64,
    /// Who talks when during that conversation.
    pub segments: Vec<Segment>,
}

impl Dialled {
    pub fn answered(&self) -> bool {
        self.status == "completed"
    }
}

/// The conversation a call ended with, and whether it was to be recorded.
#[derive(Debug, Clone)]
pub struct Conversation {
    pub leg: Dialled,
    /// `Record=true` for the call, or a Programmable Connect's `record`.
    pub record: Option<Channels>,
}

/// Dials `number`: its scenario decides, `TimeOut` cuts ringing short
/// (no-answer), and `TimeLimit` cuts talk short.
pub fn dial(state: &SimState, number: &str, time_out: Option<u64>, time_limit: u64) -> Dialled {
    let script = state.scenario(number);
    let (status, ring) = match time_out {
        Some(limit) if script.ring_seconds > limit => ("no-answer".to_string(), limit),
        _ if script.outcome == "answer" => ("completed".to_string(), script.ring_seconds),
        _ => (script.outcome.clone(), script.ring_seconds),
    };
    let talk = match status.as_str() {
        "completed" => script.talk_length().min(time_limit),
        _ => 0,
    };
    let segments = conversation(&script, talk);
    Dialled {
        status,
        ring,
        talk,
        segments,
    }
}

/// The scripted segments cut to `talk`, or alternating turns filling it.
fn conversation(script: &Scenario, talk: u64) -> Vec<Segment> {
    let limit = talk as f64;
    match &script.segments {
        Some(segments) if !segments.is_empty() => segments
            .iter()
            .filter(|s| s.start < limit)
            .map(|s| Segment {
                end: s.end.min(limit),
                ..*s
            })
            .collect(),
        _ => recordings::default_segments(talk),
    }
}

/// Simulated seconds since the call was placed, advanced by sleeping the
/// scaled real time.
pub struct Clock {
    state: Arc<SimState>,
    pub elapsed: u64,
}

impl Clock {
    pub async fn advance(&mut self, seconds: u64) {
        self.elapsed += seconds;
        self.state.sleep(seconds as f64).await;
    }
}

/// Plays the call out on the simulated clock, then sends its callbacks as
/// the callee's script says (normally, dropped, duplicated, reordered,
/// delayed).
pub async fn run_call(state: Arc<SimState>, mut call: CallRecord, plan: CallPlan) {
    let leg1 = dial(&state, &call.from, plan.time_out, plan.time_limit);
    let encoding = Encoding::with_multipart(call.callback_content_type.as_deref());
    let mut callbacks = Callbacks::new(call.status_callback.clone(), encoding, &state.scenario(&call.to));
    let mut clock = Clock {
        state: state.clone(),
        elapsed: 0,
    };
    clock.advance(leg1.ring).await;
    let conversation = if !leg1.answered() {
        call.status = leg1.status.clone();
        call.legs = vec![(leg1.status, 0)];
        None
    } else if let Some(app_id) = call.flow.clone() {
        flows::run(&state, &mut call, &app_id, &plan, &mut clock).await
    } else {
        let leg = bridge(&mut call, &plan, &mut clock, &mut callbacks).await;
        leg.map(|leg| Conversation {
            leg,
            record: plan.record,
        })
    };
    finish(&state, &mut call, &plan, clock.elapsed, conversation);
    if let Some(terminal) = callback(&call, "terminal", clock.elapsed) {
        callbacks.finish(&state, terminal).await;
    }
}

/// Plays out a call a caller made to an ExoPhone: the flow starts as soon
/// as the call arrives (there is no first leg to ring), then the call ends
/// as a flow call does. Such a call has no StatusCallback.
pub async fn run_incoming(state: Arc<SimState>, mut call: CallRecord, app_id: String, plan: CallPlan) {
    let mut clock = Clock {
        state: state.clone(),
        elapsed: 0,
    };
    let conversation = flows::run(&state, &mut call, &app_id, &plan, &mut clock).await;
    finish(&state, &mut call, &plan, clock.elapsed, conversation);
}

/// Dials `To` once `From` has answered and lets them talk. An `answered`
/// callback goes out at once, or (when the script reorders) is held back to
/// follow the terminal one.
async fn bridge(
    call: &mut CallRecord,
    plan: &CallPlan,
    clock: &mut Clock,
    callbacks: &mut Callbacks,
) -> Option<Dialled> {
    let leg2 = dial(&clock.state, &call.to, plan.time_out, plan.time_limit);
    clock.advance(leg2.ring).await;
    if !leg2.answered() {
        call.status = leg2.status.clone();
        call.legs = vec![("completed".into(), leg2.ring), (leg2.status, 0)];
        return None;
    }
    if let Some(answered) = callback(call, "answered", clock.elapsed) {
        callbacks.emit(&clock.state, answered).await;
    }
    clock.advance(leg2.talk).await;
    call.status = "completed".into();
    call.conversation = leg2.talk;
    call.legs = vec![
        ("completed".into(), leg2.ring + leg2.talk),
        ("completed".into(), leg2.talk),
    ];
    Some(leg2)
}

/// Stamps the end, attaches the recording of the conversation (if asked
/// for and there was one) and stores the call.
fn finish(state: &SimState, call: &mut CallRecord, plan: &CallPlan, elapsed: u64, conversation: Option<Conversation>) {
    let ended = call.created + Span::seconds(elapsed as i64);
    call.ended = Some(ended);
    call.updated = ended;
    call.duration = Some(elapsed);
    let recorded = conversation.and_then(|c| Some((c.record?, c.leg)));
    if let Some((channels, talked)) = recorded.filter(|(_, leg)| leg.talk > 0) {
        call.recording = Some(Recording {
            url: recordings::url(&plan.host, &call.account_sid, &call.sid),
            channels,
            seconds: talked.talk,
            segments: talked.segments,
        });
    }
    super::keep(state, call);
}
