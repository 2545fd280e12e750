//! EventBridge schedule expressions (`rate(...)` and `cron(...)`), validated locally with AWS's
//! rules so that a bad schedule is reported before any rule is created.
//!
//! - `rate(value unit)`: `value` a positive whole number; `unit` one of `minute`, `minutes`,
//!   `hour`, `hours`, `day`, `days`, singular exactly when the value is 1.
//! - `cron(minutes hours day-of-month month day-of-week year)`: six fields, and exactly one of
//!   day-of-month and day-of-week is `?`.
//!
//! | field        | values               | wildcards         |
//! |--------------|----------------------|-------------------|
//! | minutes      | 0-59                 | `, - * /`         |
//! | hours        | 0-23                 | `, - * /`         |
//! | day-of-month | 1-31                 | `, - * ? / L W`   |
//! | month        | 1-12 or JAN-DEC      | `, - * /`         |
//! | day-of-week  | 1-7 or SUN-SAT       | `, - * ? L #`     |
//! | year         | 1970-2199            | `, - * /`         |
//!
//! `L`, `W` and `#` stand alone in their field (`L`, `LW`, `L-3`, `15W`; `L`, `6L`, `FRIL`,
//! `3#2`), as in the Quartz scheduler that AWS's syntax comes from. Where AWS documents no rule
//! (ranges that wrap such as `FRI-MON`, lower-case names, extra spaces between fields) the
//! expression is accepted and AWS has the last word.

use std::fmt;
use std::str::FromStr;

/// A schedule expression that passed validation, kept in canonical form: surrounding whitespace
/// removed, cron fields separated by one space, rate value without leading zeros.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScheduleExpression(String);

/// A schedule expression that EventBridge would reject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid schedule expression {expression:?}: {reason}")]
pub struct ScheduleError {
    expression: String,
    reason: String,
}

/// PutRule's limit on `ScheduleExpression` (the EventBridge service model: max 256).
pub const MAX_SCHEDULE_CHARS: usize = 256;

impl ScheduleExpression {
    /// Validates `expression` and returns its canonical form.
    pub fn parse(expression: &str) -> Result<Self, ScheduleError> {
        let trimmed = expression.trim();
        let inner = |head: &str| {
            trimmed
                .strip_prefix(head)
                .and_then(|rest| rest.strip_suffix(')'))
        };
        let canonical = if trimmed.chars().count() > MAX_SCHEDULE_CHARS {
            Err(format!(
                "it has {} characters; EventBridge allows at most {MAX_SCHEDULE_CHARS}",
                trimmed.chars().count()
            ))
        } else if let Some(inner) = inner("rate(") {
            rate(inner)
        } else if let Some(inner) = inner("cron(") {
            cron(inner)
        } else {
            Err("use rate(value unit), e.g. rate(5 minutes), or \
                 cron(minutes hours day-of-month month day-of-week year), e.g. cron(0 12 * * ? *)"
                .to_owned())
        };
        canonical.map(Self).map_err(|reason| ScheduleError {
            expression: expression.to_owned(),
            reason,
        })
    }

    /// The expression as EventBridge takes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ScheduleExpression {
    type Err = ScheduleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for ScheduleExpression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks the inside of `rate(...)`; returns the canonical expression or what is wrong.
fn rate(inner: &str) -> Result<String, String> {
    let (value, unit) = inner.split_once(' ').ok_or_else(|| {
        "write a value and a unit separated by one space, e.g. rate(5 minutes)".to_owned()
    })?;
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "the value {value:?} must be a positive whole number, e.g. rate(5 minutes)"
        ));
    }
    let value: u32 = value
        .parse()
        .map_err(|_| format!("the value {value} is too large: use at most {}", u32::MAX))?;
    if value == 0 {
        return Err("the value must be at least 1, e.g. rate(1 minute)".to_owned());
    }
    let (singular, plural) = match unit {
        "minute" | "minutes" => ("minute", "minutes"),
        "hour" | "hours" => ("hour", "hours"),
        "day" | "days" => ("day", "days"),
        _ => {
            return Err(format!(
                "unknown unit {unit:?}: use minute, minutes, hour, hours, day or days"
            ))
        }
    };
    match (value, unit) {
        (1, unit) if unit != singular => Err(format!(
            "use the singular unit {singular:?} when the value is 1"
        )),
        (2.., unit) if unit != plural => Err(format!(
            "use the plural unit {plural:?} when the value is {value}"
        )),
        _ => Ok(format!("rate({value} {unit})")),
    }
}

/// One cron field's rules.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    /// Names for `min`, `min + 1`, ... (month and day-of-week).
    names: &'static [&'static str],
    /// What the field allows, for error messages.
    help: &'static str,
    /// Whether `/` increments are allowed.
    step: bool,
}

