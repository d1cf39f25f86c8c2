//! How the console writes times, durations and states. Pure functions (the clock is read in
//! one place, [`now`]), unit-tested on the host.

use lifeline_api::LicenseState;

/// The browser's clock, unix seconds.
pub fn now() -> u64 {
    // `Date::now()` is milliseconds as an f64; negative or NaN clocks read as the epoch.
    let ms = js_sys::Date::now();
    if ms.is_finite() && ms > 0.0 {
        (ms / 1000.0) as u64
    } else {
        0
    }
}

/// The API's name of a license state.
pub const fn license_state(state: LicenseState) -> &'static str {
    match state {
        LicenseState::Valid => "valid",
        LicenseState::Grace => "grace",
        LicenseState::Expired => "expired",
        LicenseState::Revoked => "revoked",
    }
}

/// Parses a state name as the API writes it.
pub fn parse_license_state(name: &str) -> Option<LicenseState> {
    [
        LicenseState::Valid,
        LicenseState::Grace,
        LicenseState::Expired,
        LicenseState::Revoked,
    ]
    .into_iter()
    .find(|s| license_state(*s) == name)
}

/// The browser's time zone at `unix`: minutes east of UTC (the other clock read, beside
/// [`now`]).
pub fn zone_offset_minutes(unix: u64) -> i64 {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(unix as f64 * 1000.0));
    let west = date.get_timezone_offset();
    if west.is_finite() { -(west as i64) } else { 0 }
}

/// `2026-11-29 06:58 UTC+1`: in the browser's time zone.
pub fn date_time(unix: u64) -> String {
    date_time_in(unix, zone_offset_minutes(unix))
}

/// `2026-11-29 06:58 UTC+1` for a zone `offset` minutes east of UTC (`UTC`, `UTC−5`,
/// `UTC+5:30`).
pub fn date_time_in(unix: u64, offset: i64) -> String {
    let local = unix.saturating_add_signed(offset.saturating_mul(60));
    let (y, m, d) = civil_from_days(local / 86_400);
    let secs = local % 86_400;
    let zone = match offset {
        0 => String::new(),
        _ => {
            let sign = if offset > 0 { '+' } else { '−' };
            let (h, min) = (offset.unsigned_abs() / 60, offset.unsigned_abs() % 60);
            if min == 0 {
                format!("{sign}{h}")
            } else {
                format!("{sign}{h}:{min:02}")
            }
        }
    };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC{zone}",
        secs / 3600,
        (secs % 3600) / 60
    )
}

/// `2026-11-29 06:58 UTC+1 (in 3 days)`: the time and how far it is from `now`.
pub fn when(unix: u64, now: u64) -> String {
    format!("{} ({})", date_time(unix), relative(unix, now))
}

/// `2026-11-29` (the value of an `<input type="date">`).
pub fn date(unix: u64) -> String {
    let (y, m, d) = civil_from_days(unix / 86_400);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Parses `YYYY-MM-DD` to the end of that day (23:59:59 UTC), the natural expiry of a
/// license "valid until" a date.
pub fn parse_date_end_of_day(text: &str) -> Option<u64> {
    let mut parts = text.trim().splitn(3, '-');
    let y: u64 = parts.next()?.parse().ok()?;
    let m: u64 = parts.next()?.parse().ok()?;
    let d: u64 = parts.next()?.parse().ok()?;
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400 + 86_399)
}

/// `in 3 days`, `5 min ago`, `now`: how far `at` is from `now`, coarsely.
pub fn relative(at: u64, now: u64) -> String {
    let (span, future) = if at >= now {
        (at - now, true)
    } else {
        (now - at, false)
    };
    let text = duration(span);
    if span < 60 {
        "now".to_owned()
    } else if future {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

/// `45 s`, `12 min`, `5 h`, `3 days`, `2 years`: one unit, rounded down.
pub fn duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86_400 => format!("{} h", secs / 3600),
        86_400..63_072_000 => plural(secs / 86_400, "day"),
        _ => plural(secs / 31_536_000, "year"),
    }
}

/// An id short enough to read in a table: ids of up to 12 characters as they are; a key id
/// `k1796412249-8a0e3c43` as `k…8a0e3c43` (its random part); others as their first 8
/// characters and `…` (a UUID's usual short form).
pub fn short_id(id: &str) -> String {
    if id.chars().count() <= 12 {
        return id.to_owned();
    }
    if let Some((stamp, tail)) = id.split_once('-')
        && stamp.len() > 1
        && stamp.starts_with('k')
        && stamp[1..].bytes().all(|b| b.is_ascii_digit())
        && !tail.is_empty()
    {
        return format!("k…{tail}");
    }
    let head: String = id.chars().take(8).collect();
    format!("{head}…")
}

/// A grace period: `none` for zero, else a [`duration`].
pub fn grace(secs: u64) -> String {
    if secs == 0 {
        "none".to_owned()
    } else {
        duration(secs)
    }
}

/// `1 day`, `3 days`, `0 incidents`: a count and its noun, plural when it is not one.
pub fn count(n: u64, noun: &str) -> String {
    plural(n, noun)
}

