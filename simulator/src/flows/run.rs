//! Runs a flow applet by applet on the simulated clock, once the person
//! called (`From`) has answered, or as soon as a caller rings the ExoPhone.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::destination::{self, Destination, NotDialled};
use super::params::{Connected, Moment, params};
use super::popup::Popup;
use super::{Applet, Branch, FlowStep};
use crate::calls::{CallPlan, Clock, Conversation, Dialled, dial};
use crate::recordings;
use crate::request::is_http_url;
use crate::state::{CallRecord, SimState};

/// Applets one call may run before the simulator hangs up on a loop.
const MAX_STEPS: usize = 100;

/// How long Exotel waits for a flow URL to answer.
const URL_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs flow `app_id` for `call`, recording each step; returns the last
/// Connect's leg (the conversation) and how it is recorded, if any.
pub async fn run(
    state: &Arc<SimState>,
    call: &mut CallRecord,
    app_id: &str,
    plan: &CallPlan,
    clock: &mut Clock,
) -> Option<Conversation> {
    let applets = state
        .flows
        .lock()
        .ok()
        .and_then(|f| f.get(app_id).cloned())
        .unwrap_or_default();
    let answered_at = clock.elapsed;
    let mut run = Run {
        state,
        call,
        app_id,
        plan,
        clock,
        digits: None,
        connected: None,
    };
    let mut index = Some(0);
    for _ in 0..MAX_STEPS {
        let Some(applet) = index.and_then(|i| applets.get(i)) else {
            break;
        };
        let step = run.applet(index.unwrap_or_default(), applet).await;
        index = step.next;
        run.record(step);
    }
    run.hang_up(answered_at)
}

struct Run<'a> {
    state: &'a Arc<SimState>,
    call: &'a mut CallRecord,
    app_id: &'a str,
    plan: &'a CallPlan,
    clock: &'a mut Clock,
    digits: Option<String>,
    connected: Option<Connected>,
}

