//! `html_table(section)`: a section's rows as an HTML table that fits the page: timestamps in
//! a human form (the exact value on hover), numbers right-aligned with thousands separators,
//! long text clipped (whole on hover) and wrapped, the table scrolling inside its own box when
//! it is wider than the page. Every cell is escaped here.

use chrono::{DateTime, Timelike, Utc};
use minijinja::value::Value as J;
use minijinja::{Error, State};

use super::{cell_text, columns, is_numeric};
use crate::report::escape;

/// Characters of text shown in a cell before it is clipped.
const CLIP: usize = 160;

/// How a timestamp column is shown: all midnights as dates, one day's times as `HH:MM`, else
/// date and time to the second.
#[derive(Clone, Copy, PartialEq, Debug)]
enum TimeForm {
    Date,
    Clock,
    Full,
}

fn time_form(times: &[DateTime<Utc>]) -> TimeForm {
    let midnight = |t: &DateTime<Utc>| t.num_seconds_from_midnight() == 0 && t.timestamp_subsec_nanos() == 0;
    let whole_minute = |t: &DateTime<Utc>| t.second() == 0 && t.timestamp_subsec_nanos() == 0;
    if !times.is_empty() && times.iter().all(midnight) {
        TimeForm::Date
    } else if times.len() > 1
        && times.iter().all(whole_minute)
        && times.iter().all(|t| t.date_naive() == times[0].date_naive())
    {
        TimeForm::Clock
    } else {
        TimeForm::Full
    }
}

fn show_time(t: &DateTime<Utc>, form: TimeForm) -> String {
    match form {
        TimeForm::Date => t.format("%Y-%m-%d").to_string(),
        TimeForm::Clock => t.format("%H:%M").to_string(),
        TimeForm::Full => t.format("%Y-%m-%d %H:%M:%S").to_string(),
    }
}

/// The page a session's drill-down has in a site (`report::site`): one file per (sensor,
/// session id), named by their hash so that any sensor name makes a safe file name.
pub fn session_page(sensor: &str, session_id: &str) -> String {
    let h = blake3::hash(format!("{sensor}\0{session_id}").as_bytes()).to_hex();
    format!("session-{}.html", &h[..16])
}

pub(super) fn html_table(state: &State, section: J) -> Result<J, Error> {
    let cols = columns(&section)?;
    // In a site, a row's session id links to that session's page.
    let site = state.lookup("site").is_some_and(|v| v.is_true());
    let sensor_col = cols.iter().position(|(n, _)| n == "sensor");
    let session_col = cols.iter().position(|(n, _)| n == "session_id").filter(|_| site && sensor_col.is_some());
    let rows = super::rows(&section)?;
    let forms: Vec<TimeForm> = cols
        .iter()
        .enumerate()
        .map(|(i, (_, t))| {
            if t != "timestamp" {
                return TimeForm::Full;
            }
            let times: Vec<DateTime<Utc>> = rows
                .iter()
                .filter_map(|r| r.get(i).and_then(|v| v.as_str()).and_then(crate::report::value::parse_ts))
                .collect();
            time_form(&times)
        })
        .collect();
    let mut out = String::from(r#"<div class="scroll"><table><thead><tr>"#);
    for (name, ty) in &cols {
        let class = if is_numeric(ty) { r#" class="n""# } else { "" };
        out.push_str(&format!("<th{class}>{}</th>", escape::html(&escape::text(name))));
    }
    out.push_str("</tr></thead><tbody>\n");
    for r in &rows {
        out.push_str("<tr>");
        for (i, (_, ty)) in cols.iter().enumerate() {
            let v = r.get(i).cloned().unwrap_or(J::UNDEFINED);
            let sensor = sensor_col.and_then(|c| r.get(c)).map(cell_text).filter(|_| session_col == Some(i));
            match sensor {
                Some(sensor) if !v.is_none() && !cell_text(&v).is_empty() => {
                    let id = cell_text(&v);
                    out.push_str(&format!(
                        r#"<td class="w"><a href="{}">{}</a></td>"#,
                        session_page(&sensor, &id),
                        escape::html(&escape::text(&id))
                    ));
                }
                _ => out.push_str(&cell(&v, ty, forms[i])),
            }
        }
        out.push_str("</tr>\n");
    }
    if rows.is_empty() {
        out.push_str(&format!(r#"<tr><td colspan="{}"><em>no rows</em></td></tr>"#, cols.len().max(1)));
    }
    out.push_str("</tbody></table></div>");
    Ok(J::from_safe_string(out))
}

fn cell(v: &J, ty: &str, form: TimeForm) -> String {
    if v.is_none() || v.is_undefined() {
        return r#"<td><span class="null" title="no value (null)">&#8212;</span></td>"#.into();
    }
    let text = cell_text(v);
    if text.is_empty() {
        return r#"<td><span class="null" title="an empty string">(empty)</span></td>"#.into();
    }
    if is_numeric(ty) {
        // `n/a` (an enrichment never run) and other text in a number column stays as it is.
        return match text.parse::<f64>() {
            Ok(n) => format!(r#"<td class="n" title="{}">{}</td>"#, escape::html(&text), super::chart::thousands(n)),
            Err(_) => format!(r#"<td class="n">{}</td>"#, escape::html(&escape::text(&text))),
        };
    }
    if ty == "timestamp" {
        if let Some(t) = crate::report::value::parse_ts(&text) {
            return format!(r#"<td class="t" title="{}">{}</td>"#, escape::html(&text), show_time(&t, form));
        }
    }
    let shown = escape::text(&text);
    if shown.chars().count() > CLIP {
        let cut: String = shown.chars().take(CLIP - 1).collect();
        format!(r#"<td class="w" title="{}">{}…</td>"#, escape::html(&shown), escape::html(&cut))
    } else {
        format!(r#"<td class="w">{}</td>"#, escape::html(&shown))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> DateTime<Utc> {
        crate::report::value::parse_ts(s).unwrap()
    }

    #[test]
    fn times_read_as_a_person_would() {
        assert_eq!(time_form(&[ts("2025-09-22"), ts("2025-09-23")]), TimeForm::Date);
        assert_eq!(time_form(&[ts("2025-09-22T13:00:00Z"), ts("2025-09-22T14:00:00Z")]), TimeForm::Clock);
        assert_eq!(time_form(&[ts("2025-09-22T13:00:00Z"), ts("2025-09-23T14:00:00Z")]), TimeForm::Full);
        assert_eq!(time_form(&[ts("2025-09-22T13:45:12.5Z")]), TimeForm::Full);
        assert_eq!(show_time(&ts("2025-09-22T13:45:12.5Z"), TimeForm::Full), "2025-09-22 13:45:12");
    }

    #[test]
    fn cells_are_escaped_clipped_and_separated() {
        let long = "x<".repeat(200);
        let c = cell(&J::from(long.as_str()), "text", TimeForm::Full);
        assert!(c.contains("…</td>") && c.contains(r#"title="x&lt;x&lt;"#) && !c.contains("<x"), "{c}");
        assert_eq!(cell(&J::from(1234567), "int", TimeForm::Full), r#"<td class="n" title="1234567">1,234,567</td>"#);
        assert_eq!(cell(&J::from("n/a"), "int", TimeForm::Full), r#"<td class="n">n/a</td>"#);
        let t = cell(&J::from("2025-09-22T13:45:12.000000Z"), "timestamp", TimeForm::Full);
        assert!(t.contains(">2025-09-22 13:45:12</td>") && t.contains(r#"title="2025-09-22T13:45:12.000000Z""#), "{t}");
    }
}
