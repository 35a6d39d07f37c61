//! Times as the person reads and types them (their browser's time zone) and as the API carries
//! them (RFC 3339).

use js_sys::Date;
use time::OffsetDateTime;
use wasm_bindgen::JsValue;

/// A `datetime-local` input's value as RFC 3339 in UTC; empty stays empty, so the server names
/// the missing field.
pub fn input_to_rfc3339(local: &str) -> String {
    if local.is_empty() {
        return String::new();
    }
    let date = Date::new(&JsValue::from_str(local));
    if date.get_time().is_nan() {
        local.to_owned()
    } else {
        String::from(date.to_iso_string())
    }
}

fn date_of(at: OffsetDateTime) -> Date {
    Date::new(&JsValue::from_f64(
        (at.unix_timestamp_nanos() / 1_000_000) as f64,
    ))
}

/// An API time as a `datetime-local` input's value.
pub fn to_input(at: OffsetDateTime) -> String {
    let date = date_of(at);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        date.get_full_year(),
        date.get_month() + 1,
        date.get_date(),
        date.get_hours(),
        date.get_minutes()
    )
}

/// An API time for reading, in the browser's time zone, which it names: `2026-12-01 23:00 UTC`,
/// `2026-12-02 00:00 UTC+01:00`. Pickers take the same date and time, without the zone.
pub fn show(at: OffsetDateTime) -> String {
    format!("{} {}", to_input(at).replace('T', " "), zone(&date_of(at)))
}

/// The zone's offset from UTC on `date` (summer time included).
fn zone(date: &Date) -> String {
    // JavaScript counts the offset the other way round: minutes to add to reach UTC.
    let east = -(date.get_timezone_offset() as i64);
    if east == 0 {
        return "UTC".to_owned();
    }
    let sign = if east > 0 { '+' } else { '-' };
    format!("UTC{sign}{:02}:{:02}", east.abs() / 60, east.abs() % 60)
}

/// A time the API sends as milliseconds since the Unix epoch.
pub fn from_millis(at: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A `datetime-local` value for reading, as `show` writes times: with its zone.
pub fn show_input(local: &str) -> String {
    let date = Date::new(&JsValue::from_str(local));
    if date.get_time().is_nan() {
        return local.to_owned();
    }
    format!("{} {}", local.replace('T', " "), zone(&date))
}