impl Run<'_> {
    async fn applet(&mut self, index: usize, applet: &Applet) -> FlowStep {
        let mut step = FlowStep {
            index,
            at: self.clock.elapsed,
            next: Some(index + 1),
            ..FlowStep::default()
        };
        match applet {
            Applet::Greeting { text, url } => self.greeting(step, text.clone(), url.as_deref()).await,
            Applet::Gather { url, .. } => self.gather(step, applet, url.as_deref()).await,
            Applet::Passthru { url, on_200, on_302 } => self.passthru(step, url, *on_200, *on_302).await,
            Applet::Connect { to, url, popup_url } => {
                let destination = match (to, url) {
                    (Some(to), _) => Ok(Destination::fixed(to)),
                    (None, Some(url)) => self.destination(url, &mut step).await,
                    (None, None) => Err(NotDialled::NoNumbers),
                };
                self.connect(step, destination, popup_url.as_deref()).await
            }
            Applet::Hangup => FlowStep {
                applet: "hangup".into(),
                next: None,
                ..step
            },
        }
    }

    fn query(&self) -> Vec<(String, String)> {
        params(&Moment {
            call: self.call,
            app_id: self.app_id,
            elapsed: self.clock.elapsed,
            digits: self.digits.as_deref(),
            connected: self.connected.as_ref(),
        })
    }

    /// GETs a flow URL with the call's details; the status and body, or why not.
    async fn fetch(&self, url: &str, headers: &[(&str, &str)], step: &mut FlowStep) -> Option<(u16, String)> {
        let query = self.query();
        step.url = Some(url.to_string());
        step.query = Some(query.iter().cloned().collect::<BTreeMap<_, _>>());
        let mut request = self.state.passthru_http.get(url).query(&query).timeout(URL_TIMEOUT);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let answer = match request.send().await {
            Ok(response) => Ok((response.status().as_u16(), response.text().await.unwrap_or_default())),
            Err(error) => Err(error.to_string()),
        };
        step.http_status = answer.as_ref().ok().map(|(status, _)| *status);
        step.error = answer.as_ref().err().cloned();
        answer.ok()
    }

    /// 200 follows `on_200`; any other answer (302 as documented) or no
    /// answer follows `on_302`.
    async fn passthru(&mut self, mut step: FlowStep, url: &str, on_200: Branch, on_302: Branch) -> FlowStep {
        step.applet = "passthru".into();
        let status = self.fetch(url, &[], &mut step).await.map(|(status, _)| status);
        let branch = if status == Some(200) { on_200 } else { on_302 };
        step.next = branch.target(step.index);
        step
    }

    /// Speaks the text (about fifteen characters a second) or plays the
    /// audio (five seconds). A dynamic greeting's URL answers `text/plain`:
    /// the text to speak, or (when it is a URL) the audio to play.
    async fn greeting(&mut self, mut step: FlowStep, text: Option<String>, url: Option<&str>) -> FlowStep {
        step.applet = "greeting".into();
        let spoken = match url {
            Some(url) => self
                .fetch(url, &[], &mut step)
                .await
                .filter(|(status, _)| *status == 200)
                .map(|(_, body)| body),
            None => text,
        };
        let spoken = spoken.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        match spoken {
            Some(audio) if is_http_url(&audio) => step.audio_url = Some(audio),
            other => step.text = other,
        }
        self.clock.advance(speaking_time(&step)).await;
        step
    }

    /// Plays the prompt, then collects the caller's scripted keys up to the
    /// finish key and `digits_max`; nothing pressed waits `input_timeout`.
    async fn gather(&mut self, mut step: FlowStep, applet: &Applet, url: Option<&str>) -> FlowStep {
        step.applet = "gather".into();
        let mut config = GatherConfig::from_applet(applet);
        if let Some(url) = url {
            let fetched = self.fetch(url, &[("Exotel-Version", "1.0")], &mut step).await;
            let dynamic = fetched.and_then(|(_, body)| serde_json::from_str::<GatherConfig>(&body).ok());
            config = dynamic.map(|d| d.over(config.clone())).unwrap_or(config);
        }
        (step.text, step.audio_url) = config.prompt();
        self.clock.advance(speaking_time(&step)).await;
        let pressed = self.state.scenario(&self.call.from).digits.unwrap_or_default();
        let digits = config.collect(&pressed);
        let waited = if digits.is_empty() {
            config.input_timeout.unwrap_or(5)
        } else {
            digits.len() as u64
        };
        self.clock.advance(waited).await;
        step.digits = Some(digits.clone());
        self.digits = Some(digits);
        step
    }

    /// Asks a Connect's URL whom to dial (the call's details in the query,
    /// `Exotel-Version: 1.0`); only a 200 is read.
    async fn destination(&self, url: &str, step: &mut FlowStep) -> Result<Destination, NotDialled> {
        match self.fetch(url, &[("Exotel-Version", "1.0")], step).await {
            Some((200, body)) => destination::read(&body),
            _ => Err(NotDialled::FetchFailed),
        }
    }

    /// Dials the destination with its scenario and lets the two talk,
    /// telling the popup URL (if any) as the agent is dialled, answers and
    /// is freed. With nobody to dial, the step says why and the flow goes on.
    async fn connect(
        &mut self,
        mut step: FlowStep,
        destination: Result<Destination, NotDialled>,
        popup_url: Option<&str>,
    ) -> FlowStep {
        step.applet = "connect".into();
        let destination = match destination {
            Ok(destination) => destination,
            Err(why) => {
                step.outcome = Some(why.outcome().into());
                return step;
            }
        };
        let (number, caller_id) = (
            destination.number.clone(),
            destination
                .caller_id
                .clone()
                .unwrap_or_else(|| self.call.caller_id.clone()),
        );
        let leg = self.dial(&destination);
        let record = destination.recording(self.plan.record);
        let recorded = record.is_some() && leg.talk > 0;
        let recording_url = recorded.then(|| recordings::url(&self.plan.host, &self.call.account_sid, &self.call.sid));
        let popup = popup_url.map(|url| Popup {
            url,
            call: self.call,
            agent: &number,
        });
        if let Some(popup) = &popup {
            popup.send(self.state, "Dial", 0, None).await;
        }
        self.clock.advance(leg.ring).await;
        if let Some(popup) = popup.as_ref().filter(|_| leg.answered()) {
            popup.send(self.state, "Answered", 0, None).await;
        }
        self.clock.advance(leg.talk).await;
        if let Some(popup) = &popup {
            popup
                .send(self.state, "Terminal", leg.talk, recording_url.as_deref())
                .await;
        }
        step.dialled = Some(number.clone());
        step.caller_id = Some(caller_id.clone());
        step.outcome = Some(leg.status.clone());
        self.connected = Some(Connected {
            number,
            caller_id,
            leg,
            record,
            recording_url,
        });
        step
    }

    /// The destination's leg: the call's `TimeOut` and `TimeLimit`, unless
    /// a Programmable Connect shortens them.
    fn dial(&self, destination: &Destination) -> Dialled {
        let time_out = destination.max_ringing.or(self.plan.time_out);
        let time_limit = destination
            .max_conversation
            .map_or(self.plan.time_limit, |most| most.min(self.plan.time_limit));
        dial(self.state, &destination.number, time_out, time_limit)
    }

    fn record(&self, step: FlowStep) {
        if let Ok(mut steps) = self.state.flow_steps.lock() {
            steps.entry(self.call.sid.clone()).or_default().push(step);
        }
    }

    /// The call ends completed: leg 1 on the line since it answered, leg 2
    /// the last Connect's leg.
    fn hang_up(self, answered_at: u64) -> Option<Conversation> {
        let call = self.call;
        call.status = "completed".into();
        call.legs = vec![("completed".into(), self.clock.elapsed - answered_at)];
        let connected = self.connected?;
        let leg = connected.leg;
        call.legs.push((leg.status.clone(), leg.talk));
        call.conversation = leg.talk;
        Some(Conversation {
            leg,
            record: connected.record,
        })
    }
}

