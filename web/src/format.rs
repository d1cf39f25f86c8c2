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

/// `2026-11-29 05:58 UTC`.
pub fn date_time(unix: u64) -> String {
    let (y, m, d) = civil_from_days(unix / 86_400);
    let secs = unix % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        (secs % 3600) / 60
    )
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

fn plural(n: u64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// `12.5%`; `–` when there is nothing to divide.
pub fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "–".to_owned()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
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
