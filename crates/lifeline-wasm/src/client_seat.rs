//! The `Client`'s seat (option `seat: { fingerprint?, name?, releaseOnPageHide? }`): a shell
//! around the core's `SeatKeeper`, which decides what to send, which answers to trust, when
//! to renew and where the machine stands. This layer does `fetch`, keeps the seat lease in
//! the Client's cache (key `cacheKey + ".seat"`), picks a default fingerprint per runtime and,
//! in browsers, releases the seat when the page goes away (`pagehide`, `fetch` keepalive).

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise, Reflect};
use lifeline_core::{KeySet, SeatCache, SeatKeeper, Standing, UnixTime};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::{Inner, Store, bad, call_method, fetch_json, opt_string};
use crate::timers::now_ms;

/// The seat a Client holds for its license.
pub(super) struct ClientSeat {
    keeper: SeatKeeper,
    name: Option<String>,
    offline_grace_s: u64,
    loaded: bool,
}

/// Reads the `seat` option (absent: no seat). `keys` and the default offline grace as the
/// Client has them.
pub(super) fn from_options(
    raw: &JsValue,
    license: &str,
    keys: &KeySet,
    default_grace_s: u64,
    store: &Store,
) -> Result<Option<(ClientSeat, bool)>, JsValue> {
    let seat = Reflect::get(raw, &"seat".into()).unwrap_or(JsValue::UNDEFINED);
    if seat.is_undefined() || seat.is_null() || seat == JsValue::FALSE {
        return Ok(None);
    }
    let seat = if seat == JsValue::TRUE {
        js_sys::Object::new().into()
    } else if seat.is_object() {
        seat
    } else {
        return Err(bad("options.seat must be true or an object"));
    };
    let fingerprint = match opt_string(&seat, "fingerprint")? {
        Some(f) if lifeline_core::fingerprint_ok(&f) => f,
        Some(_) => return Err(bad("options.seat.fingerprint must be 1 to 256 characters")),
        None => default_fingerprint(store)?,
    };
    let keeper =
        SeatKeeper::for_license(license, &fingerprint, keys.clone(), &SeatCache::default())
            .map_err(|e| bad(&format!("options.seat: the license does not decode: {e}")))?;
    let release_on_pagehide = Reflect::get(&seat, &"releaseOnPageHide".into())
        .ok()
        .is_none_or(|v| v != JsValue::FALSE);
    Ok(Some((
        ClientSeat {
            offline_grace_s: keeper.offline_grace_s(default_grace_s),
            keeper,
            name: opt_string(&seat, "name")?,
            loaded: false,
        },
        release_on_pagehide,
    )))
}

/// Node: SHA-256 of the machine id and the host name. Browsers: a random id kept in
/// `localStorage`. Elsewhere (edge workers): a random id for this Client — pass
/// `seat.fingerprint` there.
fn default_fingerprint(store: &Store) -> Result<String, JsValue> {
    let global = js_sys::global();
    let process = Reflect::get(&global, &"process".into()).unwrap_or(JsValue::UNDEFINED);
    let builtin = Reflect::get(&process, &"getBuiltinModule".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok());
    if let Some(builtin) = builtin {
        let fs = builtin.call1(&process, &"node:fs".into())?;
        let os = builtin.call1(&process, &"node:os".into())?;
        let host = call_method(&os, "hostname", &[])?
            .as_string()
            .unwrap_or_default();
        let id = ["/etc/machine-id", "/var/lib/dbus/machine-id"]
            .iter()
            .find_map(|p| {
                call_method(&fs, "readFileSync", &[(*p).into(), "utf8".into()])
                    .ok()
                    .and_then(|v| v.as_string())
            })
            .unwrap_or_default();
        return Ok(lifeline_core::machine_fingerprint(&id, &host));
    }
    let random = || {
        let mut s = String::new();
        for _ in 0..4 {
            s.push_str(&format!(
                "{:08x}",
                (js_sys::Math::random() * 4_294_967_296.0) as u64
            ));
        }
        s
    };
    if let Store::Local(ls) = store {
        const KEY: &str = "lifeline.seat.fingerprint";
        if let Some(id) = call_method(ls, "getItem", &[KEY.into()])?.as_string() {
            return Ok(id);
        }
        let id = random();
        call_method(ls, "setItem", &[KEY.into(), id.as_str().into()])?;
        return Ok(id);
    }
    Ok(random())
}

