use lifeline_core::{
    KeySet, Override, OverrideBundle, Policy, State, TelemetryBatch, TokenCache, UnixTime,
    UnverifiedLicense, VerifyStats,
};
use wasm_bindgen::prelude::*;

use crate::js_args::{key_set, now_from_ms};
use crate::js_text::TextBuffer;
use crate::js_verdict::{self, Entry};
use crate::types::{
    OverrideInfo, OverridesLoaded, RefusedOverride, VerifierOptions, VerifierStats,
};
use crate::{convert, js_args};

#[wasm_bindgen]
extern "C" {
    /// The options object, typed as the generated `VerifierOptions` interface.
    #[wasm_bindgen(typescript_type = "VerifierOptions")]
    pub type VerifierOptionsArg;

    /// `performance.now()`: present in browsers, workers and Node ≥ 16.
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
}

/// Verifies licenses against one key set. Keeps the parsed keys and a bounded cache of
/// signature results, so a token seen before costs a lookup plus the time checks.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Verifier {
    keys: KeySet,
    policy: Policy,
    cache: TokenCache<Entry>,
    stats: VerifyStats,
    /// Verdicts since the last `telemetryReport` (the stats above are since construction).
    telemetry: TelemetryBatch,
    /// The default telemetry instance name (random, per Verifier).
    instance: String,
    cache_hits: u64,
    on_verdict: Option<js_sys::Function>,
    /// Override tokens as given (re-checked when the key set changes) and those accepted.
    override_tokens: Vec<String>,
    overrides: Vec<Override>,
    /// Receives each token's bytes (see `js_text`).
    text: TextBuffer,
}

