//! Times as a user reads them: in the time zone and with the clock (12 or 24 hours) of
//! their profile. Stored times are UTC.

use chrono::NaiveDateTime;
use chrono_tz::Tz;

use crate::models::user::User;

/// A user's way of reading times.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    tz: Tz,
    hour12: bool,
}

impl Clock {
    /// The clock of `user`.
    pub fn of(user: &User) -> Clock {
        Clock::new(&user.timezone, user.time_format)
    }

    /// A clock for an IANA zone name (UTC for one we do not know) and 12 or 24 hours.
    pub fn new(timezone: &str, time_format: i16) -> Clock {
        Clock {
            tz: timezone.parse().unwrap_or(Tz::UTC),
            hour12: time_format == 12,
        }
    }

    /// Date and time with the zone's abbreviation, e.g. "2026-11-26 03:00 MSK".
    pub fn date_time(&self, t: NaiveDateTime) -> String {
        let local = t.and_utc().with_timezone(&self.tz);
        if self.hour12 {
            local.format("%Y-%m-%d %I:%M %p %Z").to_string()
        } else {
            local.format("%Y-%m-%d %H:%M %Z").to_string()
        }
    }

    /// The date alone, in the user's zone.
    pub fn date(&self, t: NaiveDateTime) -> String {
        t.and_utc()
            .with_timezone(&self.tz)
            .format("%Y-%m-%d")
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_follow_the_zone_and_the_clock() {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 11, 25)
            .and_then(|d| d.and_hms_opt(22, 30, 0))
            .expect("a time");
        assert_eq!(
            Clock::new("Europe/Moscow", 24).date_time(t),
            "2026-11-26 01:30 MSK"
        );
        assert_eq!(Clock::new("Europe/Moscow", 24).date(t), "2026-11-26");
        assert_eq!(
            Clock::new("America/New_York", 12).date_time(t),
            "2026-11-25 05:30 PM EST"
        );
        assert_eq!(
            Clock::new("Not/AZone", 24).date_time(t),
            "2026-11-25 22:30 UTC"
        );
    }
}
