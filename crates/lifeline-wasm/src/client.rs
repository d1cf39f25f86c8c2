//! `Client`: the validation client for JS runtimes, a shell around the core's `Session`, which
//! decides everything (whom to ask and when, which answer to trust, the verdict online or
//! offline). This layer only does the I/O: `fetch` with an `AbortController` timeout,
//! `setTimeout` for waits, the clock, and a pluggable cache for what the session keeps.
//!
//! `new Client({ nodes, keys, licenseToken, cache })`, then `await client.check()` → verdict
//! (`valid`/`grace`/`override`/`offline` usable, `invalid` not). An answer counts only if
//! its lease verifies and names this license; anything else is a node failure.
//!
//! With the `telemetry` option, each check's verdict and duration join a batch posted to the
//! server's `POST /api/v1/telemetry` (`telemetry.rs`) every `everyMs` after a check, or on
//! `client.sendTelemetry()`; a failed post is counted, never thrown, never a verdict.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use js_sys::{Function, Promise, Reflect};
use lifeline_core::{
    ClientPolicy, Next, Nodes, OfflinePolicy, Outcome, Policy, Received, Reply, Session,
    SessionCache, UnixTime, Verdict,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::telemetry::ClientTelemetry;

#[path = "client_seat.rs"]
mod seat;
use crate::timers::{clear_timeout, now_ms, set_timeout, sleep};
use crate::{convert, js_args, js_verdict};

#[wasm_bindgen(typescript_custom_section)]
const CLIENT_TYPES: &'static str = r#"
/** Where a Client keeps the last signed lease: sync or async (a file in Node, IndexedDB, a KV store). */
export interface LeaseCache {
  get(key: string): string | null | undefined | Promise<string | null | undefined>;
  set(key: string, value: string): void | Promise<void>;
}
/** Options of `new Client(...)`. */
export interface ClientOptions {
  /** Validation nodes, e.g. ["https://a.example", "https://b.example"]. */
  nodes: string[];
  /** The servers' public key set (JWKS object or JSON text). */
  keys: Jwks | string;
  /** The license token to check. */
  licenseToken: string;
  /** Issued lists of compromised keys (`/.well-known/lifeline/issued/KID`): with one, a
   * license of that key the vendor issued still verifies offline; without, the renewal a
   * node hands out at the next check replaces it. */
  issuedLists?: string[];
  /** "memory" (default), "localStorage", or your own LeaseCache. */
  cache?: "memory" | "localStorage" | LeaseCache;
  /** The cache key (default "lifeline.lease"). */
  cacheKey?: string;
  /** This instance's name, named in leases. */
  instance?: string;
  /** Require the license to be for this product. */
  audience?: string;
  /** Per-request timeout, ms (default 2000). */
  timeoutMs?: number;
  /** Deadline of one check, ms (default 6000). */
  deadlineMs?: number;
  /** Offline grace for licenses without `offline_grace_s`, seconds (default 72 h). */
  offlineGraceSeconds?: number;
  /** Post the checks' verdicts to the server's telemetry endpoint in batches. */
  telemetry?: ClientTelemetryOptions;
  /** Called when a node hands out a newer version of the license (extended, re-signed after a
   * key compromise) and the core has verified it: same license, newer version, authentic.
   * `client.license` is already the new token and the cache keeps it; store it wherever
   * your app keeps its license file. */
  onLicense?: (token: string, verdict: Verdict) => void;
  /** Hold a seat of the license (licenses with seats): activated at the first check, renewed
   * by later checks, released by `client.release()` (and, in browsers, when the page hides).
   * `true` uses the defaults. */
  seat?: true | SeatOptions;
}
/** The `seat` option. */
export interface SeatOptions {
  /** This machine's stable id (default: Node, a hash of the machine id and host name;
   * browsers, a random id kept in localStorage; elsewhere a random id per Client). */
  fingerprint?: string;
  /** The name operators see. */
  name?: string;
  /** Release the seat on `pagehide` in browsers (default true). */
  releaseOnPageHide?: boolean;
}
/** Where a Client's seat stands (`verdict.seat` after a check). */
export interface SeatStanding {
  /** held (online), offline (no node answered: the last seat lease and the offline grace carry it), refused, lost. */
  state: "held" | "offline" | "refused" | "lost";
  /** Whether the machine may run on its seat. */
  usable: boolean;
  seatId?: string;
  /** Until when (unix seconds): the lease's end, or the offline grace's. */
  until?: number;
  /** Why refused: seats_exhausted, seat_expired, seat_released, fingerprint_mismatch, borrow_not_allowed, license_unusable, no_seats. */
  reason?: string;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// The options object, typed as the `ClientOptions` interface above.
    #[wasm_bindgen(typescript_type = "ClientOptions")]
    pub type ClientOptionsArg;
}

fn bad(message: &str) -> JsValue {
    js_args::error("invalid_options", message)
}

fn opt_string(obj: &JsValue, name: &str) -> Result<Option<String>, JsValue> {
    let v = Reflect::get(obj, &name.into()).unwrap_or(JsValue::UNDEFINED);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.as_string()
        .map(Some)
        .ok_or_else(|| bad(&format!("options.{name} must be a string")))
}

fn opt_ms(obj: &JsValue, name: &str) -> Result<Option<u64>, JsValue> {
    let v = Reflect::get(obj, &name.into()).unwrap_or(JsValue::UNDEFINED);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    match v.as_f64() {
        Some(n) if (1.0..=1e12).contains(&n) => Ok(Some(n as u64)),
        _ => Err(bad(&format!("options.{name} must be a positive number"))),
    }
}

/// Where the cache lives.
enum Store {
    Memory(RefCell<HashMap<String, String>>),
    /// `localStorage` (browsers).
    Local(JsValue),
    /// Any object with `get(key)` and `set(key, value)`, sync or async (a file in Node,
    /// IndexedDB, a KV store at the edge).
    Custom(JsValue),
}

struct Inner {
    session: Session,
    urls: Vec<String>,
    license: String,
    instance: Option<String>,
    store: Store,
    cache_key: String,
    /// Whether the session's cache was read from the store yet (once, at the first check).
    cache_loaded: bool,
    started_ms: f64,
    telemetry: Option<ClientTelemetry>,
    request_timeout_ms: u64,
    seat: Option<seat::ClientSeat>,
    /// The `onLicense` callback.
    on_license: Option<Function>,
}

/// The validation client: redundant nodes, circuit breakers, signed leases, offline grace.
#[wasm_bindgen]
pub struct Client {
    inner: Rc<RefCell<Inner>>,
}

impl core::fmt::Debug for Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

#[wasm_bindgen]
impl Client {
    /// Throws an `Error` with `code` `invalid_options` or a key-set code.
    #[wasm_bindgen(constructor)]
    pub fn new(options: ClientOptionsArg) -> Result<Client, JsValue> {
        let raw: JsValue = options.into();
        if !raw.is_object() {
            return Err(bad("options must be an object"));
        }
        let nodes_value = Reflect::get(&raw, &"nodes".into()).unwrap_or(JsValue::UNDEFINED);
        let nodes: Vec<String> = if js_sys::Array::is_array(&nodes_value) {
            js_sys::Array::from(&nodes_value)
                .iter()
                .map(|n| n.as_string().filter(|s| !s.is_empty()))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad("options.nodes must be an array of URLs"))?
        } else {
            return Err(bad("options.nodes must be an array of URLs"));
        };
        if nodes.is_empty() {
            return Err(bad("options.nodes must name at least one node"));
        }
        let license = opt_string(&raw, "licenseToken")?
            .ok_or_else(|| bad("options.licenseToken is required"))?;
        let on_license = match Reflect::get(&raw, &"onLicense".into()) {
            Ok(f) if f.is_function() => Some(Function::from(f)),
            Ok(f) if f.is_undefined() || f.is_null() => None,
            _ => return Err(bad("options.onLicense must be a function")),
        };
        let keys_value = Reflect::get(&raw, &"keys".into()).unwrap_or(JsValue::UNDEFINED);
        let mut keys = crate::js_args::key_set(&keys_value)?;
        let lists = Reflect::get(&raw, &"issuedLists".into()).unwrap_or(JsValue::UNDEFINED);
        if !lists.is_undefined() {
            if !js_sys::Array::is_array(&lists) {
                return Err(bad(
                    "options.issuedLists must be an array of issued-list tokens",
                ));
            }
            for list in js_sys::Array::from(&lists).iter() {
                let text = list.as_string().ok_or_else(|| {
                    bad("options.issuedLists must be an array of issued-list tokens")
                })?;
                keys.add_issued_list(text.as_bytes())
                    .map_err(|e| bad(&format!("options.issuedLists: {e}")))?;
            }
        }
        let cache_value = Reflect::get(&raw, &"cache".into()).unwrap_or(JsValue::UNDEFINED);
        let store = if cache_value.is_undefined()
            || cache_value.as_string().as_deref() == Some("memory")
        {
            Store::Memory(RefCell::new(HashMap::new()))
        } else if cache_value.as_string().as_deref() == Some("localStorage") {
            let ls = Reflect::get(&js_sys::global(), &"localStorage".into())
                .unwrap_or(JsValue::UNDEFINED);
            if ls.is_undefined() || ls.is_null() {
                return Err(js_args::error(
                    "invalid_options",
                    "cache \"localStorage\": this runtime has no localStorage",
                ));
            }
            Store::Local(ls)
        } else if cache_value.is_object()
            && has_fn(&cache_value, "get")
            && has_fn(&cache_value, "set")
        {
            Store::Custom(cache_value)
        } else {
            return Err(js_args::error(
                "invalid_options",
                "options.cache must be \"memory\", \"localStorage\" or an object with get(key) and set(key, value)",
            ));
        };
        let mut policy = Policy::new();
        if let Some(aud) = opt_string(&raw, "audience")? {
            policy = policy.with_audience(aud);
        }
        let defaults = ClientPolicy::default();
        let instance = opt_string(&raw, "instance")?;
        let telemetry = ClientTelemetry::from_options(
            &Reflect::get(&raw, &"telemetry".into()).unwrap_or(JsValue::UNDEFINED),
            &nodes,
            instance.as_deref(),
            now_ms(),
        )?;
        let request_timeout_ms = opt_ms(&raw, "timeoutMs")?.unwrap_or(defaults.request_timeout_ms);
        let default_grace_s = opt_ms(&raw, "offlineGraceSeconds")?
            .unwrap_or(OfflinePolicy::default().default_grace_s);
        let seat = seat::from_options(&raw, license.trim(), &keys, default_grace_s, &store)?;
        let release_on_pagehide = seat.as_ref().is_some_and(|(_, on)| *on);
        let client = Client {
            inner: Rc::new(RefCell::new(Inner {
                session: Session::new(
                    Nodes::new(
                        nodes.len(),
                        ClientPolicy {
                            request_timeout_ms,
                            deadline_ms: opt_ms(&raw, "deadlineMs")?
                                .unwrap_or(defaults.deadline_ms),
                            ..defaults
                        },
                    ),
                    keys,
                    policy,
                    OfflinePolicy {
                        default_grace_s,
                        ..OfflinePolicy::default()
                    },
                    SessionCache::default(),
                ),
                urls: nodes,
                license: license.trim().to_owned(),
                instance,
                store,
                cache_key: opt_string(&raw, "cacheKey")?
                    .unwrap_or_else(|| "lifeline.lease".to_owned()),
                cache_loaded: false,
                started_ms: now_ms(),
                telemetry,
                request_timeout_ms,
                seat: seat.map(|(s, _)| s),
                on_license,
            })),
        };
        if release_on_pagehide {
            seat::release_on_pagehide(&client.inner);
        }
        Ok(client)
    }

    /// Gives the seat back (seat option): resolves to whether a node took it; the seat is
    /// forgotten either way (the next check activates again). Rejects with `code`
    /// `seat_disabled` without the seat option.
    #[wasm_bindgen(unchecked_return_type = "Promise<boolean>")]
    pub fn release(&self) -> Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            seat::release(&inner, false).await.map(JsValue::from)
        })
    }

    /// One check: the nodes, else the cached lease. Resolves to a verdict; rejects only for
    /// a broken cache adapter or runtime (no `fetch`).
    #[wasm_bindgen(unchecked_return_type = "Promise<Verdict>")]
    pub fn check(&self) -> Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let started = now_ms();
            let (verdict, renewed) = check(inner.clone()).await?;
            let js = js_verdict::from_verdict(&verdict, &claims_js(&verdict)?);
            if renewed {
                let callback = inner.borrow().on_license.clone();
                if let Some(callback) = callback {
                    let token = JsValue::from(inner.borrow().license.clone());
                    // The app's callback failing is the app's: the check still stands.
                    let _ = callback.call2(&JsValue::NULL, &token, &js);
                }
            }
            record_telemetry(&inner, &verdict, started);
            seat::with_seat(&js, seat::step(&inner).await?)?;
            Ok(js)
        })
    }

    /// The license the client checks: the one it was given, or the newer version a node
    /// handed out since (kept in the cache, so a restarted client given the old token
    /// checks the newer one).
    #[wasm_bindgen(getter)]
    pub fn license(&self) -> String {
        self.inner.borrow().license.clone()
    }

    /// Posts the verdicts batched so far (telemetry option) now. Resolves to a
    /// `TelemetryStatus`; a failed post is counted there, never a rejection. Rejects with
    /// `code` `telemetry_disabled` when the Client has no telemetry option.
    #[wasm_bindgen(js_name = sendTelemetry, unchecked_return_type = "Promise<TelemetryStatus>")]
    pub fn send_telemetry(&self) -> Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let timeout = inner.borrow().request_timeout_ms;
            crate::telemetry::send(&inner, |i: &mut Inner| i.telemetry.as_mut(), timeout).await
        })
    }
}