#[wasm_bindgen]
impl Verifier {
    /// `keys`: a JWKS object or its JSON text. Throws an `Error` whose `code` says why a key
    /// set is refused (`malformed_key_set`, `weak_key`, `duplicate_kid`, ...).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "Jwks | string")] keys: JsValue,
        options: Option<VerifierOptionsArg>,
    ) -> Result<Verifier, JsValue> {
        let keys = key_set(&keys)?;
        let options: JsValue = options.map_or(JsValue::UNDEFINED, Into::into);
        let parsed: VerifierOptions = if options.is_undefined() || options.is_null() {
            VerifierOptions::default()
        } else {
            serde_wasm_bindgen::from_value(options.clone())
                .map_err(|e| js_args::error("invalid_options", &format!("options: {e}")))?
        };
        let on_verdict = if options.is_object() {
            let f = js_sys::Reflect::get(&options, &JsValue::from_str("onVerdict"))
                .unwrap_or(JsValue::UNDEFINED);
            if f.is_undefined() || f.is_null() {
                None
            } else {
                Some(f.dyn_into::<js_sys::Function>().map_err(|_| {
                    js_args::error("invalid_options", "options.onVerdict must be a function")
                })?)
            }
        } else {
            None
        };
        let mut policy = Policy::new();
        if let Some(audience) = parsed.audience {
            policy = policy.with_audience(audience);
        }
        if let Some(leeway) = parsed.leeway_seconds {
            policy = policy.with_leeway_secs(u64::from(leeway));
        }
        let entries = parsed
            .cache_size
            .map_or(lifeline_core::DEFAULT_CACHE_ENTRIES, |n| n as usize);
        Ok(Self {
            keys,
            policy,
            cache: TokenCache::new(entries),
            stats: VerifyStats::new(),
            telemetry: TelemetryBatch::new(),
            instance: crate::telemetry::random_instance(),
            cache_hits: 0,
            on_verdict,
            override_tokens: Vec::new(),
            overrides: Vec::new(),
            text: TextBuffer::default(),
        })
    }

    /// Verifies one token. `nowMs` defaults to `Date.now()`. Never throws for a bad token:
    /// the verdict says `invalid` and why.
    #[wasm_bindgen(unchecked_return_type = "Verdict")]
    pub fn verify(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] token: &JsValue,
        #[wasm_bindgen(js_name = nowMs)] now_ms: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let now = now_from_ms(now_ms)?;
        let mut text = std::mem::take(&mut self.text);
        let verdict = text
            .read(token, "token")
            .and_then(|token| self.verify_one(token, now, wall(now, now_ms)));
        self.text = text;
        verdict
    }

    /// Verifies many tokens in one call across the JS/WASM boundary; verdicts in order.
    #[wasm_bindgen(js_name = verifyMany, unchecked_return_type = "Verdict[]")]
    pub fn verify_many(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string[]")] tokens: &JsValue,
        #[wasm_bindgen(js_name = nowMs)] now_ms: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let now = now_from_ms(now_ms)?;
        let wall = wall(now, now_ms);
        let tokens = js_args::token_array(tokens)?;
        let out = js_sys::Array::new_with_length(tokens.length());
        let mut text = std::mem::take(&mut self.text);
        let mut result = Ok(());
        for i in 0..tokens.length() {
            result = text
                .read(&tokens.get(i), "every token")
                .and_then(|token| self.verify_one(token, now, wall))
                .map(|verdict| out.set(i, verdict));
            if result.is_err() {
                break;
            }
        }
        self.text = text;
        result.map(|()| out.into())
    }

    /// Replaces the key set (e.g. after fetching a rotated one) and clears the cache.
    #[wasm_bindgen(js_name = setKeys)]
    pub fn set_keys(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Jwks | string")] keys: JsValue,
    ) -> Result<(), JsValue> {
        self.keys = key_set(&keys)?;
        self.cache.clear();
        let tokens = std::mem::take(&mut self.override_tokens);
        self.load_overrides(
            tokens,
            UnixTime::from_secs((js_sys::Date::now() / 1000.0) as u64),
        );
        Ok(())
    }

    /// Adds the issued list of a compromised key (`lifeline-issued+jwt`, from the server's
    /// `/.well-known/lifeline/issued/KID`), verified against the key set: tokens of that key
    /// on the list verify again, every other one stays `key_compromised`. Resolves to
    /// `{ kid, signedBy, count }`; throws an `Error` whose `code` is the reason the list is
    /// refused (`bad_signature`, `key_compromised` when the compromised key signed it, ...).
    /// A later `setKeys` drops the lists: add them again.
    #[wasm_bindgen(js_name = addIssuedList, unchecked_return_type = "IssuedListInfo")]
    pub fn add_issued_list(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] token: &JsValue,
    ) -> Result<JsValue, JsValue> {
        let text = token.as_string().ok_or_else(|| {
            js_args::error("invalid_argument", "the issued list must be a string")
        })?;
        let list = self.keys.add_issued_list(text.as_bytes()).map_err(|e| {
            js_args::error(e.reason().as_str(), &format!("issued list refused: {e}"))
        })?;
        convert::to_js(&crate::types::IssuedListInfo {
            kid: list.kid().to_owned(),
            signed_by: list.signed_by().to_owned(),
            count: list.len(),
        })
    }

    /// Replaces the temporary overrides (`lifeline-override+jwt` tokens, e.g. from the
    /// server's override bundle or minted offline with the emergency key). Each is checked
    /// against the key set now; refused ones are reported and ignored. Verdicts then apply
    /// the first override that covers a license and changes its outcome (state `override`).
    #[wasm_bindgen(js_name = setOverrides, unchecked_return_type = "OverridesLoaded")]
    pub fn set_overrides(
        &mut self,
        tokens: Vec<String>,
        #[wasm_bindgen(js_name = nowMs)] now_ms: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let now = now_from_ms(now_ms)?;
        convert::to_js(&self.load_overrides(tokens, now))
    }

    /// Replaces the overrides with those of a signed bundle from the server
    /// (`GET /api/v1/overrides/bundle`). Throws an `Error` (`code` `expired`,
    /// `bad_signature`, `unknown_key`, `wrong_type`, `malformed`...) when the bundle itself is
    /// stale or not authentic; the overrides in force stay as they were then.
    #[wasm_bindgen(js_name = setOverrideBundle, unchecked_return_type = "OverridesLoaded")]
    pub fn set_override_bundle(
        &mut self,
        bundle: &str,
        #[wasm_bindgen(js_name = nowMs)] now_ms: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let now = now_from_ms(now_ms)?;
        let loaded = self.apply_bundle(bundle, now)?;
        convert::to_js(&loaded)
    }

    /// Counts by state and reason and a latency histogram of verify calls.
    #[wasm_bindgen(unchecked_return_type = "VerifierStats")]
    pub fn stats(&self) -> Result<JsValue, JsValue> {
        let s = &self.stats;
        convert::to_js(&VerifierStats {
            by_state: s.by_state.clone(),
            by_reason: s.by_reason.clone(),
            latency_buckets: s.latency_buckets.clone(),
            latency_bounds_seconds: s.latency_bounds_secs.clone(),
            latency_sum_seconds: s.latency_sum_secs,
            count: s.count,
            cache_hits: self.cache_hits,
            cached_tokens: self.cache.len(),
        })
    }

    /// The verdicts given since the previous call (or construction) as the body of the
    /// license server's `POST /api/v1/telemetry`, and an empty batch in their place: pure,
    /// post it yourself (`fetch(url, { method: 'POST', headers: { authorization, 'content-type':
    /// 'application/json' }, body: JSON.stringify(report) })`). `nowMs` (default `Date.now()`)
    /// ends the window. Throws `code` `invalid_name` for a name the server would refuse
    /// (the batch is kept), `invalid_options` without `service`.
    #[wasm_bindgen(js_name = telemetryReport, unchecked_return_type = "TelemetryReport")]
    pub fn telemetry_report(
        &mut self,
        options: crate::telemetry::TelemetryOptionsArg,
        #[wasm_bindgen(js_name = nowMs)] now_ms: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let now = now_from_ms(now_ms)?;
        crate::telemetry::report(&mut self.telemetry, &options.into(), &self.instance, now)
    }

    /// The same telemetry in the Prometheus text format (metric prefix `lifeline_verifier`).
    #[wasm_bindgen(js_name = metricsText)]
    pub fn metrics_text(&self) -> String {
        let mut text = self.stats.to_prometheus("lifeline_verifier");
        text.push_str("# HELP lifeline_verifier_cache_hits_total Verdicts whose signature result came from the cache.\n");
        text.push_str("# TYPE lifeline_verifier_cache_hits_total counter\n");
        text.push_str(&format!(
            "lifeline_verifier_cache_hits_total {}\n",
            self.cache_hits
        ));
        text
    }
}

