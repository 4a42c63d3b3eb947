//! The ports the harness scripts: a connection test that passes, Exotel
//! answering what the test scripted and recording every request, a media
//! probe with scripted facts, and callback URLs on a public address (the
//! binding cipher and the data keys are `crate::memory`'s).

use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use uuid::Uuid;
use zeroize::Zeroizing;

use domain::integration::IntegrationSettings;

use crate::calls::CallbackUrls;
use crate::exotel::{
    ExoPhone, ExotelAccount, ExotelError, ExotelNumbers, ExotelSms, ExotelWhatsapp, NumberInfo, SendSms, SendWhatsapp,
    SmsInfo, TemplatePage, WhatsappOutcome, WhitelistStanding,
};
use crate::integrations::{ConnectionTester, TestResult};
use crate::messages::{MediaFacts, MediaProbe};

/// Every connection test passes: configuring is not what is tested here.
pub(super) struct PassingTester;

#[async_trait]
impl ConnectionTester for PassingTester {
    async fn test(&self, _: &IntegrationSettings, _: &BTreeMap<String, Zeroizing<String>>) -> TestResult {
        TestResult::Passed {
            details: serde_json::Value::Null,
        }
    }
}

type Script<T> = Mutex<VecDeque<Result<T, ExotelError>>>;

/// The next scripted answer; a request nobody scripted finds Exotel unreachable.
fn next<T>(script: &Script<T>) -> Result<T, ExotelError> {
    let answer = script.lock().unwrap().pop_front();
    answer.unwrap_or_else(|| Err(ExotelError::Unreachable("no answer was scripted".into())))
}

/// Exotel as the test scripts it; every request is recorded with the
/// account's sid and API key it was made with.
#[derive(Default)]
pub(super) struct Exotel {
    pub(super) sms_answers: Script<Vec<SmsInfo>>,
    pub(super) sms_sent: Mutex<Vec<(String, String, SendSms)>>,
    pub(super) details_answers: Script<SmsInfo>,
    pub(super) details_asked: Mutex<Vec<String>>,
    pub(super) whatsapp_answers: Script<Vec<WhatsappOutcome>>,
    pub(super) whatsapp_sent: Mutex<Vec<(String, String, SendWhatsapp)>>,
    pub(super) pages: Script<TemplatePage>,
    /// Each template page asked for: account sid, business account, cursor.
    pub(super) pages_asked: Mutex<Vec<(String, String, Option<String>)>>,
    /// Numbers on the DND registry.
    pub(super) on_dnd: Mutex<Vec<String>>,
    pub(super) numbers_asked: Mutex<Vec<String>>,
    pub(super) capacity_waits: AtomicU32,
}

impl Exotel {
    pub(super) fn answer_sms(&self, answer: Result<Vec<SmsInfo>, ExotelError>) {
        self.sms_answers.lock().unwrap().push_back(answer);
    }
    pub(super) fn answer_whatsapp(&self, answer: Result<Vec<WhatsappOutcome>, ExotelError>) {
        self.whatsapp_answers.lock().unwrap().push_back(answer);
    }
    pub(super) fn answer_page(&self, answer: Result<TemplatePage, ExotelError>) {
        self.pages.lock().unwrap().push_back(answer);
    }
    pub(super) fn sms_sent(&self) -> Vec<(String, String, SendSms)> {
        self.sms_sent.lock().unwrap().clone()
    }
    pub(super) fn whatsapp_sent(&self) -> Vec<(String, String, SendWhatsapp)> {
        self.whatsapp_sent.lock().unwrap().clone()
    }
    pub(super) fn pages_asked(&self) -> Vec<(String, String, Option<String>)> {
        self.pages_asked.lock().unwrap().clone()
    }
    pub(super) fn numbers_asked(&self) -> Vec<String> {
        self.numbers_asked.lock().unwrap().clone()
    }
}

fn who(account: &ExotelAccount) -> (String, String) {
    (account.account_sid.clone(), account.api_key.to_string())
}