/// Adds a check's verdict to the telemetry batch; posts it in the background when due.
fn record_telemetry(inner: &Rc<RefCell<Inner>>, verdict: &Verdict, started_ms: f64) {
    let now = now_ms();
    let due = {
        let mut i = inner.borrow_mut();
        let Some(t) = i.telemetry.as_mut() else {
            return;
        };
        let secs = (now - started_ms) / 1000.0;
        t.batch
            .record(verdict, secs, UnixTime::from_secs((now / 1000.0) as u64));
        t.due(now)
    };
    if due {
        let inner = inner.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let timeout = inner.borrow().request_timeout_ms;
            let _ =
                crate::telemetry::send(&inner, |i: &mut Inner| i.telemetry.as_mut(), timeout).await;
        });
    }
}

fn has_fn(obj: &JsValue, name: &str) -> bool {
    Reflect::get(obj, &name.into()).is_ok_and(|f| f.is_function())
}

fn elapsed(inner: &Rc<RefCell<Inner>>) -> u64 {
    let started = inner.borrow().started_ms;
    (now_ms() - started).max(0.0) as u64
}

/// One check; and whether the license changed (a newer version, verified by the session,
/// is now `inner.license`).
async fn check(inner: Rc<RefCell<Inner>>) -> Result<(Verdict, bool), JsValue> {
    load_cache(&inner).await?;
    let now = UnixTime::from_secs((now_ms() / 1000.0) as u64);
    let mut round = {
        let i = inner.borrow();
        i.session.begin(i.license.as_bytes(), now, elapsed(&inner))
    };
    loop {
        let next = {
            let t = elapsed(&inner);
            inner
                .borrow_mut()
                .session
                .next(&mut round, t, js_sys::Math::random())
        };
        match next {
            Next::Send { node, timeout_ms } => {
                let reply = ask(&inner, round.license(), node, timeout_ms).await;
                let received = {
                    let t = elapsed(&inner);
                    let reply = match &reply {
                        Ok(body) => Reply::Body(body.as_bytes()),
                        Err(outcome) => Reply::Failed(*outcome),
                    };
                    inner
                        .borrow_mut()
                        .session
                        .receive(&mut round, node, t, reply)
                };
                if let Received::Verdict(verdict) = received {
                    save_cache(&inner).await?;
                    return Ok((*verdict, take_license(&inner, &round)));
                }
            }
            Next::Wait { ms } => sleep(ms).await?,
            Next::Done(verdict) => return Ok((*verdict, take_license(&inner, &round))),
        }
    }
}

