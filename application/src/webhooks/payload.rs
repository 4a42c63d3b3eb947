//! What a webhook says: which subscribable events a stored event is, and
//! the body receivers get, `{"type", "timestamp", "data"}` as Standard
//! Webhooks recommends. A call's data is the call as Switchboard knows it
//! once the command that caused the event is applied; the provider's
//! recording URL is never in it, only the route that streams the kept copy.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use domain::call::{Call, CallEvent, CallStatus};
use domain::inbound_message::InboundMessage;
use domain::outbound_message::{Channel, MessageContent, MessageEvent, MessageStatus, OutboundMessage};
use domain::webhook_endpoint::WebhookEventType;

/// The subscribable events a call event is.
pub fn call_event_type(event: &CallEvent) -> Option<WebhookEventType> {
    match event {
        CallEvent::CallRequested { .. } => Some(WebhookEventType::CallRequested),
        CallEvent::CallRefused { .. } => Some(WebhookEventType::CallFailed),
        CallEvent::CallProgressed { status, .. } => match status {
            CallStatus::Answered => Some(WebhookEventType::CallAnswered),
            CallStatus::Completed => Some(WebhookEventType::CallCompleted),
            CallStatus::Busy | CallStatus::NoAnswer | CallStatus::Failed | CallStatus::Canceled => {
                Some(WebhookEventType::CallFailed)
            }
            CallStatus::Requested | CallStatus::Queued | CallStatus::Ringing | CallStatus::Refused => None,
        },
        // Exotel reports the recording with the call's details; Switchboard
        // fetches it when it is first asked for.
        CallEvent::CallDetailsAdded { details, .. } if details.recording_url.is_some() => {
            Some(WebhookEventType::RecordingAvailable)
        }
        CallEvent::CallRecordingStored { .. }
        | CallEvent::CallVerificationArranged { .. }
        | CallEvent::CallDispatchStarted { .. }
        | CallEvent::CallPlaced { .. }
        | CallEvent::CallNotFoundAtProvider { .. }
        | CallEvent::CallReportReceived { .. }
        | CallEvent::CallDetailsAdded { .. } => None,
    }
}

fn time(at: Option<DateTime<Utc>>) -> Value {
    at.map_or(Value::Null, |t| {
        Value::String(t.to_rfc3339_opts(SecondsFormat::Micros, true))
    })
}

/// A call as receivers see it.
pub fn call_data(call_id: &str, call: &Call) -> Value {
    let request = call.request.as_deref();
    let details = &call.details;
    let kept = call.recording.as_ref();
    let recording = (details.recording_url.is_some() || kept.is_some()).then(|| {
        json!({
            "url": format!("/api/v1/calls/{call_id}/recording"),
            "format": kept.map(|r| r.format.as_str()),
            "content_type": kept.map(|r| r.content_type.as_str()),
            "size_bytes": kept.map(|r| r.size_bytes),
            "channels": kept.and_then(|r| r.channels),
            "duration_secs": kept.and_then(|r| r.duration_secs),
            "sha256": kept.map(|r| r.sha256.as_str()),
        })
    });
    json!({
        "call_id": call_id,
        "status": call.status,
        "direction": request.map(|r| r.direction),
        "agent_user_id": request.and_then(|r| r.agent_user_id),
        "agent_phone": request.map(|r| r.agent_phone.as_str()),
        "customer_phone": request.map(|r| r.customer_phone.as_str()),
        "customer_id": request.and_then(|r| r.customer_id),
        "caller_id": request.map(|r| r.caller_id.as_str()),
        "purpose": request.map(|r| r.purpose),
        "custom_data": request.and_then(|r| r.custom_data.as_deref()),
        "provider_sid": call.provider_sid,
        "refusal": call.refusal,
        "requested_at": time(call.requested_at),
        "answered_at": time(call.answered_at),
        "ended_at": time(call.ended_at),
        "duration_secs": details.duration_secs,
        "conversation_duration_secs": details.conversation_duration_secs,
        "price_paise": details.price_paise,
        "disconnected_by": details.disconnected_by,
        "legs": details.legs,
        "recording": recording,
    })
}

/// The subscribable events a message's event is, by its channel.
pub fn message_event_type(event: &MessageEvent, channel: Channel) -> Option<WebhookEventType> {
    use WebhookEventType as W;
    let (delivered, failed) = match channel {
        Channel::Sms => (W::SmsDelivered, W::SmsFailed),
        Channel::Whatsapp => (W::WhatsappDelivered, W::WhatsappFailed),
    };
    match event {
        MessageEvent::MessageSubmitted { .. } => (channel == Channel::Sms).then_some(W::SmsSubmitted),
        MessageEvent::MessageRefused { .. } => Some(failed),
        MessageEvent::MessageProgressed { status, .. } => match status {
            MessageStatus::Delivered => Some(delivered),
            MessageStatus::Failed => Some(failed),
            MessageStatus::Read => (channel == Channel::Whatsapp).then_some(W::WhatsappRead),
            MessageStatus::Requested | MessageStatus::Submitted | MessageStatus::Sent | MessageStatus::Refused => None,
        },
        MessageEvent::MessageRequested { .. }
        | MessageEvent::MessageDispatchStarted { .. }
        | MessageEvent::MessageNotSent { .. }
        | MessageEvent::MessageOutcomeUnknown { .. }
        | MessageEvent::MessageReportReceived { .. } => None,
    }
}