#[async_trait]
impl ExotelSms for Exotel {
    async fn sms_capacity(&self, _: &ExotelAccount) {
        self.capacity_waits.fetch_add(1, Ordering::SeqCst);
    }
    async fn send_sms(&self, account: &ExotelAccount, sms: &SendSms) -> Result<Vec<SmsInfo>, ExotelError> {
        let (sid, key) = who(account);
        self.sms_sent.lock().unwrap().push((sid, key, sms.clone()));
        next(&self.sms_answers)
    }
    async fn sms_details(&self, _: &ExotelAccount, sms_sid: &str) -> Result<SmsInfo, ExotelError> {
        self.details_asked.lock().unwrap().push(sms_sid.into());
        next(&self.details_answers)
    }
}

#[async_trait]
impl ExotelWhatsapp for Exotel {
    async fn whatsapp_capacity(&self, _: &ExotelAccount) {
        self.capacity_waits.fetch_add(1, Ordering::SeqCst);
    }
    async fn send_whatsapp(
        &self,
        account: &ExotelAccount,
        send: &SendWhatsapp,
    ) -> Result<Vec<WhatsappOutcome>, ExotelError> {
        let (sid, key) = who(account);
        self.whatsapp_sent.lock().unwrap().push((sid, key, send.clone()));
        next(&self.whatsapp_answers)
    }
    async fn whatsapp_templates(
        &self,
        account: &ExotelAccount,
        waba_id: &str,
        after: Option<&str>,
    ) -> Result<TemplatePage, ExotelError> {
        let asked = (
            account.account_sid.clone(),
            waba_id.to_string(),
            after.map(str::to_string),
        );
        self.pages_asked.lock().unwrap().push(asked);
        next(&self.pages)
    }
}

#[async_trait]
impl ExotelNumbers for Exotel {
    async fn exophones(&self, _: &ExotelAccount) -> Result<Vec<ExoPhone>, ExotelError> {
        unreachable!("messaging never lists ExoPhones")
    }
    async fn number_info(&self, _: &ExotelAccount, number: &str) -> Result<NumberInfo, ExotelError> {
        self.numbers_asked.lock().unwrap().push(number.into());
        Ok(NumberInfo {
            phone_number: number.into(),
            circle: None,
            number_type: None,
            operator: None,
            dnd: self.on_dnd.lock().unwrap().iter().any(|n| n == number),
        })
    }
    async fn whitelist(&self, _: &ExotelAccount, _: &str, _: &[String]) -> Result<(), ExotelError> {
        unreachable!("messaging never whitelists numbers")
    }
    async fn whitelist_standing(&self, _: &ExotelAccount, _: &str) -> Result<WhitelistStanding, ExotelError> {
        unreachable!("messaging never asks for the call whitelist")
    }
}

/// Answers each URL with the facts the test gave it, or as unreachable.
#[derive(Default)]
pub(super) struct Probe {
    facts: Mutex<HashMap<String, Result<MediaFacts, String>>>,
    asked: Mutex<Vec<String>>,
}

impl Probe {
    pub(super) fn answer(&self, url: &str, facts: Result<MediaFacts, String>) {
        self.facts.lock().unwrap().insert(url.into(), facts);
    }
    pub(super) fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

#[async_trait]
impl MediaProbe for Probe {
    async fn probe(&self, url: &str) -> Result<MediaFacts, String> {
        self.asked.lock().unwrap().push(url.into());
        let facts = self.facts.lock().unwrap().get(url).cloned();
        facts.unwrap_or_else(|| Err(format!("{url} did not answer")))
    }
}

/// Callback URLs on a public address, naming the integration, its token's
/// generation and the route.
pub(super) struct Hooks;

pub(super) const PUBLIC: &str = "https://switchboard.example.com";

impl CallbackUrls for Hooks {
    fn status_callback(&self, integration_id: Uuid, generation: u32, _: &str) -> Option<String> {
        Some(format!("{PUBLIC}/hooks/{integration_id}/{generation}"))
    }
    fn webhook(&self, integration_id: Uuid, generation: u32, _: &str, route: &str) -> Option<String> {
        Some(format!("{PUBLIC}/hooks/{integration_id}/{generation}/{route}"))
    }
}

/// No address Exotel could post reports to.
pub(super) struct Unreachable;

impl CallbackUrls for Unreachable {
    fn status_callback(&self, _: Uuid, _: u32, _: &str) -> Option<String> {
        None
    }
    fn webhook(&self, _: Uuid, _: u32, _: &str, _: &str) -> Option<String> {
        None
    }
}