/// Makes the round's license (a newer version, from a node or the cache) the client's;
/// whether it changed.
fn take_license(inner: &Rc<RefCell<Inner>>, round: &lifeline_core::Round) -> bool {
    let mut i = inner.borrow_mut();
    if i.license == round.license() {
        return false;
    }
    round.license().clone_into(&mut i.license);
    true
}

fn claims_js(verdict: &Verdict) -> Result<JsValue, JsValue> {
    match verdict.claims() {
        Some(c) => convert::claims_to_js(c.as_map()),
        None => Ok(JsValue::NULL),
    }
}

/// `fetch(node/api/v1/validate)` with a timeout, classified.
async fn ask(
    inner: &Rc<RefCell<Inner>>,
    license: &str,
    node: usize,
    timeout_ms: u64,
) -> Result<String, Outcome> {
    let (url, body) = {
        let i = inner.borrow();
        let url = format!(
            "{}/api/v1/validate",
            i.urls.get(node).map_or("", |u| u.trim_end_matches('/'))
        );
        let body = serde_json::json!({ "token": license, "instance": i.instance }).to_string();
        (url, body)
    };
    fetch_with_timeout(&url, &body, timeout_ms)
        .await
        .unwrap_or(Err(Outcome::Unreachable))
}

/// A `fetch` that got an HTTP answer: its status, `Retry-After` (ms) and, for a 2xx, its
/// body text.
struct Fetched {
    status: u16,
    retry_after_ms: Option<u64>,
    text: String,
}

