//! Field telemetry for JS: the core's `TelemetryBatch` drained into the body of the license
//! server's `POST /api/v1/telemetry` (`verifier.telemetryReport(...)`, pure), and the
//! `Client`'s batched posts over `fetch` (`telemetry` option, `client.sendTelemetry()`).
//! A post's failure is counted, never thrown, and never touches a verdict.

use js_sys::{Function, Promise, Reflect};
use lifeline_core::{TelemetryBatch, TelemetryReport, UnixTime, telemetry_name, telemetry_name_ok};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::{convert, js_args};

#[wasm_bindgen(typescript_custom_section)]
const TELEMETRY_TYPES: &'static str = r#"
/** Names for `verifier.telemetryReport(...)`: 1 to 128 of A-Z a-z 0-9 . _ - : / each. */
export interface TelemetryOptions {
  /** The service embedding the verifier. */
  service: string;
  /** This instance of it (default: a random id kept by this Verifier). */
  instance?: string;
}
/** The body of the license server's `POST /api/v1/telemetry`: post it as JSON. */
export interface TelemetryReport {
  service: string;
  instance: string;
  /** Unix seconds: the window's first verdict (or the previous report). */
  window_start: number;
  /** Unix seconds: when the report was taken. */
  window_end: number;
  /** Verdicts by state; adds up to `count`. */
  by_state: Record<string, number>;
  /** Verdicts by reason code. */
  by_reason: Record<string, number>;
  /** Cumulative counts per bucket of `latency_bounds_seconds`, then +Inf (= `count`). */
  latency_buckets: number[];
  latency_bounds_seconds: number[];
  latency_sum_seconds: number;
  /** Verdicts since the previous report. */
  count: number;
  /** Always false: the counts are this window's. */
  cumulative: false;
}
/** `telemetry` option of `new Client(...)`: post the checks' verdicts in batches. */
export interface ClientTelemetryOptions {
  /** An API token of the license server (a viewer token is enough). Never logged. */
  token: string;
  /** The service embedding the client (1 to 128 of A-Z a-z 0-9 . _ - : /). */
  service: string;
  /** This instance (default: the Client's `instance`, else a random id). */
  instance?: string;
  /** The server to post to (base URL; default: the first of `nodes` that answers). */
  url?: string;
  /** Post a batch after a check when this long passed since the last post, ms (default 60000). */
  everyMs?: number;
}
/** What `client.sendTelemetry()` did and the running totals; it never rejects. */
export interface TelemetryStatus {
  /** Whether this call delivered a report (false when there was nothing to send). */
  delivered: boolean;
  /** Reports the server accepted. */
  posted: number;
  /** Posts that failed (no node reachable, or refused). */
  failed: number;
  /** Verdicts delivered. */
  verdictsSent: number;
  /** Verdicts waiting for the next post. */
  pending: number;
  /** Why the latest failed post failed (never the token), or null. */
  lastError: string | null;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// The `telemetryReport` argument, typed as `TelemetryOptions`.
    #[wasm_bindgen(typescript_type = "TelemetryOptions")]
    pub type TelemetryOptionsArg;
}

fn bad(message: &str) -> JsValue {
    js_args::error("invalid_options", message)
}

fn get(obj: &JsValue, name: &str) -> JsValue {
    Reflect::get(obj, &name.into()).unwrap_or(JsValue::UNDEFINED)
}

fn opt_string(obj: &JsValue, what: &str, name: &str) -> Result<Option<String>, JsValue> {
    let v = get(obj, name);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.as_string()
        .map(Some)
        .ok_or_else(|| bad(&format!("{what}.{name} must be a string")))
}

/// A service or instance name the server accepts, else `invalid_name`.
fn checked_name(name: String, what: &str) -> Result<String, JsValue> {
    if telemetry_name_ok(&name) {
        Ok(name)
    } else {
        Err(js_args::error(
            "invalid_name",
            &format!("{what} must be 1 to 128 of A-Z a-z 0-9 . _ - : /"),
        ))
    }
}

/// A random instance name, `js-` and 12 hex digits.
pub(crate) fn random_instance() -> String {
    let n = (js_sys::Math::random() * 281_474_976_710_656.0) as u64;
    format!("js-{n:012x}")
}

/// `verifier.telemetryReport(options, nowMs)`: drains `batch` into a report object.
pub(crate) fn report(
    batch: &mut TelemetryBatch,
    options: &JsValue,
    default_instance: &str,
    now: UnixTime,
) -> Result<JsValue, JsValue> {
    if !options.is_object() {
        return Err(bad("telemetryReport needs { service, instance? }"));
    }
    let service = opt_string(options, "options", "service")?
        .ok_or_else(|| bad("options.service is required"))?;
    let service = checked_name(service, "service")?;
    let instance = match opt_string(options, "options", "instance")? {
        Some(i) => checked_name(i, "instance")?,
        None => default_instance.to_owned(),
    };
    let report = batch
        .drain(&service, &instance, now)
        .map_err(|e| js_args::error(e.code(), &e.to_string()))?;
    convert::to_js(&report)
}