/// A customer's message as receivers see it.
pub fn inbound_data(message_id: &str, inbound: &InboundMessage) -> Value {
    let message = inbound.message.as_deref();
    json!({
        "message_id": message_id,
        "channel": message.map(|m| m.channel),
        "from": message.map(|m| m.from.as_str()),
        "to": message.map(|m| m.to.as_str()),
        "profile_name": message.and_then(|m| m.profile_name.as_deref()),
        "content": message.map(|m| &m.content),
        "context_sid": message.and_then(|m| m.context_sid.as_deref()),
        "received_at": time(message.map(|m| m.received_at)),
    })
}

/// A message as receivers see it.
pub fn message_data(message_id: &str, message: &OutboundMessage) -> Value {
    let request = message.request.as_deref();
    let sms = request.and_then(|r| match &r.content {
        MessageContent::Sms(sms) => Some(sms),
        MessageContent::Whatsapp(_) => None,
    });
    json!({
        "message_id": message_id,
        "channel": request.map(|r| r.content.channel()),
        "status": message.status,
        "to": request.map(|r| r.to.as_str()),
        "batch_id": request.and_then(|r| r.batch_id),
        "custom_data": request.and_then(|r| r.custom_data.as_deref()),
        "from": request.and_then(|r| match &r.content {
            MessageContent::Whatsapp(out) => Some(out.from.as_str()),
            MessageContent::Sms(_) => None,
        }),
        "sms_type": sms.map(|s| s.sms_type),
        "sender_id": sms.map(|s| s.sender_id.as_str()),
        "template_id": sms.and_then(|s| s.dlt_template_id.as_deref()),
        "segments": sms.map(|s| s.segments),
        "provider_sid": message.provider_sid,
        "units": message.units,
        "price_paise": message.price_paise,
        "failure": message.failure,
        "refusal": message.refusal,
        "requested_at": time(message.requested_at),
        "submitted_at": time(message.submitted_at),
        "delivered_at": time(message.delivered_at),
        "read_at": time(message.read_at),
        "failed_at": time(message.failed_at),
    })
}