/// `fetch(url, { method, JSON body, keepalive? })` aborted after `timeout_ms`: the answer,
/// or how it failed (timed out, unreachable). `Err` only for a runtime without `fetch`.
async fn fetch_json(
    method: &str,
    url: &str,
    body: &str,
    timeout_ms: u64,
    keepalive: bool,
) -> Result<Result<Fetched, Outcome>, JsValue> {
    let global = js_sys::global();
    let fetch: Function = Reflect::get(&global, &"fetch".into())?.dyn_into()?;
    let controller_ctor: Function = Reflect::get(&global, &"AbortController".into())?.dyn_into()?;
    let controller = Reflect::construct(&controller_ctor, &js_sys::Array::new())?;
    let signal = Reflect::get(&controller, &"signal".into())?;
    let abort: Function = Reflect::get(&controller, &"abort".into())?.dyn_into()?;
    let abort = abort.bind0(&controller);
    let timer = set_timeout(&abort, timeout_ms)?;
    let init = js_sys::Object::new();
    Reflect::set(&init, &"method".into(), &method.into())?;
    let headers = js_sys::Object::new();
    Reflect::set(&headers, &"content-type".into(), &"application/json".into())?;
    Reflect::set(&init, &"headers".into(), &headers)?;
    Reflect::set(&init, &"body".into(), &body.into())?;
    Reflect::set(&init, &"signal".into(), &signal)?;
    if keepalive {
        Reflect::set(&init, &"keepalive".into(), &JsValue::TRUE)?;
    }
    let result = async {
        let response = match JsFuture::from(
            fetch
                .call2(&global, &url.into(), &init)?
                .dyn_into::<Promise>()?,
        )
        .await
        {
            Ok(r) => r,
            Err(e) => {
                let aborted = Reflect::get(&e, &"name".into())
                    .ok()
                    .and_then(|n| n.as_string());
                return Ok(Err(if aborted.as_deref() == Some("AbortError") {
                    Outcome::TimedOut
                } else {
                    Outcome::Unreachable
                }));
            }
        };
        let status = Reflect::get(&response, &"status".into())?
            .as_f64()
            .unwrap_or(0.0) as u16;
        let headers = Reflect::get(&response, &"headers".into())?;
        let get: Function = Reflect::get(&headers, &"get".into())?.dyn_into()?;
        let retry_after_ms = get
            .call1(&headers, &"retry-after".into())
            .ok()
            .and_then(|v| v.as_string())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| s.saturating_mul(1000));
        // Only a success's body is read: an error status is answer enough.
        let text = if (200..300).contains(&status) {
            let text_fn: Function = Reflect::get(&response, &"text".into())?.dyn_into()?;
            match JsFuture::from(text_fn.call0(&response)?.dyn_into::<Promise>()?).await {
                Ok(t) => t.as_string().unwrap_or_default(),
                Err(_) => return Ok(Err(Outcome::TimedOut)),
            }
        } else {
            String::new()
        };
        Ok(Ok(Fetched {
            status,
            retry_after_ms,
            text,
        }))
    }
    .await;
    clear_timeout(&timer);
    result
}

