//! Checks shared by the Node and the browser test binaries: the WASM verifier, driven
//! through its JS API, against every vector file. `wasm_tests!()` declares them all.

/// Declares every shared check as a `#[wasm_bindgen_test]` in the calling test binary.
#[macro_export]
macro_rules! wasm_tests {
    ($($name:ident),* $(,)?) => {
        $(#[wasm_bindgen_test::wasm_bindgen_test]
        fn $name() {
            common::$name();
        })*
    };
}

use lifeline_tests::{embedded_key_set_vectors, embedded_license_vectors};
use lifeline_wasm::{Verifier, inspect};
use serde_json::{Map, Value, json};
use wasm_bindgen::{JsCast, JsValue};

/// `verify` and `verifyMany` called with JS strings, as JS calls them.
trait WithStrings {
    fn verify_str(&mut self, token: &str, now_ms: Option<f64>) -> Result<JsValue, JsValue>;
    fn verify_many_str(
        &mut self,
        tokens: Vec<String>,
        now_ms: Option<f64>,
    ) -> Result<JsValue, JsValue>;
}

impl WithStrings for Verifier {
    fn verify_str(&mut self, token: &str, now_ms: Option<f64>) -> Result<JsValue, JsValue> {
        self.verify(&JsValue::from_str(token), now_ms)
    }

    fn verify_many_str(
        &mut self,
        tokens: Vec<String>,
        now_ms: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let array: js_sys::Array = tokens.iter().map(|t| JsValue::from_str(t)).collect();
        self.verify_many(&array.into(), now_ms)
    }
}

/// A JS value as JSON, the way a JS caller would see it.
pub(crate) fn to_json(value: &JsValue) -> Value {
    let text = js_sys::JSON::stringify(value).unwrap().as_string().unwrap();
    serde_json::from_str(&text).unwrap()
}

fn js(value: &Value) -> JsValue {
    js_sys::JSON::parse(&value.to_string()).unwrap()
}

fn options(value: &Value) -> Option<lifeline_wasm::VerifierOptionsArg> {
    Some(js(value).unchecked_into())
}

/// The native verdict (snake_case) in the JS naming convention (camelCase).
pub(crate) fn camel(native: &Value) -> Value {
    let mut out = Map::new();
    for (k, v) in native.as_object().unwrap() {
        let key = match k.as_str() {
            "expires_at" => "expiresAt",
            "grace_until" => "graceUntil",
            other => other,
        };
        out.insert(key.to_owned(), v.clone());
    }
    Value::Object(out)
}

fn verifier_for(v: &lifeline_tests::LicenseVector) -> Verifier {
    let opts = match &v.audience {
        Some(aud) => json!({ "audience": aud }),
        None => json!({}),
    };
    Verifier::new(js(&v.keys), options(&opts)).unwrap()
}

/// Every vector: the WASM verdict equals the native core's verdict, field for field,
/// fresh, cached, and through `verifyMany`.
pub(crate) fn license_vectors_match_native() {
    let vectors = embedded_license_vectors();
    assert!(vectors.len() > 40);
    for (name, v) in &vectors {
        let expected = camel(&v.verdict);
        let now_ms = Some(v.now as f64 * 1000.0);
        let mut verifier = verifier_for(v);
        let fresh = to_json(&verifier.verify_str(&v.token, now_ms).unwrap());
        assert_eq!(fresh, expected, "{name}: fresh");
        let again = to_json(&verifier.verify_str(&v.token, now_ms).unwrap());
        assert_eq!(again, expected, "{name}: repeated");
        let many = to_json(
            &verifier
                .verify_many_str(vec![v.token.clone(), v.token.clone()], now_ms)
                .unwrap(),
        );
        assert_eq!(
            many,
            json!([expected.clone(), expected.clone()]),
            "{name}: verifyMany"
        );
        assert_eq!(fresh["state"], v.expected.state, "{name}");
    }
}

/// Every key-set vector: loading fails with the same code, as a thrown Error.
pub(crate) fn key_set_vectors_match() {
    for (name, v) in embedded_key_set_vectors() {
        let result = Verifier::new(JsValue::from_str(&v.keys), None);
        match (&result, &v.expected_error) {
            (Ok(_), None) => {}
            (Err(e), Some(code)) => {
                assert!(
                    e.is_instance_of::<js_sys::Error>(),
                    "{name}: throws an Error"
                );
                let got = js_sys::Reflect::get(e, &JsValue::from_str("code"))
                    .unwrap()
                    .as_string();
                assert_eq!(got.as_deref(), Some(code.as_str()), "{name}");
            }
            (Ok(_), Some(code)) => panic!("{name}: loaded, expected {code}"),
            (Err(e), None) => panic!("{name}: refused: {e:?}"),
        }
    }
}