/// Where the seat stands as a JS object: `{ state, usable, seatId?, until?, reason? }`.
fn standing_js(standing: &Standing) -> Result<JsValue, JsValue> {
    let out = js_sys::Object::new();
    let set = |k: &str, v: JsValue| Reflect::set(&out, &k.into(), &v).map(|_| ());
    let (state, seat_id, until, reason) = match standing {
        Standing::Held { seat_id, until } => ("held", Some(seat_id), Some(*until), None),
        Standing::Offline { seat_id, until } => ("offline", Some(seat_id), Some(*until), None),
        Standing::Refused { reason } => ("refused", None, None, Some(reason.as_str())),
        Standing::Lost => ("lost", None, None, None),
    };
    set("state", state.into())?;
    set("usable", standing.is_usable().into())?;
    if let Some(id) = seat_id {
        set("seatId", id.as_str().into())?;
    }
    if let Some(until) = until {
        set("until", JsValue::from_f64(until.as_secs() as f64))?;
    }
    if let Some(reason) = reason {
        set("reason", reason.into())?;
    }
    Ok(out.into())
}

fn now() -> UnixTime {
    UnixTime::from_secs((now_ms() / 1000.0) as u64)
}

fn seat_key(inner: &Inner) -> String {
    format!("{}.seat", inner.cache_key)
}

/// Reads the seat cache once (a lease that is not this machine's is dropped by the keeper).
async fn load(inner: &Rc<RefCell<Inner>>) -> Result<(), JsValue> {
    let pending = {
        let i = inner.borrow();
        match &i.seat {
            Some(s) if !s.loaded => Some(super::store_get(&i.store, &seat_key(&i))?),
            _ => None,
        }
    };
    let Some(pending) = pending else {
        return Ok(());
    };
    let value = JsFuture::from(Promise::resolve(&pending)).await?;
    let cache: SeatCache = value
        .as_string()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    if let Some(s) = inner.borrow_mut().seat.as_mut() {
        s.keeper.restore(&cache);
        s.loaded = true;
    }
    Ok(())
}

async fn save(inner: &Rc<RefCell<Inner>>) -> Result<(), JsValue> {
    let pending = {
        let i = inner.borrow();
        let Some(s) = &i.seat else {
            return Ok(());
        };
        let text = serde_json::to_string(&s.keeper.cache())
            .map_err(|e| crate::js_args::error("internal", &e.to_string()))?;
        super::store_set(&i.store, &seat_key(&i), &text)?
    };
    JsFuture::from(Promise::resolve(&pending)).await.map(|_| ())
}

