//! The allocation requests: create, get, update and delete. `strictness`,
//! `flow_id` and `preferences.pin_code` are accepted and not acted on.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Allocation, Failure, answer};
use crate::numbers::{self, ExoPhone};
use crate::request::Received;
use crate::state::{SimState, is_indian, national};

/// A create or update body; every field is optional so that a missing one
/// gets Lead Assist's "mandatory missing" code rather than a parse error.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Request {
    connection_id: Option<String>,
    aparty_numbers: Option<Vec<String>>,
    bparty_numbers: Option<Vec<String>>,
    aparty_pins: Option<Vec<Value>>,
    bparty_pins: Option<Vec<Value>>,
    usage: Option<String>,
    preferences: Preferences,
    deallocation_policy: Option<Policy>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Preferences {
    #[serde(alias = "green_vn")]
    greenvn: Option<String>,
    region: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Policy {
    /// `"600s"` as documented; a bare number of seconds is taken too.
    duration: Option<Value>,
}

/// Checks the tenant's Basic credentials (code 7).
fn open(state: &SimState, tenant: &str, request: &Received) -> Result<(), Failure> {
    let unauthorized = || Failure(StatusCode::UNAUTHORIZED, 7, "Authentication failed".into());
    request.account(state, tenant).map(drop).ok_or_else(unauthorized)
}

fn parse(body: &[u8]) -> Result<Request, Failure> {
    serde_json::from_slice(body).map_err(|error| Failure::bad(5, &format!("Invalid parameters: {error}")))
}

fn parties(list: &Option<Vec<String>>, name: &str) -> Result<Vec<String>, Failure> {
    let list = list.clone().unwrap_or_default();
    if list.is_empty() {
        return Err(Failure::bad(3, &format!("Mandatory parameter missing: {name}")));
    }
    match list.iter().find(|n| !is_indian(n)) {
        Some(invalid) => Err(Failure::bad(16, &format!("Invalid number: {invalid}"))),
        None => Ok(list),
    }
}

fn distinct(aparty: &[String], bparty: &[String]) -> Result<(), Failure> {
    let mut seen = HashSet::new();
    match aparty.iter().chain(bparty).all(|n| seen.insert(national(n))) {
        true => Ok(()),
        false => Err(Failure::bad(14, "Duplicate number in request")),
    }
}

fn usage(value: &Option<String>, current: &str) -> Result<String, Failure> {
    match value.as_deref().unwrap_or(current) {
        usage @ ("oneway" | "twoway") => Ok(usage.to_string()),
        other => Err(Failure::bad(5, &format!("usage must be oneway or twoway, not {other}"))),
    }
}

fn pins(value: &Option<Vec<Value>>, name: &str) -> Result<Vec<Value>, Failure> {
    let pins = value.clone().unwrap_or_default();
    let digits = |p: &Value| {
        p.as_str()
            .is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
    };
    match pins.iter().all(|p| p.is_u64() || digits(p)) {
        true => Ok(pins),
        false => Err(Failure::bad(5, &format!("{name} must be numbers"))),
    }
}

/// When the allocation goes to the vault, on the simulated clock.
fn expiry(policy: &Option<Policy>, scale: f64) -> Result<Option<Instant>, Failure> {
    let Some(duration) = policy.as_ref().and_then(|p| p.duration.as_ref()) else {
        return Ok(None);
    };
    let seconds = match duration {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.strip_suffix('s').unwrap_or(s).parse().ok(),
        _ => None,
    };
    let real = seconds.and_then(|s| Duration::try_from_secs_f64(s as f64 / scale.max(0.001)).ok());
    let real = real.ok_or_else(|| Failure::bad(5, "deallocation_policy.duration must be like \"600s\""))?;
    Ok(Instant::now().checked_add(real))
}

/// A free number of the tenant's pool for this allocation: the preferred
/// one (code 1 when not the tenant's, 19 when a party is already on it),
/// else the first in the preferred region (15 when none) and type (4 when
/// none is free).
fn pick<'a>(
    pool: &[ExoPhone],
    wanted: &Preferences,
    allocation: &Allocation,
    others: impl Iterator<Item = &'a Allocation> + Clone,
) -> Result<String, Failure> {
    let free = |number: &str| !others.clone().any(|o| allocation.clashes(o, number));
    if let Some(greenvn) = &wanted.greenvn {
        let number = national(greenvn);
        if !pool.iter().any(|p| p.number == number) {
            return Err(Failure::bad(1, &format!("GreenVN {greenvn} not found")));
        }
        return match free(&number) {
            true => Ok(number),
            false => Err(Failure::bad(
                19,
                &format!("A party is already connected through {greenvn}"),
            )),
        };
    }
    let matches = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w.eq_ignore_ascii_case(have));
    let in_region: Vec<&ExoPhone> = pool.iter().filter(|p| matches(&wanted.region, &p.region)).collect();
    if wanted.region.is_some() && in_region.is_empty() {
        return Err(Failure::bad(15, "Region not supported"));
    }
    let candidates = in_region.into_iter().filter(|p| matches(&wanted.kind, &p.number_type));
    let chosen = candidates.into_iter().find(|p| free(&p.number));
    chosen
        .map(|p| p.number.clone())
        .ok_or_else(|| Failure::bad(4, "No free GreenVN available"))
}

