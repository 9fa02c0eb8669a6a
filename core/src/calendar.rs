//! Time without a clock: the core never reads the time; callers pass `now` as
//! Unix seconds (UTC). Local fields (hour, weekday, date) use the club's fixed
//! UTC offset (Iran: +03:30, no daylight saving since 2022).
//!
//! Jalali (Solar Hijri) dates are converted with the arithmetic algorithm
//! (the 33-year-cycle approximation used by most Iranian software), which
//! agrees with the astronomical calendar for 1178–1633 SH.

/// Days since 1970-01-01 for a proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The Gregorian (year, month, day) of a day number since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Gregorian date of a Jalali date.
pub fn jalali_to_gregorian(jy: i64, jm: i64, jd: i64) -> (i64, i64, i64) {
    let jy = jy + 1595;
    let mut days = -355_668 + 365 * jy + (jy / 33) * 8 + ((jy % 33) + 3) / 4 + jd;
    days += if jm < 7 { (jm - 1) * 31 } else { (jm - 7) * 30 + 186 };
    let mut gy = 400 * (days / 146_097);
    days %= 146_097;
    if days > 36_524 {
        days -= 1;
        gy += 100 * (days / 36_524);
        days %= 36_524;
        if days >= 365 {
            days += 1;
        }
    }
    gy += 4 * (days / 1461);
    days %= 1461;
    if days > 365 {
        gy += (days - 1) / 365;
        days = (days - 1) % 365;
    }
    let mut gd = days + 1;
    let leap = (gy % 4 == 0 && gy % 100 != 0) || gy % 400 == 0;
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut gm = 1;
    for length in month_days {
        if gd <= length {
            break;
        }
        gd -= length;
        gm += 1;
    }
    (gy, gm, gd)
}

/// Jalali date of a Gregorian date.
pub fn gregorian_to_jalali(gy: i64, gm: i64, gd: i64) -> (i64, i64, i64) {
    let g_d_m = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let gy2 = if gm > 2 { gy + 1 } else { gy };
    let mut days = 355_666 + 365 * gy + (gy2 + 3) / 4 - (gy2 + 99) / 100 + (gy2 + 399) / 400 + gd
        + g_d_m[usize::try_from(gm - 1).unwrap_or(0)];
    let mut jy = -1595 + 33 * (days / 12_053);
    days %= 12_053;
    jy += 4 * (days / 1461);
    days %= 1461;
    if days > 365 {
        jy += (days - 1) / 365;
        days = (days - 1) % 365;
    }
    let (jm, jd) = if days < 186 { (1 + days / 31, 1 + days % 31) } else { (7 + (days - 186) / 30, 1 + (days - 186) % 30) };
    (jy, jm, jd)
}

/// Local fields of an instant at a fixed UTC offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Local {
    /// Days since 1970-01-01 in local time.
    pub day: i64,
    /// Seconds since local midnight.
    pub second_of_day: i64,
    /// 0 = Saturday (the first day of the Iranian week) … 6 = Friday.
    pub weekday: u8,
}

pub fn local(now_s: i64, utc_offset_min: i32) -> Local {
    let shifted = now_s + i64::from(utc_offset_min) * 60;
    let day = shifted.div_euclid(86_400);
    let second_of_day = shifted.rem_euclid(86_400);
    // 1970-01-01 was a Thursday: Thursday is 5 when Saturday is 0.
    let weekday = u8::try_from((day + 5).rem_euclid(7)).unwrap_or(0);
    Local { day, second_of_day, weekday }
}

/// Parse "YYYY-MM-DD" in the given calendar into a local day number.
pub fn parse_day(text: &str, jalali: bool) -> Option<i64> {
    let mut parts = text.trim().split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    if jalali {
        if m > 6 && d > 30 {
            return None;
        }
        let (gy, gm, gd) = jalali_to_gregorian(y, m, d);
        // Esfand 30 exists only in leap years: a date that does not exist does not round-trip.
        (gregorian_to_jalali(gy, gm, gd) == (y, m, d)).then(|| days_from_civil(gy, gm, gd))
    } else {
        let day = days_from_civil(y, m, d);
        (civil_from_days(day) == (y, m, d)).then_some(day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_jalali_dates() {
        // Nowruz 1403 was 2024-03-20; Nowruz 1404 was 2025-03-21; 1405-09-02 is 2026-11-23.
        assert_eq!(jalali_to_gregorian(1403, 1, 1), (2024, 3, 20));
        assert_eq!(jalali_to_gregorian(1404, 1, 1), (2025, 3, 21));
        assert_eq!(gregorian_to_jalali(2026, 11, 23), (1405, 9, 2));
        for day in days_from_civil(2000, 1, 1)..days_from_civil(2040, 1, 1) {
            let (y, m, d) = civil_from_days(day);
            let (jy, jm, jd) = gregorian_to_jalali(y, m, d);
            assert_eq!(jalali_to_gregorian(jy, jm, jd), (y, m, d));
        }
    }

    #[test]
    fn local_time_in_tehran() {
        // 2026-11-23 20:40 UTC is 00:10 on Tuesday 2026-11-24 in Tehran.
        let now = days_from_civil(2026, 11, 23) * 86_400 + 20 * 3600 + 40 * 60;
        let l = local(now, 210);
        assert_eq!(civil_from_days(l.day), (2026, 11, 24));
        assert_eq!(l.second_of_day, 600);
        assert_eq!(l.weekday, 3); // Sat=0 Sun=1 Mon=2 Tue=3
        assert_eq!(parse_day("1405-09-02", true), Some(days_from_civil(2026, 11, 23)));
        assert_eq!(parse_day("2026-02-30", false), None);
        assert_eq!(parse_day("1405-12-30", true), None); // 1405 is not a leap year
        assert!(parse_day("1403-12-30", true).is_some()); // 1403 is
    }
}