/// POSTs a `validate`: the body of a 200 (its size and shape are the session's to judge: an
/// oversized answer is a node failure), or how it failed.
async fn fetch_with_timeout(
    url: &str,
    body: &str,
    timeout_ms: u64,
) -> Result<Result<String, Outcome>, JsValue> {
    Ok(
        match fetch_json("POST", url, body, timeout_ms, false).await? {
            Ok(f) if f.status == 200 => Ok(f.text),
            Ok(f) => Err(Outcome::Refused {
                status: f.status,
                retry_after_ms: f.retry_after_ms,
            }),
            Err(outcome) => Err(outcome),
        },
    )
}

/// Reads the cache once (a corrupted entry is discarded: never trusted).
async fn load_cache(inner: &Rc<RefCell<Inner>>) -> Result<(), JsValue> {
    if inner.borrow().cache_loaded {
        return Ok(());
    }
    let pending = {
        let i = inner.borrow();
        store_get(&i.store, &i.cache_key)?
    };
    let value = JsFuture::from(Promise::resolve(&pending)).await?;
    let cached = value
        .as_string()
        .and_then(|t| serde_json::from_str::<SessionCache>(&t).ok())
        .unwrap_or_default();
    let mut i = inner.borrow_mut();
    i.session.set_cache(cached);
    i.cache_loaded = true;
    Ok(())
}