fn create(state: &SimState, tenant: &str, request: Request) -> Result<Value, Failure> {
    let connection_id = request.connection_id.clone().filter(|c| !c.is_empty());
    let connection_id = connection_id.ok_or_else(|| Failure::bad(3, "Mandatory parameter missing: connection_id"))?;
    let (aparty, bparty) = (
        parties(&request.aparty_numbers, "aparty_numbers")?,
        parties(&request.bparty_numbers, "bparty_numbers")?,
    );
    distinct(&aparty, &bparty)?;
    let mut allocation = Allocation {
        id: uuid::Uuid::new_v4().to_string(),
        tenant: tenant.to_string(),
        connection_id,
        aparty_numbers: aparty,
        bparty_numbers: bparty,
        aparty_pins: pins(&request.aparty_pins, "aparty_pins")?,
        bparty_pins: pins(&request.bparty_pins, "bparty_pins")?,
        usage: usage(&request.usage, "twoway")?,
        greenvn: String::new(),
        expires: expiry(&request.deallocation_policy, state.scale())?,
        deallocated: false,
    };
    let pool = numbers::owned(state, tenant).unwrap_or_default();
    let mut allocations = state.masking.allocations.lock().map_err(|_| Failure::broken())?;
    let same = |a: &&Allocation| a.tenant == tenant && a.connection_id == allocation.connection_id && a.active();
    if allocations.values().any(|a| same(&a)) {
        return Err(Failure(
            StatusCode::CONFLICT,
            18,
            "Allocation exists for this connection id.".into(),
        ));
    }
    allocation.greenvn = pick(&pool, &request.preferences, &allocation, allocations.values())?;
    let data = allocation.json();
    allocations.insert(allocation.id.clone(), allocation);
    Ok(data)
}

fn not_found() -> Failure {
    Failure(StatusCode::NOT_FOUND, 1, "GreenVN allocation not found".into())
}

/// The allocation changed as asked: parties, pins, usage, or a new
/// deallocation policy counted from now. Its number and connection stay.
fn update(state: &SimState, tenant: &str, id: &str, request: Request) -> Result<Value, Failure> {
    let scale = state.scale();
    let mut allocations = state.masking.allocations.lock().map_err(|_| Failure::broken())?;
    let current = allocations
        .get(id)
        .filter(|a| a.tenant == tenant)
        .cloned()
        .ok_or_else(not_found)?;
    if !current.active() {
        return Err(Failure::bad(1, "The allocation is in the vault"));
    }
    if request
        .connection_id
        .as_ref()
        .is_some_and(|c| *c != current.connection_id)
    {
        return Err(Failure::bad(5, "connection_id cannot be changed"));
    }
    let mut next = current.clone();
    if request.aparty_numbers.is_some() {
        next.aparty_numbers = parties(&request.aparty_numbers, "aparty_numbers")?;
    }
    if request.bparty_numbers.is_some() {
        next.bparty_numbers = parties(&request.bparty_numbers, "bparty_numbers")?;
    }
    distinct(&next.aparty_numbers, &next.bparty_numbers)?;
    next.aparty_pins = pins(&request.aparty_pins.or(Some(current.aparty_pins)), "aparty_pins")?;
    next.bparty_pins = pins(&request.bparty_pins.or(Some(current.bparty_pins)), "bparty_pins")?;
    next.usage = usage(&request.usage, &current.usage)?;
    if request.deallocation_policy.is_some() {
        next.expires = expiry(&request.deallocation_policy, scale)?;
    }
    if allocations.values().any(|other| next.clashes(other, &next.greenvn)) {
        return Err(Failure::bad(19, "A party is already connected through this GreenVN"));
    }
    let data = next.json();
    allocations.insert(id.to_string(), next);
    Ok(data)
}

fn vault(state: &SimState, tenant: &str, id: &str) -> Result<Value, Failure> {
    let mut allocations = state.masking.allocations.lock().map_err(|_| Failure::broken())?;
    let allocation = allocations
        .get_mut(id)
        .filter(|a| a.tenant == tenant)
        .ok_or_else(not_found)?;
    allocation.deallocated = true;
    Ok(allocation.json())
}

/// `POST /v1/tenants/{tenant_sid}/greenvn`: allocates a number to a
/// connection; 409 with code 18 while the connection has an active one.
pub async fn allocate(State(state): State<Arc<SimState>>, Path(tenant): Path<String>, request: Received) -> Response {
    let result = open(&state, &tenant, &request).and_then(|()| parse(&request.body));
    answer(result.and_then(|request| create(&state, &tenant, request)))
}

/// `GET /v1/tenants/{tenant_sid}/greenvn/{greenvn_id}`.
pub async fn fetch(
    State(state): State<Arc<SimState>>,
    Path((tenant, id)): Path<(String, String)>,
    request: Received,
) -> Response {
    let result = open(&state, &tenant, &request).and_then(|()| {
        let allocations = state.masking.allocations.lock().map_err(|_| Failure::broken())?;
        let found = allocations.get(&id).filter(|a| a.tenant == tenant);
        found.map(Allocation::json).ok_or_else(not_found)
    });
    answer(result)
}

/// `PUT /v1/tenants/{tenant_sid}/greenvn/{greenvn_id}`.
pub async fn change(
    State(state): State<Arc<SimState>>,
    Path((tenant, id)): Path<(String, String)>,
    request: Received,
) -> Response {
    let result = open(&state, &tenant, &request).and_then(|()| parse(&request.body));
    answer(result.and_then(|request| update(&state, &tenant, &id, request)))
}

/// `DELETE /v1/tenants/{tenant_sid}/greenvn/{greenvn_id}`: the allocation
/// goes to the vault (again harmlessly if it is there already).
pub async fn deallocate(
    State(state): State<Arc<SimState>>,
    Path((tenant, id)): Path<(String, String)>,
    request: Received,
) -> Response {
    let result = open(&state, &tenant, &request);
    answer(result.and_then(|()| vault(&state, &tenant, &id)))
}