fn plural(n: u64, unit: &str) -> String {
    match (n, unit.strip_suffix('y')) {
        (1, _) => format!("1 {unit}"),
        // "dependency" -> "dependencies", but "day" -> "days".
        (_, Some(stem)) if !stem.ends_with(['a', 'e', 'o', 'u']) => format!("{n} {stem}ies"),
        _ => format!("{n} {unit}s"),
    }
}

/// A sentence from the core with its unix times (10-digit numbers of seconds) written as
/// dates: `expired at 1796325849` → `expired at 2026-12-04 10:04 UTC`.
pub fn readable_times(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        let (before, from) = rest.split_at(start);
        out.push_str(before);
        let len = from
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(from.len());
        let (digits, after) = from.split_at(len);
        // A standalone number only: not part of an id (`k1796412249-8a0e`) or a version.
        let joined =
            |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || ".-:_".contains(c));
        match digits.parse::<u64>() {
            Ok(t) if len == 10 && !joined(out.chars().last()) && !joined(after.chars().next()) => {
                out.push_str(&date_time(t));
            }
            _ => out.push_str(digits),
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Whether a member holds a unix time (by the API's naming: `expires_at`, `exp`, `until`...).
fn is_time_member(name: &str) -> bool {
    name.ends_with("_at") || name.ends_with("until") || matches!(name, "exp" | "iat" | "nbf")
}

/// One JSON value for people: strings unquoted, times as dates, the rest as JSON.
fn show(name: &str, value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) if is_time_member(name) => {
            n.as_u64().map_or_else(|| n.to_string(), date_time)
        }
        serde_json::Value::Null => "–".to_owned(),
        other => other.to_string(),
    }
}

/// An audit event's change as lines `field: old → new` (only the fields that changed; a
/// creation lists its fields, a removal says so). Times are dates.
pub fn change_lines(
    before: Option<&serde_json::Value>,
    after: Option<&serde_json::Value>,
) -> Vec<String> {
    use serde_json::Value;
    let empty = serde_json::Map::new();
    fn fields<'a>(
        v: Option<&'a Value>,
        empty: &'a serde_json::Map<String, Value>,
    ) -> Option<&'a serde_json::Map<String, Value>> {
        match v {
            None => Some(empty),
            Some(Value::Object(members)) => Some(members),
            Some(_) => None,
        }
    }
    match (fields(before, &empty), fields(after, &empty)) {
        _ if before.is_none() && after.is_none() => Vec::new(),
        (Some(b), Some(a)) => {
            let mut names: Vec<&String> = b.keys().chain(a.keys()).collect();
            names.sort();
            names.dedup();
            names
                .into_iter()
                .filter_map(|k| match (b.get(k), a.get(k)) {
                    (Some(old), Some(new)) if old != new => {
                        Some(format!("{k}: {} → {}", show(k, old), show(k, new)))
                    }
                    (None, Some(new)) => Some(format!("{k}: {}", show(k, new))),
                    (Some(old), None) => Some(format!("{k}: {} → (removed)", show(k, old))),
                    _ => None,
                })
                .collect()
        }
        _ => {
            let side = |v: Option<&Value>| v.map_or_else(|| "(none)".to_owned(), |v| show("", v));
            vec![format!("{} → {}", side(before), side(after))]
        }
    }
}

/// `12.5%`; `–` when there is nothing to divide.
pub fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "–".to_owned()
    } else {
        format!("{}%", fixed(part as f64 * 100.0 / whole as f64, 1))
    }
}

/// `v` with `places` decimals (at most 6), rounded half away from zero: `fixed(2.345, 2)` is
/// `2.35`, `fixed(-0.04, 1)` is `0.0`, `–` for NaN and infinities. The console's one way to
/// write a fraction: integer arithmetic only, so the `.wasm` carries none of Rust's float
/// formatting (about 15 KB).
pub fn fixed(v: f64, places: u32) -> String {
    let places = places.min(6);
    if !v.is_finite() {
        return "–".to_owned();
    }
    let scale = 10u64.pow(places);
    let scaled = (v.abs() * scale as f64).round();
    if scaled >= 9.0e15 {
        // Beyond exact integers in an f64: the whole part is all that means anything.
        return format!("{}{}", if v < 0.0 { "-" } else { "" }, v.abs() as u64);
    }
    let scaled = scaled as u64;
    let sign = if v < 0.0 && scaled != 0 { "-" } else { "" };
    if places == 0 {
        format!("{sign}{scaled}")
    } else {
        let (whole, frac) = (scaled / scale, scaled % scale);
        format!("{sign}{whole}.{frac:0width$}", width = places as usize)
    }
}

const fn is_leap(y: u64) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

const fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (y >= 1970).
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let years = (1970..y)
        .map(|y| if is_leap(y) { 366 } else { 365 })
        .sum::<u64>();
    let months = (1..m).map(|m| days_in_month(y, m)).sum::<u64>();
    years + months + d - 1
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(mut days: u64) -> (u64, u64, u64) {
    let mut y = 1970;
    loop {
        let len = if is_leap(y) { 366 } else { 365 };
        if days < len {
            break;
        }
        days -= len;
        y += 1;
    }
    let mut m = 1;
    while days >= days_in_month(y, m) {
        days -= days_in_month(y, m);
        m += 1;
    }
    (y, m, days + 1)
}

/// Text for HTML and SVG markup built as text (names, ids and reasons come from the server):
/// `&`, `<`, `>`, `"` and `'` escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