/// After a check: activates or renews when due, then where the seat stands (`None` without
/// the seat option).
pub(super) async fn step(inner: &Rc<RefCell<Inner>>) -> Result<Option<JsValue>, JsValue> {
    if inner.borrow().seat.is_none() {
        return Ok(None);
    }
    load(inner).await?;
    let (due, urls, path, body, timeout) = {
        let i = inner.borrow();
        let Some(s) = &i.seat else {
            return Ok(None);
        };
        let due = s
            .keeper
            .renew_at(js_sys::Math::random())
            .is_none_or(|at| now() >= at);
        let call = s.keeper.call();
        let body = s
            .keeper
            .body(&call, &i.license, s.name.as_deref())
            .to_string();
        (due, i.urls.clone(), call.path(), body, i.request_timeout_ms)
    };
    if due {
        for url in &urls {
            let url = format!("{}{path}", url.trim_end_matches('/'));
            if let Ok((200..=299, text)) = request("POST", &url, &body, timeout, false).await {
                let mut i = inner.borrow_mut();
                let taken = match i.seat.as_mut() {
                    Some(s) => s.keeper.receive(text.as_bytes()).is_ok(),
                    None => false,
                };
                if taken {
                    // A newer version of the license, as validate hands out.
                    let renewed = i.seat.as_ref().and_then(|s| {
                        s.keeper
                            .renewal_in(text.as_bytes(), &i.license, i.session.policy(), now())
                    });
                    if let Some((license, Ok(verdict))) = renewed {
                        i.license.clone_from(&license);
                        i.session.keep_license(license.clone());
                        let callback = i.on_license.clone();
                        drop(i);
                        if let Some(callback) = callback {
                            let claims = match verdict.claims() {
                                Some(c) => crate::convert::claims_to_js(c.as_map())?,
                                None => JsValue::NULL,
                            };
                            let js = crate::js_verdict::from_verdict(&verdict, &claims);
                            let _ = callback.call2(&JsValue::NULL, &JsValue::from(license), &js);
                        }
                    }
                    break;
                }
            }
        }
        save(inner).await?;
    }
    let i = inner.borrow();
    match &i.seat {
        Some(s) => standing_js(&s.keeper.standing(now(), s.offline_grace_s)).map(Some),
        None => Ok(None),
    }
}

/// `client.release()`: gives the seat back to the first node that takes it; forgets it
/// either way. Resolves to whether a node took it.
pub(super) async fn release(inner: &Rc<RefCell<Inner>>, keepalive: bool) -> Result<bool, JsValue> {
    if inner.borrow().seat.is_none() {
        return Err(crate::js_args::error(
            "seat_disabled",
            "this Client has no seat option",
        ));
    }
    load(inner).await?;
    let (urls, release, timeout) = {
        let i = inner.borrow();
        let Some(s) = &i.seat else {
            return Ok(false);
        };
        (
            i.urls.clone(),
            s.keeper.release(&i.license),
            i.request_timeout_ms,
        )
    };
    let mut released = false;
    if let Some((path, body)) = release {
        let body = body.to_string();
        for url in &urls {
            let url = format!("{}{path}", url.trim_end_matches('/'));
            if matches!(
                request("DELETE", &url, &body, timeout, keepalive).await,
                Ok((200..=299, _))
            ) {
                released = true;
                break;
            }
        }
    }
    if let Some(s) = inner.borrow_mut().seat.as_mut() {
        s.keeper.forget();
    }
    save(inner).await?;
    Ok(released)
}

/// In browsers: release the seat when the page goes away.
pub(super) fn release_on_pagehide(inner: &Rc<RefCell<Inner>>) {
    let global = js_sys::global();
    let Ok(add) =
        Reflect::get(&global, &"addEventListener".into()).and_then(|f| f.dyn_into::<Function>())
    else {
        return;
    };
    // Only where pages hide (a window): not Node, not workers.
    if Reflect::get(&global, &"document".into()).is_ok_and(|d| d.is_undefined()) {
        return;
    }
    let inner = inner.clone();
    let handler = Closure::<dyn FnMut()>::new(move || {
        let inner = inner.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let _ = release(&inner, true).await;
        });
    });
    let _ = add.call2(&global, &"pagehide".into(), handler.as_ref());
    // The listener lives as long as the page.
    handler.forget();
}

/// `fetch` with a method, a JSON body and a timeout: the status and body text (a failed
/// request is status 0).
async fn request(
    method: &str,
    url: &str,
    body: &str,
    timeout_ms: u64,
    keepalive: bool,
) -> Result<(u16, String), JsValue> {
    Ok(
        match fetch_json(method, url, body, timeout_ms, keepalive).await? {
            Ok(f) => (f.status, f.text),
            Err(_) => (0, String::new()),
        },
    )
}

/// What `check()` resolves to with a seat: the verdict with `seat` set.
pub(super) fn with_seat(verdict: &JsValue, seat: Option<JsValue>) -> Result<(), JsValue> {
    if let Some(seat) = seat {
        Reflect::set(verdict, &"seat".into(), &seat)?;
    }
    Ok(())
}
