//! Unix time and the RFC 3339 (UTC) form used in policies and audit logs.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Seconds since the Unix epoch at `t` (0 before it).
pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count (the inverse of `days_from_civil`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Unix seconds of a TOML offset date-time (`2026-12-31T23:59:59Z`); a
/// bare date means its midnight UTC. `None` for a local time without an
/// offset, which would mean different instants on different machines.
pub fn from_toml(dt: &toml::value::Datetime) -> Option<u64> {
    let date = dt.date?;
    let days = days_from_civil(
        i64::from(date.year),
        i64::from(date.month),
        i64::from(date.day),
    );
    let (secs, offset) = match (dt.time, dt.offset) {
        (None, None) => (0, 0),
        (Some(t), Some(offset)) => {
            let secs = i64::from(t.hour) * 3600
                + i64::from(t.minute) * 60
                + i64::from(t.second.unwrap_or(0));
            let offset = match offset {
                toml::value::Offset::Z => 0,
                toml::value::Offset::Custom { minutes } => i64::from(minutes) * 60,
            };
            (secs, offset)
        }
        _ => return None,
    };
    u64::try_from(days * 86_400 + secs - offset).ok()
}

/// `YYYY-MM-DDTHH:MM:SSZ` of Unix seconds.
pub fn format(secs: u64) -> String {
    let secs = secs as i64;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// The UTC calendar (year, month 1–12) of a Unix time in seconds.
pub fn utc_year_month(secs: u64) -> (i64, u8) {
    let (year, month, _) = civil_from_days((secs / 86_400) as i64);
    (year, month as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_both_ways() {
        let dt: toml::value::Datetime = "2026-11-29T19:30:05Z".parse().unwrap();
        let secs = from_toml(&dt).unwrap();
        assert_eq!(secs, 1_795_980_605);
        assert_eq!(format(secs), "2026-11-29T19:30:05Z");
        let shifted: toml::value::Datetime = "2026-11-29T21:30:05+02:00".parse().unwrap();
        assert_eq!(from_toml(&shifted), Some(secs));
        let date: toml::value::Datetime = "1970-01-02".parse().unwrap();
        assert_eq!(from_toml(&date), Some(86_400));
        let local: toml::value::Datetime = "2026-11-29T19:30:05".parse().unwrap();
        assert_eq!(from_toml(&local), None);
    }
}