const MINUTES: Field = Field {
    name: "minutes",
    min: 0,
    max: 59,
    names: &[],
    help: "0-59 with the wildcards , - * /",
    step: true,
};
const HOURS: Field = Field {
    name: "hours",
    max: 23,
    help: "0-23 with the wildcards , - * /",
    ..MINUTES
};
const DAY_OF_MONTH: Field = Field {
    name: "day-of-month",
    min: 1,
    max: 31,
    help: "1-31 with the wildcards , - * ? / L W",
    ..MINUTES
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
    help: "1-12 or JAN-DEC with the wildcards , - * /",
    step: true,
};
const DAY_OF_WEEK: Field = Field {
    name: "day-of-week",
    min: 1,
    max: 7,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
    help: "1-7 or SUN-SAT with the wildcards , - * ? L #",
    step: false,
};
const YEAR: Field = Field {
    name: "year",
    min: 1970,
    max: 2199,
    help: "1970-2199 with the wildcards , - * /",
    ..MINUTES
};

/// Checks the inside of `cron(...)`; returns the canonical expression or what is wrong.
fn cron(inner: &str) -> Result<String, String> {
    let fields: Vec<&str> = inner.split_whitespace().collect();
    let [minutes, hours, dom, month, dow, year] = fields[..] else {
        return Err(format!(
            "use exactly 6 fields (minutes hours day-of-month month day-of-week year), \
             e.g. cron(0 12 * * ? *); found {}",
            fields.len()
        ));
    };
    MINUTES.check(minutes)?;
    HOURS.check(hours)?;
    if dom != "?" && !day_of_month_special(dom) {
        DAY_OF_MONTH.check(dom)?;
    }
    MONTH.check(month)?;
    if dow != "?" && !day_of_week_special(dow) {
        DAY_OF_WEEK.check(dow)?;
    }
    YEAR.check(year)?;
    match (dom == "?", dow == "?") {
        (true, false) | (false, true) => Ok(format!("cron({})", fields.join(" "))),
        (true, true) => Err("day-of-month and day-of-week are both ?: \
                             give one of them a value and keep ? in the other"
            .to_owned()),
        (false, false) => Err(format!(
            "day-of-month {dom:?} and day-of-week {dow:?} can't both be specified: \
             use ? in one of them, e.g. cron(0 12 * * ? *) or cron(0 12 ? * MON *)"
        )),
    }
}

impl Field {
    /// Checks a field made of `,`-separated items, each `*`, a value or a range, optionally
    /// followed by `/increment`.
    fn check(&self, text: &str) -> Result<(), String> {
        text.split(',').try_for_each(|item| self.check_item(item))
    }

    fn check_item(&self, item: &str) -> Result<(), String> {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (item, None),
        };
        if let Some(step) = step {
            let ok = self.step
                && step.bytes().all(|b| b.is_ascii_digit())
                && matches!(step.parse::<u32>(), Ok(n) if (1..=self.max).contains(&n));
            if !ok {
                return Err(self.invalid(item));
            }
        }
        if range == "*" {
            return Ok(());
        }
        let (from, to) = range.split_once('-').unwrap_or((range, range));
        if self.value(from).is_some() && self.value(to).is_some() {
            Ok(())
        } else {
            Err(self.invalid(item))
        }
    }

    /// The number a single value stands for, if it is valid in this field.
    fn value(&self, text: &str) -> Option<u32> {
        let number = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            text.parse().ok()?
        } else {
            let index = self
                .names
                .iter()
                .position(|name| name.eq_ignore_ascii_case(text))?;
            self.min + u32::try_from(index).ok()?
        };
        (self.min..=self.max).contains(&number).then_some(number)
    }

    fn invalid(&self, item: &str) -> String {
        format!("{} value {item:?} is invalid: use {}", self.name, self.help)
    }
}

/// `L`, `LW`, `L-n` (n days before the last) or `nW` (weekday nearest day n).
fn day_of_month_special(text: &str) -> bool {
    let upper = text.to_ascii_uppercase();
    match upper.as_str() {
        "L" | "LW" => true,
        _ => {
            if let Some(offset) = upper.strip_prefix("L-") {
                matches!(offset.parse::<u32>(), Ok(1..=30))
                    && offset.bytes().all(|b| b.is_ascii_digit())
            } else if let Some(day) = upper.strip_suffix('W') {
                DAY_OF_MONTH.value(day).is_some()
            } else {
                false
            }
        }
    }
}