/// The `Client`'s telemetry: the batch, where and how to post it, and the counts.
pub(crate) struct ClientTelemetry {
    urls: Vec<String>,
    token: String,
    service: String,
    instance: String,
    every_ms: f64,
    pub(crate) batch: TelemetryBatch,
    last_post_ms: f64,
    in_flight: bool,
    posted: u64,
    failed: u64,
    verdicts_sent: u64,
    last_error: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Status<'a> {
    delivered: bool,
    posted: u64,
    failed: u64,
    verdicts_sent: u64,
    pending: u64,
    last_error: Option<&'a str>,
}

impl ClientTelemetry {
    /// From `options.telemetry` (absent: `None`). `nodes` are the Client's, `instance` its
    /// `instance` option.
    pub(crate) fn from_options(
        raw: &JsValue,
        nodes: &[String],
        instance: Option<&str>,
        now_ms: f64,
    ) -> Result<Option<Self>, JsValue> {
        if raw.is_undefined() || raw.is_null() {
            return Ok(None);
        }
        if !raw.is_object() {
            return Err(bad(
                "options.telemetry must be an object { token, service, ... }",
            ));
        }
        let what = "options.telemetry";
        let token = opt_string(raw, what, "token")?
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| bad("options.telemetry.token is required"))?;
        let service = opt_string(raw, what, "service")?
            .ok_or_else(|| bad("options.telemetry.service is required"))?;
        if !telemetry_name_ok(&service) {
            return Err(bad(
                "options.telemetry.service must be 1 to 128 of A-Z a-z 0-9 . _ - : /",
            ));
        }
        let instance = match opt_string(raw, what, "instance")? {
            Some(i) if telemetry_name_ok(&i) => i,
            Some(_) => {
                return Err(bad(
                    "options.telemetry.instance must be 1 to 128 of A-Z a-z 0-9 . _ - : /",
                ));
            }
            None => instance.map_or_else(random_instance, |i| telemetry_name(i, "js")),
        };
        let urls = match opt_string(raw, what, "url")? {
            Some(url) if !url.is_empty() => vec![url],
            Some(_) => return Err(bad("options.telemetry.url must be a URL")),
            None => nodes.to_vec(),
        };
        let every = get(raw, "everyMs");
        let every_ms = if every.is_undefined() || every.is_null() {
            60_000.0
        } else {
            match every.as_f64() {
                Some(n) if (0.0..=1e12).contains(&n) => n,
                _ => return Err(bad("options.telemetry.everyMs must be a number ≥ 0")),
            }
        };
        Ok(Some(Self {
            urls,
            token,
            service,
            instance,
            every_ms,
            batch: TelemetryBatch::new(),
            last_post_ms: now_ms,
            in_flight: false,
            posted: 0,
            failed: 0,
            verdicts_sent: 0,
            last_error: None,
        }))
    }

    /// Whether a batch should go now (after a check): `everyMs` passed and no post in flight.
    pub(crate) fn due(&self, now_ms: f64) -> bool {
        !self.in_flight && !self.batch.is_empty() && now_ms - self.last_post_ms >= self.every_ms
    }

    fn status(&self, delivered: bool) -> Result<JsValue, JsValue> {
        convert::to_js(&Status {
            delivered,
            posted: self.posted,
            failed: self.failed,
            verdicts_sent: self.verdicts_sent,
            pending: self.batch.count(),
            last_error: self.last_error.as_deref(),
        })
    }
}

/// What a post came to.
enum Posted {
    Accepted,
    /// Refused by a node: (why, whether the verdicts should go with the next post).
    Refused(String, bool),
    Unreachable(String),
}