/// The body of one webhook: compact JSON, signed as sent.
pub fn body(event_type: WebhookEventType, timestamp: DateTime<Utc>, data: Value) -> String {
    json!({
        "type": event_type.as_str(),
        "timestamp": timestamp.to_rfc3339_opts(SecondsFormat::Micros, true),
        "data": data,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use cqrs_es::Aggregate;
    use domain::call::{CallDetails, CallRequest, Direction, ProviderRefusal, Purpose, RecordingFile};
    use uuid::Uuid;

    fn at(second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, second).unwrap()
    }

    fn requested() -> CallEvent {
        CallEvent::CallRequested {
            request: Box::new(CallRequest {
                organisation_id: Uuid::from_u128(1),
                direction: Direction::Outbound,
                requested_by: None,
                agent_user_id: Some(Uuid::from_u128(2)),
                agent_phone: "+919800000001".into(),
                customer_phone: "+919800000002".into(),
                customer_id: None,
                caller_id: "+911141169368".into(),
                time_limit_secs: None,
                record: true,
                recording_channels: 1,
                custom_data: Some("order 7".into()),
                purpose: Purpose::Transactional,
                verified: false,
                masked_session_id: None,
                verification: None,
                thread_id: None,
            }),
            at: at(0),
        }
    }

    fn progressed(status: CallStatus) -> CallEvent {
        CallEvent::CallProgressed { status, at: at(10) }
    }

    #[test]
    fn each_subscribable_call_event_is_named_and_the_rest_are_not() {
        use WebhookEventType as W;
        assert_eq!(call_event_type(&requested()), Some(W::CallRequested));
        assert_eq!(
            call_event_type(&progressed(CallStatus::Answered)),
            Some(W::CallAnswered)
        );
        assert_eq!(
            call_event_type(&progressed(CallStatus::Completed)),
            Some(W::CallCompleted)
        );
        for failed in [
            CallStatus::Busy,
            CallStatus::NoAnswer,
            CallStatus::Failed,
            CallStatus::Canceled,
        ] {
            assert_eq!(call_event_type(&progressed(failed)), Some(W::CallFailed), "{failed:?}");
        }
        for quiet in [
            CallStatus::Queued,
            CallStatus::Ringing,
            CallStatus::Requested,
            CallStatus::Refused,
        ] {
            assert_eq!(call_event_type(&progressed(quiet)), None, "{quiet:?}");
        }
        let refused = CallEvent::CallRefused {
            refusal: ProviderRefusal {
                http_status: 400,
                code: Some(34001),
                message: "bad number".into(),
            },
            at: at(1),
        };
        assert_eq!(call_event_type(&refused), Some(W::CallFailed));
        let stored = CallEvent::CallRecordingStored {
            recording: RecordingFile {
                sha256: "ab".into(),
                format: "wav".into(),
                content_type: "audio/wav".into(),
                size_bytes: 44,
                channels: Some(1),
                duration_secs: Some(0),
            },
            at: at(20),
        };
        assert_eq!(
            call_event_type(&stored),
            None,
            "the report of the recording is the event"
        );
        let reported = CallEvent::CallDetailsAdded {
            details: CallDetails {
                recording_url: Some("https://recordings.exotel.com/a.wav".into()),
                ..CallDetails::default()
            },
            at: at(20),
        };
        assert_eq!(call_event_type(&reported), Some(W::RecordingAvailable));
        assert_eq!(
            call_event_type(&CallEvent::CallPlaced {
                provider_sid: "s".into(),
                at: at(1)
            }),
            None
        );
        assert_eq!(
            call_event_type(&CallEvent::CallDetailsAdded {
                details: CallDetails::default(),
                at: at(1)
            }),
            None
        );
    }

    #[test]
    fn call_data_never_carries_the_provider_recording_url() {
        let mut call = Call::default();
        call.apply(requested());
        call.apply(progressed(CallStatus::Answered));
        call.apply(CallEvent::CallDetailsAdded {
            details: CallDetails {
                duration_secs: Some(42),
                price_paise: Some(150),
                recording_url: Some("https://recordings.exotel.com/secret.wav".into()),
                ..CallDetails::default()
            },
            at: at(11),
        });
        let data = call_data("c-1", &call);
        assert!(!data.to_string().contains("recordings.exotel.com"), "{data}");
        assert_eq!(data["call_id"], "c-1");
        assert_eq!(data["status"], "answered");
        assert_eq!(data["duration_secs"], 42);
        assert_eq!(data["price_paise"], 150);
        assert_eq!(data["custom_data"], "order 7");
        assert_eq!(data["answered_at"], "2026-12-01T10:00:10.000000Z");
        assert_eq!(data["recording"]["url"], "/api/v1/calls/c-1/recording");
        assert_eq!(data["recording"]["size_bytes"], Value::Null, "not fetched yet");
        let mut plain = Call::default();
        plain.apply(requested());
        assert_eq!(call_data("c-2", &plain)["recording"], Value::Null);
    }

    #[test]
    fn a_body_names_its_type_and_time() {
        let body: Value = serde_json::from_str(&body(WebhookEventType::CallFailed, at(5), json!({"a": 1}))).unwrap();
        assert_eq!(
            body,
            json!({"type": "call.failed", "timestamp": "2026-12-01T10:00:05.000000Z", "data": {"a": 1}})
        );
    }

    #[test]
    fn message_events_are_named_by_their_channel() {
        use WebhookEventType as W;
        let delivered = MessageEvent::MessageProgressed {
            status: MessageStatus::Delivered,
            failure: None,
            at: at(1),
        };
        let read = MessageEvent::MessageProgressed {
            status: MessageStatus::Read,
            failure: None,
            at: at(1),
        };
        let sent = MessageEvent::MessageProgressed {
            status: MessageStatus::Sent,
            failure: None,
            at: at(1),
        };
        let submitted = MessageEvent::MessageSubmitted {
            provider_sid: "sid".into(),
            at: at(1),
        };
        let refused = MessageEvent::MessageRefused {
            refusal: domain::outbound_message::ProviderRefusal {
                http_status: 400,
                code: None,
                message: "no".into(),
            },
            at: at(1),
        };
        assert_eq!(message_event_type(&delivered, Channel::Sms), Some(W::SmsDelivered));
        assert_eq!(
            message_event_type(&delivered, Channel::Whatsapp),
            Some(W::WhatsappDelivered)
        );
        assert_eq!(message_event_type(&read, Channel::Whatsapp), Some(W::WhatsappRead));
        assert_eq!(message_event_type(&read, Channel::Sms), None);
        assert_eq!(message_event_type(&sent, Channel::Whatsapp), None);
        assert_eq!(message_event_type(&submitted, Channel::Sms), Some(W::SmsSubmitted));
        assert_eq!(message_event_type(&submitted, Channel::Whatsapp), None);
        assert_eq!(message_event_type(&refused, Channel::Sms), Some(W::SmsFailed));
        assert_eq!(message_event_type(&refused, Channel::Whatsapp), Some(W::WhatsappFailed));
    }
}