/// Simulated seconds to speak a step's prompt.
fn speaking_time(step: &FlowStep) -> u64 {
    match (&step.text, &step.audio_url) {
        (_, Some(_)) => 5,
        (Some(text), None) => (text.chars().count() as u64).div_ceil(15).max(1),
        (None, None) => 0,
    }
}

/// A Gather's configuration. A dynamic Gather URL answers JSON whose keys
/// are a guess (reference §12), so two readings are accepted: the nested
/// `{"gather_prompt": {"text": …} | {"audio_url": …}, "max_input_digits": N,
/// "finish_on_key": "#", "input_timeout": S}` and a flat one with
/// `"gather_prompt": "…"` or top-level `text`/`audio_url` and
/// `max_digits`/`digits_max`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct GatherConfig {
    gather_prompt: Option<Prompt>,
    text: Option<String>,
    audio_url: Option<String>,
    #[serde(alias = "max_digits", alias = "digits_max")]
    max_input_digits: Option<usize>,
    finish_on_key: Option<String>,
    input_timeout: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Prompt {
    Text(String),
    Spoken {
        text: Option<String>,
        audio_url: Option<String>,
    },
}

impl GatherConfig {
    fn from_applet(applet: &Applet) -> Self {
        match applet {
            Applet::Gather {
                prompt,
                digits_max,
                finish_on_key,
                input_timeout,
                ..
            } => GatherConfig {
                text: prompt.clone(),
                max_input_digits: *digits_max,
                finish_on_key: finish_on_key.clone(),
                input_timeout: *input_timeout,
                ..GatherConfig::default()
            },
            _ => GatherConfig::default(),
        }
    }

    /// This (fetched) configuration, falling back to `base` key by key.
    fn over(self, base: GatherConfig) -> GatherConfig {
        let prompt_given = self.gather_prompt.is_some() || self.text.is_some() || self.audio_url.is_some();
        let (prompt, text, audio) = match prompt_given {
            true => (self.gather_prompt, self.text, self.audio_url),
            false => (base.gather_prompt, base.text, base.audio_url),
        };
        GatherConfig {
            gather_prompt: prompt,
            text,
            audio_url: audio,
            max_input_digits: self.max_input_digits.or(base.max_input_digits),
            finish_on_key: self.finish_on_key.or(base.finish_on_key),
            input_timeout: self.input_timeout.or(base.input_timeout),
        }
    }

    /// The prompt's text and audio URL.
    fn prompt(&self) -> (Option<String>, Option<String>) {
        match &self.gather_prompt {
            Some(Prompt::Text(text)) => (Some(text.clone()), None),
            Some(Prompt::Spoken { text, audio_url }) => (text.clone(), audio_url.clone()),
            None => (self.text.clone(), self.audio_url.clone()),
        }
    }

    /// The keys taken from what was pressed: up to the finish key (`#` by
    /// default, not itself kept), at most `max_input_digits`.
    fn collect(&self, pressed: &str) -> String {
        let finish = self.finish_on_key.as_deref().unwrap_or("#");
        let before = pressed.split(finish).next().unwrap_or_default();
        before
            .chars()
            .take(self.max_input_digits.unwrap_or(usize::MAX))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gather_stops_at_the_finish_key_and_the_most_digits() {
        let config = GatherConfig {
            max_input_digits: Some(3),
            ..GatherConfig::default()
        };
        assert_eq!(config.collect("12#9"), "12");
        assert_eq!(config.collect("12345"), "123");
        assert_eq!(config.collect(""), "");
    }

    #[test]
    fn a_dynamic_gather_configuration_is_read_nested_or_flat() {
        let nested: GatherConfig =
            serde_json::from_str(r#"{"gather_prompt":{"text":"Press 1"},"max_input_digits":2}"#).unwrap();
        let flat: GatherConfig = serde_json::from_str(r#"{"gather_prompt":"Press 1","max_digits":2}"#).unwrap();
        for config in [nested, flat] {
            assert_eq!(config.prompt(), (Some("Press 1".into()), None));
            assert_eq!(config.max_input_digits, Some(2));
        }
    }
}