async fn save_cache(inner: &Rc<RefCell<Inner>>) -> Result<(), JsValue> {
    let pending = {
        let i = inner.borrow();
        let text = serde_json::to_string(i.session.cache())
            .map_err(|e| js_args::error("internal", &e.to_string()))?;
        store_set(&i.store, &i.cache_key, &text)?
    };
    JsFuture::from(Promise::resolve(&pending)).await.map(|_| ())
}

/// The store's `key` (maybe a promise).
fn store_get(store: &Store, key: &str) -> Result<JsValue, JsValue> {
    match store {
        Store::Memory(m) => Ok(JsValue::from(m.borrow().get(key).cloned())),
        Store::Local(ls) => call_method(ls, "getItem", &[key.into()]),
        Store::Custom(obj) => call_method(obj, "get", &[key.into()]),
    }
}

/// Writes the store's `key` (maybe a promise). The memory store is written through a
/// shared cell, so a shared reference suffices.
fn store_set(store: &Store, key: &str, text: &str) -> Result<JsValue, JsValue> {
    match store {
        Store::Memory(m) => {
            m.borrow_mut().insert(key.to_owned(), text.to_owned());
            Ok(JsValue::UNDEFINED)
        }
        Store::Local(ls) => call_method(ls, "setItem", &[key.into(), text.into()]),
        Store::Custom(obj) => call_method(obj, "set", &[key.into(), text.into()]),
    }
}

fn call_method(obj: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f: Function = Reflect::get(obj, &name.into())?.dyn_into()?;
    let array: js_sys::Array = args.iter().collect();
    f.apply(obj, &array).map_err(|e| {
        js_args::error(
            "cache_failed",
            &format!("cache {name}: {}", e.as_string().unwrap_or_default()),
        )
    })
}