/// `L` (last day of the week), `dL` (last weekday d of the month) or `d#n` (n-th weekday d).
fn day_of_week_special(text: &str) -> bool {
    if text.eq_ignore_ascii_case("L") {
        return true;
    }
    if let Some((day, nth)) = text.split_once('#') {
        return DAY_OF_WEEK.value(day).is_some() && matches!(nth, "1" | "2" | "3" | "4" | "5");
    }
    text.strip_suffix(['L', 'l'])
        .is_some_and(|day| DAY_OF_WEEK.value(day).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(expression: &str) -> String {
        let err = ScheduleExpression::parse(expression).unwrap_err();
        let prefix = format!("invalid schedule expression {expression:?}: ");
        let message = err.to_string();
        message
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{message:?} should start with {prefix:?}"))
            .to_owned()
    }

    #[test]
    fn an_expression_over_256_characters_is_refused_before_any_call() {
        let long = format!("cron(0 12 * * ? {})", "2030,".repeat(60) + "2031");
        assert!(long.len() > 256);
        assert!(
            reason(&long).contains("EventBridge allows at most 256"),
            "{}",
            reason(&long)
        );
    }

    #[test]
    fn valid_expressions_table() {
        for (input, canonical) in [
            ("rate(1 minute)", "rate(1 minute)"),
            ("rate(5 minutes)", "rate(5 minutes)"),
            ("rate(1 hour)", "rate(1 hour)"),
            ("rate(12 hours)", "rate(12 hours)"),
            ("rate(1 day)", "rate(1 day)"),
            ("rate(7 days)", "rate(7 days)"),
            ("rate(05 minutes)", "rate(5 minutes)"),
            ("  rate(2 days) ", "rate(2 days)"),
            ("cron(0 12 * * ? *)", "cron(0 12 * * ? *)"),
            (
                "cron(15 10 ? * 6L 2002-2005)",
                "cron(15 10 ? * 6L 2002-2005)",
            ),
            ("cron(0 18 ? * MON-FRI *)", "cron(0 18 ? * MON-FRI *)"),
            ("cron(0 8 1 * ? *)", "cron(0 8 1 * ? *)"),
            ("cron(0/10 * ? * MON-FRI *)", "cron(0/10 * ? * MON-FRI *)"),
            (
                "cron(0/5 8-17 ? * MON-FRI *)",
                "cron(0/5 8-17 ? * MON-FRI *)",
            ),
            ("cron(0 9 ? * 2#1 *)", "cron(0 9 ? * 2#1 *)"),
            ("cron(*/15 * * * ? *)", "cron(*/15 * * * ? *)"),
            ("cron(0 0 L * ? *)", "cron(0 0 L * ? *)"),
            ("cron(0 0 LW * ? *)", "cron(0 0 LW * ? *)"),
            ("cron(0 0 L-2 * ? *)", "cron(0 0 L-2 * ? *)"),
            ("cron(0 0 15W * ? *)", "cron(0 0 15W * ? *)"),
            ("cron(0 0 ? * L *)", "cron(0 0 ? * L *)"),
            ("cron(0 0 ? * FRIL *)", "cron(0 0 ? * FRIL *)"),
            ("cron(0 0 ? * SUN#5 *)", "cron(0 0 ? * SUN#5 *)"),
            (
                "cron(0,30 0 1,15 JAN,jul ? 2030/2)",
                "cron(0,30 0 1,15 JAN,jul ? 2030/2)",
            ),
            ("cron(59 23 31 12 ? 2199)", "cron(59 23 31 12 ? 2199)"),
            ("cron(0 0 ? * 7 1970)", "cron(0 0 ? * 7 1970)"),
            ("cron(0  12   * * ? *)", "cron(0 12 * * ? *)"),
            ("cron(0 0 ? * FRI-MON *)", "cron(0 0 ? * FRI-MON *)"),
        ] {
            let parsed = ScheduleExpression::parse(input)
                .unwrap_or_else(|e| panic!("{input:?} should be valid: {e}"));
            assert_eq!(parsed.as_str(), canonical, "{input:?}");
            assert_eq!(parsed.to_string(), canonical);
            assert_eq!(canonical.parse::<ScheduleExpression>().unwrap(), parsed);
        }
    }

    #[test]
    fn invalid_expressions_table() {
        let exact = [
            ("rate(1 minutes)", "use the singular unit \"minute\" when the value is 1"),
            ("rate(5 minute)", "use the plural unit \"minutes\" when the value is 5"),
            ("rate(1 days)", "use the singular unit \"day\" when the value is 1"),
            ("rate(2 hour)", "use the plural unit \"hours\" when the value is 2"),
            ("rate(0 minutes)", "the value must be at least 1, e.g. rate(1 minute)"),
            ("rate(5 seconds)", "unknown unit \"seconds\": use minute, minutes, hour, hours, day or days"),
            ("rate(5 Minutes)", "unknown unit \"Minutes\": use minute, minutes, hour, hours, day or days"),
            ("rate(-5 minutes)", "the value \"-5\" must be a positive whole number, e.g. rate(5 minutes)"),
            ("rate(1.5 hours)", "the value \"1.5\" must be a positive whole number, e.g. rate(5 minutes)"),
            ("rate(5)", "write a value and a unit separated by one space, e.g. rate(5 minutes)"),
            ("rate(99999999999 minutes)", "the value 99999999999 is too large: use at most 4294967295"),
            (
                "cron(0 12 * * * *)",
                "day-of-month \"*\" and day-of-week \"*\" can't both be specified: \
                 use ? in one of them, e.g. cron(0 12 * * ? *) or cron(0 12 ? * MON *)",
            ),
            (
                "cron(0 12 ? * ? *)",
                "day-of-month and day-of-week are both ?: give one of them a value and keep ? in the other",
            ),
            (
                "cron(0 12 * * ?)",
                "use exactly 6 fields (minutes hours day-of-month month day-of-week year), \
                 e.g. cron(0 12 * * ? *); found 5",
            ),
            ("cron(60 0 * * ? *)", "minutes value \"60\" is invalid: use 0-59 with the wildcards , - * /"),
            ("cron(0 24 * * ? *)", "hours value \"24\" is invalid: use 0-23 with the wildcards , - * /"),
            ("cron(0 0 0 * ? *)", "day-of-month value \"0\" is invalid: use 1-31 with the wildcards , - * ? / L W"),
            ("cron(0 0 ? 13 MON *)", "month value \"13\" is invalid: use 1-12 or JAN-DEC with the wildcards , - * /"),
            ("cron(0 0 ? * 8 *)", "day-of-week value \"8\" is invalid: use 1-7 or SUN-SAT with the wildcards , - * ? L #"),
            ("cron(0 0 * * ? 1969)", "year value \"1969\" is invalid: use 1970-2199 with the wildcards , - * /"),
            (
                "every 5 minutes",
                "use rate(value unit), e.g. rate(5 minutes), or \
                 cron(minutes hours day-of-month month day-of-week year), e.g. cron(0 12 * * ? *)",
            ),
        ];
        for (input, expected) in exact {
            assert_eq!(reason(input), expected, "{input:?}");
        }

        // Each must fail, naming the offending part.
        for (input, mentions) in [
            ("", "use rate("),
            ("rate(5 minutes", "use rate("),
            ("RATE(5 minutes)", "use rate("),
            ("rate(5  minutes)", "unknown unit"),
            ("rate( 5 minutes)", "positive whole number"),
            ("rate(+5 minutes)", "positive whole number"),
            ("cron()", "found 0"),
            ("cron(0 0 * * ? * *)", "found 7"),
            ("cron(0 0 ? * 1/2 *)", "day-of-week value \"1/2\""),
            ("cron(0 0 ? * 2#6 *)", "day-of-week value \"2#6\""),
            ("cron(0 0 ? * 2#0 *)", "day-of-week value \"2#0\""),
            ("cron(0 0 ? * #1 *)", "day-of-week value \"#1\""),
            ("cron(0 0 ? * 1W *)", "day-of-week value \"1W\""),
            ("cron(0 0 L,1 * ? *)", "day-of-month value \"L\""),
            ("cron(0 0 32W * ? *)", "day-of-month value \"32W\""),
            ("cron(0 0 L-31 * ? *)", "day-of-month value \"L-31\""),
            ("cron(0 0 1#2 * ? *)", "day-of-month value \"1#2\""),
            ("cron(? 0 * * ? *)", "minutes value \"?\""),
            ("cron(L 0 * * ? *)", "minutes value \"L\""),
            ("cron(0/0 0 * * ? *)", "minutes value \"0/0\""),
            ("cron(0/60 0 * * ? *)", "minutes value \"0/60\""),
            ("cron(0/ 0 * * ? *)", "minutes value \"0/\""),
            ("cron(1,,2 0 * * ? *)", "minutes value \"\""),
            ("cron(1- 0 * * ? *)", "minutes value \"1-\""),
            ("cron(a 0 * * ? *)", "minutes value \"a\""),
            ("cron(0 0 * FOO ? *)", "month value \"FOO\""),
            ("cron(0 0 * JAN-FOO ? *)", "month value \"JAN-FOO\""),
            ("cron(0 0 ? * MONDAY *)", "day-of-week value \"MONDAY\""),
            ("cron(0 0 * * ? 2200)", "year value \"2200\""),
            ("cron(0 0 * * ? 99999999999)", "year value \"99999999999\""),
            ("cron(0 0 * * ? -)", "year value \"-\""),
        ] {
            let reason = reason(input);
            assert!(
                reason.contains(mentions),
                "{input:?}: {reason:?} should mention {mentions:?}"
            );
        }
    }

    #[test]
    fn error_names_the_expression() {
        assert_eq!(
            ScheduleExpression::parse("rate(1 minutes)")
                .unwrap_err()
                .to_string(),
            "invalid schedule expression \"rate(1 minutes)\": \
             use the singular unit \"minute\" when the value is 1"
        );
    }
}