/// Telemetry counts what happened; the Prometheus text says the same.
pub(crate) fn stats_and_metrics_count_verdicts() {
    let vectors = embedded_license_vectors();
    let (_, valid) = vectors.iter().find(|(n, _)| n == "valid").unwrap();
    let (_, expired) = vectors.iter().find(|(n, _)| n == "expired").unwrap();
    let mut verifier = verifier_for(valid);
    let now = Some(valid.now as f64 * 1000.0);
    for _ in 0..3 {
        verifier.verify_str(&valid.token, now).unwrap();
    }
    verifier.verify_str(&expired.token, now).unwrap();
    verifier.verify_str("garbage", now).unwrap();
    let stats = to_json(&verifier.stats().unwrap());
    assert_eq!(stats["count"], 5);
    assert_eq!(stats["byState"], json!({"valid": 3, "invalid": 2}));
    assert_eq!(stats["byReason"], json!({"expired": 1, "malformed": 1}));
    assert_eq!(stats["cacheHits"], 2);
    assert_eq!(
        stats["latencyBuckets"].as_array().unwrap().last().unwrap(),
        5
    );
    let text = verifier.metrics_text();
    assert!(
        text.contains("lifeline_verifier_verdicts_total{state=\"valid\"} 3\n"),
        "{text}"
    );
    assert!(text.contains("lifeline_verifier_reasons_total{reason=\"malformed\"} 1\n"));
    assert!(text.contains("lifeline_verifier_verify_duration_seconds_count 5\n"));
    assert!(text.contains("lifeline_verifier_cache_hits_total 2\n"));
}