/// Drains the Client's batch and posts it; resolves to the status (never rejects for a
/// failed post). `T` reaches the telemetry inside the Client's shared state.
pub(crate) async fn send<T>(
    shared: &std::rc::Rc<std::cell::RefCell<T>>,
    field: fn(&mut T) -> Option<&mut ClientTelemetry>,
    timeout_ms: u64,
) -> Result<JsValue, JsValue> {
    let now_ms = js_sys::Date::now();
    let (report, urls, token) = {
        let mut s = shared.borrow_mut();
        let Some(t) = field(&mut s) else {
            return Err(js_args::error(
                "telemetry_disabled",
                "this Client was made without the telemetry option",
            ));
        };
        if t.batch.is_empty() {
            return t.status(false);
        }
        let now = UnixTime::from_secs((now_ms / 1000.0) as u64);
        let report = t
            .batch
            .drain(&t.service, &t.instance, now)
            .map_err(|e| js_args::error(e.code(), &e.to_string()))?;
        t.last_post_ms = now_ms;
        t.in_flight = true;
        (report, t.urls.clone(), t.token.clone())
    };
    let outcome = post(&report, &urls, &token, timeout_ms).await;
    let mut s = shared.borrow_mut();
    let Some(t) = field(&mut s) else {
        return Ok(JsValue::UNDEFINED);
    };
    t.in_flight = false;
    let delivered = match outcome {
        Posted::Accepted => {
            t.posted += 1;
            t.verdicts_sent += report.count;
            true
        }
        Posted::Refused(why, retry) => {
            t.failed += 1;
            t.last_error = Some(why);
            if retry {
                t.batch.restore(&report);
            }
            false
        }
        Posted::Unreachable(why) => {
            t.failed += 1;
            t.last_error = Some(why);
            t.batch.restore(&report);
            false
        }
    };
    t.status(delivered)
}

/// The report to the first URL that answers at all.
async fn post(report: &TelemetryReport, urls: &[String], token: &str, timeout_ms: u64) -> Posted {
    // JS's own JSON.stringify: no float formatting code in the module for this.
    let Some(body) = convert::to_js(report)
        .ok()
        .and_then(|v| js_sys::JSON::stringify(&v).ok())
        .and_then(|s| s.as_string())
    else {
        return Posted::Refused("cannot encode the report".to_owned(), false);
    };
    let mut unreachable = Vec::new();
    for base in urls {
        let url = format!("{}/api/v1/telemetry", base.trim_end_matches('/'));
        match fetch_status(&url, &body, token, timeout_ms).await {
            Ok(Some((status, _))) if (200..300).contains(&status) => return Posted::Accepted,
            Ok(Some((status, code))) => {
                let code = code.map(|c| format!(" ({c})")).unwrap_or_default();
                return Posted::Refused(
                    format!("{url} answered HTTP {status}{code}"),
                    status == 429 || status >= 500,
                );
            }
            Ok(None) | Err(_) => unreachable.push(url),
        }
    }
    Posted::Unreachable(format!("no node reachable ({})", unreachable.join(", ")))
}

/// POSTs `body` with the bearer token: `Some((status, problem code))`, or `None` when no
/// answer came in time.
async fn fetch_status(
    url: &str,
    body: &str,
    token: &str,
    timeout_ms: u64,
) -> Result<Option<(u16, Option<String>)>, JsValue> {
    let global = js_sys::global();
    let fetch: Function = Reflect::get(&global, &"fetch".into())?.dyn_into()?;
    let controller_ctor: Function = Reflect::get(&global, &"AbortController".into())?.dyn_into()?;
    let controller = Reflect::construct(&controller_ctor, &js_sys::Array::new())?;
    let signal = Reflect::get(&controller, &"signal".into())?;
    let abort: Function = Reflect::get(&controller, &"abort".into())?.dyn_into()?;
    let timer = crate::timers::set_timeout(&abort.bind0(&controller), timeout_ms)?;
    let init = js_sys::Object::new();
    Reflect::set(&init, &"method".into(), &"POST".into())?;
    let headers = js_sys::Object::new();
    Reflect::set(&headers, &"content-type".into(), &"application/json".into())?;
    Reflect::set(
        &headers,
        &"authorization".into(),
        &format!("Bearer {token}").into(),
    )?;
    Reflect::set(&init, &"headers".into(), &headers)?;
    Reflect::set(&init, &"body".into(), &body.into())?;
    Reflect::set(&init, &"signal".into(), &signal)?;
    let result = async {
        let promise: Promise = fetch.call2(&global, &url.into(), &init)?.dyn_into()?;
        let Ok(response) = JsFuture::from(promise).await else {
            return Ok(None);
        };
        let status = Reflect::get(&response, &"status".into())?
            .as_f64()
            .unwrap_or(0.0) as u16;
        // Read the body (frees the connection; a problem's `code` says why).
        let text: Function = Reflect::get(&response, &"text".into())?.dyn_into()?;
        let code = match JsFuture::from(text.call0(&response)?.dyn_into::<Promise>()?).await {
            Ok(t) => t
                .as_string()
                .filter(|t| t.len() <= 64 * 1024)
                .and_then(|t| js_sys::JSON::parse(&t).ok())
                .filter(JsValue::is_object)
                .and_then(|v| Reflect::get(&v, &"code".into()).ok())
                .and_then(|c| c.as_string()),
            Err(_) => None,
        };
        Ok(Some((status, code)))
    }
    .await;
    crate::timers::clear_timeout(&timer);
    result
}