impl Verifier {
    fn apply_bundle(&mut self, bundle: &str, now: UnixTime) -> Result<OverridesLoaded, JsValue> {
        let verified = OverrideBundle::verify(
            bundle.as_bytes(),
            &self.keys,
            now,
            self.policy.leeway_secs(),
        )
        .map_err(|e| js_args::error(e.reason().as_str(), &format!("override bundle: {e}")))?;
        // Keep the tokens that verified, so a later setKeys re-checks them.
        let mut loaded = self.load_overrides(verified.tokens, now);
        loaded.skipped = verified.skipped;
        Ok(loaded)
    }

    fn load_overrides(&mut self, tokens: Vec<String>, now: UnixTime) -> OverridesLoaded {
        let mut loaded = OverridesLoaded::default();
        self.overrides.clear();
        for (i, token) in tokens.iter().enumerate() {
            match Override::verify(token.as_bytes(), &self.keys, now, self.policy.leeway_secs()) {
                Ok(o) => {
                    loaded.accepted.push(OverrideInfo::from(&o));
                    self.overrides.push(o);
                }
                Err(e) => loaded.refused.push(RefusedOverride {
                    index: u32::try_from(i).unwrap_or(u32::MAX),
                    reason: e.reason().as_str(),
                    detail: e.to_string(),
                }),
            }
        }
        self.override_tokens = tokens;
        loaded
    }

    /// The one verification path: cached entry or parse + authenticate, then the core's
    /// checks of key status, audience and time on every call.
    fn verify_one(
        &mut self,
        token: &[u8],
        now: UnixTime,
        wall: UnixTime,
    ) -> Result<JsValue, JsValue> {
        let started = performance_now();
        let token = token.trim_ascii();
        let cached = self.cache.get(token).map(|entry| self.answer(entry, now));
        let hit = cached.is_some();
        let (js, state, reason) = match cached {
            Some(answer) => answer,
            None => {
                match UnverifiedLicense::parse(token).and_then(|l| l.authenticate(&self.keys)) {
                    Ok(signed) => {
                        let entry = Entry::new(signed)?;
                        let answer = self.answer(&entry, now);
                        self.cache.insert(token, entry);
                        answer
                    }
                    Err(error) => {
                        let verdict = lifeline_core::Verdict::from_error(error);
                        let js = js_verdict::from_verdict(&verdict, &JsValue::NULL);
                        (js, verdict.state(), verdict.reason())
                    }
                }
            }
        };
        let elapsed_secs = (performance_now() - started) / 1000.0;
        self.stats.record_outcome(state, reason, elapsed_secs);
        self.telemetry
            .record_outcome(state, reason, elapsed_secs, wall);
        if hit {
            self.cache_hits += 1;
        }
        if let Some(callback) = &self.on_verdict {
            // A throwing callback must not break verification.
            let _ = callback.call1(&JsValue::NULL, &js);
        }
        Ok(js)
    }

    fn answer(
        &self,
        entry: &Entry,
        now: UnixTime,
    ) -> (JsValue, State, Option<lifeline_core::Reason>) {
        match entry.signed.check(&self.keys, &self.policy, now) {
            Ok(State::Valid) if self.overrides.is_empty() => (entry.valid(), State::Valid, None),
            _ => {
                let verdict = entry
                    .signed
                    .evaluate(&self.keys, &self.policy, now)
                    .with_overrides(&self.overrides, now);
                (entry.with(&verdict), verdict.state(), verdict.reason())
            }
        }
    }
}

/// The wall clock for telemetry windows: `now` itself unless the caller chose `nowMs`.
fn wall(now: UnixTime, now_ms: Option<f64>) -> UnixTime {
    match now_ms {
        None => now,
        Some(_) => UnixTime::from_secs((js_sys::Date::now() / 1000.0) as u64),
    }
}