/// `telemetryReport` drains the verdicts since the last report into the server's body shape;
/// a name the server would refuse throws `invalid_name` and keeps the batch.
pub(crate) fn telemetry_report_drains_into_the_servers_body() {
    let vectors = embedded_license_vectors();
    let (_, valid) = vectors.iter().find(|(n, _)| n == "valid").unwrap();
    let (_, expired) = vectors.iter().find(|(n, _)| n == "expired").unwrap();
    let mut verifier = verifier_for(valid);
    let now = Some(valid.now as f64 * 1000.0);
    verifier.verify_str(&valid.token, now).unwrap();
    verifier
        .verify_many_str(vec![valid.token.clone(), expired.token.clone()], now)
        .unwrap();
    let names = |v: Value| js(&v).unchecked_into();
    let code = |e: JsValue| {
        js_sys::Reflect::get(&e, &"code".into())
            .unwrap()
            .as_string()
            .unwrap()
    };
    let bad = verifier.telemetry_report(names(json!({"service": "a b"})), None);
    assert_eq!(code(bad.unwrap_err()), "invalid_name");
    let bad = verifier.telemetry_report(names(json!({"instance": "i"})), None);
    assert_eq!(code(bad.unwrap_err()), "invalid_options");
    let end_ms = 1_800_000_000_000.0;
    let report = to_json(
        &verifier
            .telemetry_report(
                names(json!({"service": "svc", "instance": "i-1"})),
                Some(end_ms),
            )
            .unwrap(),
    );
    assert_eq!(report["service"], "svc");
    assert_eq!(report["instance"], "i-1");
    assert_eq!(report["count"], 3);
    assert_eq!(report["by_state"], json!({"valid": 2, "invalid": 1}));
    assert_eq!(report["by_reason"], json!({"expired": 1}));
    assert_eq!(report["window_end"], 1_800_000_000u64);
    assert!(report["window_start"].as_u64().unwrap() <= 1_800_000_000);
    assert_eq!(
        report["latency_bounds_seconds"],
        json!(lifeline_core::LATENCY_BUCKETS_SECS)
    );
    let buckets = report["latency_buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), lifeline_core::LATENCY_BUCKETS_SECS.len() + 1);
    assert_eq!(buckets.last().unwrap(), 3);
    assert_eq!(report["cumulative"], false);
    let again = to_json(
        &verifier
            .telemetry_report(names(json!({"service": "svc"})), Some(end_ms))
            .unwrap(),
    );
    assert_eq!(again["count"], 0);
    assert!(again["instance"].as_str().unwrap().starts_with("js-"));
    assert_eq!(to_json(&verifier.stats().unwrap())["count"], 3);
}

/// `onVerdict` sees every verdict; a throwing callback does not break verification.
pub(crate) fn on_verdict_is_called_and_may_throw() {
    let vectors = embedded_license_vectors();
    let (_, valid) = vectors.iter().find(|(n, _)| n == "valid").unwrap();
    let seen = js_sys::Array::new();
    let push = js_sys::Function::new_with_args(
        "seen",
        "return (v) => { seen.push(v.state); throw new Error('boom'); };",
    )
    .call1(&JsValue::NULL, &seen)
    .unwrap();
    let opts = js_sys::Object::new();
    js_sys::Reflect::set(&opts, &"onVerdict".into(), &push).unwrap();
    let mut verifier = Verifier::new(js(&valid.keys), Some(opts.unchecked_into())).unwrap();
    let now = Some(valid.now as f64 * 1000.0);
    verifier.verify_str(&valid.token, now).unwrap();
    verifier
        .verify_many_str(vec![valid.token.clone(), "x".into()], now)
        .unwrap();
    assert_eq!(to_json(&seen.into()), json!(["valid", "valid", "invalid"]));
}

/// Bad arguments throw Errors with codes; bad tokens never throw.
pub(crate) fn bad_arguments_throw_coded_errors() {
    let code = |e: JsValue| {
        js_sys::Reflect::get(&e, &"code".into())
            .unwrap()
            .as_string()
            .unwrap()
    };
    assert_eq!(
        code(Verifier::new(JsValue::from_f64(3.0), None).unwrap_err()),
        "malformed_key_set"
    );
    assert_eq!(
        code(Verifier::new(JsValue::from_str("{"), None).unwrap_err()),
        "malformed_key_set"
    );
    let keys = json!({"keys": []});
    assert_eq!(
        code(Verifier::new(js(&keys), options(&json!({"audience": 5}))).unwrap_err()),
        "invalid_options"
    );
    assert_eq!(
        code(Verifier::new(js(&keys), options(&json!({"onVerdict": 5}))).unwrap_err()),
        "invalid_options"
    );
    let mut verifier = Verifier::new(js(&keys), None).unwrap();
    assert_eq!(
        code(verifier.verify_str("a.b.c", Some(f64::NAN)).unwrap_err()),
        "invalid_time"
    );
    assert_eq!(
        code(verifier.verify_str("a.b.c", Some(-1.0)).unwrap_err()),
        "invalid_time"
    );
    for token in ["", "\u{0}", "....", &"A".repeat(70_000)] {
        let v = to_json(&verifier.verify_str(token, None).unwrap());
        assert_eq!(v["state"], "invalid");
    }
    assert_eq!(code(inspect("nope").unwrap_err()), "malformed");
    assert_eq!(
        code(verifier.set_keys(JsValue::from_str("[]")).unwrap_err()),
        "malformed_key_set"
    );
}

/// `nowMs` defaults to the runtime's clock (`Date.now()`).
pub(crate) fn now_defaults_to_date_now() {
    let signer = lifeline_core::LicenseSigner::from_seed("clock", &[5; 32]);
    let keys = json!({ "keys": [signer.public_key().unwrap().to_jwk()] });
    let now = (js_sys::Date::now() / 1000.0) as u64;
    let license = |exp: u64| {
        let claims = json!({"iss": "t", "sub": "s", "aud": "a", "jti": "j", "iat": now - 10, "exp": exp, "entitlements": []});
        signer.sign_license(claims.as_object().unwrap()).unwrap()
    };
    let mut verifier = Verifier::new(js(&keys), None).unwrap();
    assert_eq!(
        to_json(&verifier.verify_str(&license(now + 3600), None).unwrap())["state"],
        "valid"
    );
    assert_eq!(
        to_json(&verifier.verify_str(&license(now - 5), None).unwrap())["reason"],
        "expired"
    );
}

/// An override minted offline (no server: signed with the emergency override key, as
/// `lifeline override mint` does) makes a license whose key window closed usable, in this
/// runtime, with the override named in the verdict; refused overrides change nothing.
pub(crate) fn overrides_minted_offline_are_honoured() {
    use lifeline_core::LicenseSigner;
    const NOW: u64 = 1_800_000_000;
    let license_key = LicenseSigner::from_seed("lic-1", &[4; 32]);
    let emergency = LicenseSigner::from_seed("emergency-1", &[5; 32]);
    let mut license_jwk = license_key.public_key().unwrap().to_jwk();
    license_jwk["not_after"] = json!(NOW - 100);
    let emergency_jwk = emergency
        .public_key()
        .unwrap()
        .for_overrides_only()
        .to_jwk();
    let keys = json!({ "keys": [license_jwk, emergency_jwk] });
    let object = |v: Value| v.as_object().unwrap().clone();
    let license = license_key
        .sign_license(&object(json!({
            "iss": "v", "sub": "acme", "aud": "app", "jti": "lic-1",
            "iat": NOW - 10, "exp": NOW + 86_400, "entitlements": ["pro"],
        })))
        .unwrap();
    let mint = |scope: Value, exp: u64| {
        emergency
            .sign_override(&object(json!({
                "iss": "on-call", "jti": "ovr-1", "iat": NOW - 5, "exp": exp,
                "scope": scope, "effect": {"type": "valid"},
                "reason": "key window closed by mistake", "incident": "INC-9",
            })))
            .unwrap()
    };
    let now_ms = Some(NOW as f64 * 1000.0);
    let mut verifier = Verifier::new(js(&keys), None).unwrap();
    let before = to_json(&verifier.verify_str(&license, now_ms).unwrap());
    assert_eq!(before["state"], "invalid");
    assert_eq!(before["reason"], "key_expired");

    let tokens = vec![
        mint(json!({"type": "licensee", "value": "acme"}), NOW + 3600),
        license.clone(),
        mint(json!({"type": "all"}), NOW - 1),
    ];
    let loaded = to_json(&verifier.set_overrides(tokens, now_ms).unwrap());
    assert_eq!(loaded["accepted"].as_array().unwrap().len(), 1);
    assert_eq!(loaded["accepted"][0]["incident"], "INC-9");
    let refused: Vec<&str> = loaded["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(refused, ["wrong_type", "expired"]);

    // The cached token now gets the override, fresh and through verifyMany.
    let after = to_json(&verifier.verify_str(&license, now_ms).unwrap());
    assert_eq!(after["state"], "override");
    assert_eq!(after["reason"], "key_expired");
    assert_eq!(after["override"]["id"], "ovr-1");
    let scope = json!({"type": "licensee", "value": "acme"});
    assert_eq!(after["override"]["scope"], scope);
    assert_eq!(after["override"]["expiresAt"], NOW + 3600);
    let many = to_json(
        &verifier
            .verify_many_str(vec![license.clone()], now_ms)
            .unwrap(),
    );
    assert_eq!(many[0]["state"], "override");
    // After the override's expiry the license alone decides again; clearing works too.
    let later = Some((NOW + 3600) as f64 * 1000.0);
    assert_eq!(
        to_json(&verifier.verify_str(&license, later).unwrap())["state"],
        "invalid"
    );
    verifier.set_overrides(Vec::new(), now_ms).unwrap();
    let cleared = to_json(&verifier.verify_str(&license, now_ms).unwrap());
    assert_eq!(cleared["state"], "invalid");
    // From a signed bundle (as the server publishes it); a stale bundle throws, keeping
    // what was in force.
    let ovr = mint(json!({"type": "all"}), NOW + 600);
    let bundle = license_key.sign_override_bundle(NOW - 5, NOW + 300, &[ovr, "junk".into()]);
    let loaded = to_json(&verifier.set_override_bundle(&bundle, now_ms).unwrap());
    assert_eq!(loaded["accepted"].as_array().unwrap().len(), 1);
    assert_eq!(loaded["skipped"], 1);
    assert_eq!(
        to_json(&verifier.verify_str(&license, now_ms).unwrap())["state"],
        "override"
    );
    let stale = verifier.set_override_bundle(&bundle, Some((NOW + 300) as f64 * 1000.0));
    let err: js_sys::Error = stale.unwrap_err().unchecked_into();
    assert_eq!(
        js_sys::Reflect::get(&err, &"code".into()).unwrap(),
        "expired"
    );
    assert_eq!(
        to_json(&verifier.verify_str(&license, now_ms).unwrap())["state"],
        "override"
    );

    // The emergency key never signs a usable license.
    let forged = emergency
        .sign_license(&object(json!({
            "iss": "v", "sub": "acme", "aud": "app", "jti": "x",
            "iat": NOW - 10, "exp": NOW + 86_400, "entitlements": [],
        })))
        .unwrap();
    let forged = to_json(&verifier.verify_str(&forged, now_ms).unwrap());
    assert_eq!(forged["reason"], "unknown_key");
}
