//! Output as docker prints it: aligned tables (Go's tabwriter with docker's settings), human
//! sizes and durations (docker's `go-units`), and `--format` Go templates rendered with gtmpl.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use anyhow::{Context as _, Result};
use gtmpl::{FuncError, Template, Value};
use serde_json::Value as Json;

use crate::errors::CliError;

/// One row of a listing: docker's formatter field name → value.
pub type Row = serde_json::Map<String, Json>;

/// Docker's tabwriter: minwidth 10, padding 3, spaces; the last cell of a line is not padded.
pub fn tabwrite(text: &str) -> String {
    tabwrite_with(text, 10, 3)
}

/// Go tabwriter semantics for our uses: a cell is text ended by `\t`; each column is as wide
/// as its widest cell plus `padding`, at least `minwidth`.
pub fn tabwrite_with(text: &str, minwidth: usize, padding: usize) -> String {
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    let mut widths: Vec<usize> = Vec::new();
    for cells in &lines {
        // Only tab-terminated cells count: the last one of a line is free.
        for (i, cell) in cells.iter().take(cells.len().saturating_sub(1)).enumerate() {
            let w = (cell.chars().count() + padding).max(minwidth);
            if widths.len() <= i {
                widths.push(w);
            } else {
                widths[i] = widths[i].max(w);
            }
        }
    }
    let mut out = String::new();
    for cells in &lines {
        let last = cells.len().saturating_sub(1);
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i < last {
                let pad = widths[i] - cell.chars().count();
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

/// How a listing is printed: `--format` as given, docker's table by default.
pub struct Listing<'a> {
    /// Field → column header, e.g. `("ID", "CONTAINER ID")`.
    pub headers: &'a [(&'a str, &'a str)],
    /// The default, e.g. `table {{.ID}}\t{{.Image}}`.
    pub default_table: &'a str,
}

impl Listing<'_> {
    pub fn print(&self, format: Option<&str>, rows: &[Row]) -> Result<()> {
        let text = self.render(format, rows)?;
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        Ok(())
    }

    pub fn render(&self, format: Option<&str>, rows: &[Row]) -> Result<String> {
        let format = match format.map(str::trim) {
            None | Some("") | Some("table") => self.default_table.to_string(),
            Some("json") => "{{json .}}".to_string(),
            Some(f) => f.to_string(),
        };
        let (is_table, body) = match format.strip_prefix("table") {
            Some(rest) => (true, rest.trim().to_string()),
            None => (false, format.trim().to_string()),
        };
        let body = body.replace("\\t", "\t").replace("\\n", "\n");
        let tmpl = parse(&body)?;
        let mut text = String::new();
        if is_table {
            let header: Row = self
                .headers
                .iter()
                .map(|(field, title)| (field.to_string(), Json::String(title.to_string())))
                .collect();
            // Docker renders the header with the same template; fields without a title
            // (e.g. `{{json .}}`) print empty.
            text.push_str(&render_row(&tmpl, &header).unwrap_or_default());
            text.push('\n');
        }
        for row in rows {
            text.push_str(&render_row(&tmpl, row)?);
            text.push('\n');
        }
        Ok(if is_table { tabwrite(&text) } else { text })
    }
}

fn render_row(tmpl: &Template, row: &Row) -> Result<String> {
    let value = Value::Object(row.iter().map(|(k, v)| (k.clone(), to_value(v))).collect());
    render_value(tmpl, value)
}

pub fn render_value(tmpl: &Template, value: Value) -> Result<String> {
    tmpl.render(&gtmpl::Context::from(value))
        .map_err(|e| CliError::usage(format!("template: {e}")).into())
}

/// A template with docker's extra functions (`json`, `join`, `upper`, `lower`, `title`,
/// `split`, `truncate`, `pad`).
pub fn parse(text: &str) -> Result<Template> {
    let mut tmpl = Template::default();
    tmpl.add_funcs(&[
        ("json", json as gtmpl::Func),
        ("join", join as gtmpl::Func),
        ("upper", upper as gtmpl::Func),
        ("lower", lower as gtmpl::Func),
        ("title", title as gtmpl::Func),
        ("split", split as gtmpl::Func),
        ("truncate", truncate as gtmpl::Func),
        ("pad", pad as gtmpl::Func),
        ("gofmt", gofmt as gtmpl::Func),
    ]);
    tmpl.parse(go_printing(text))
        .map_err(|e| CliError::usage(format!("template parsing error: {e}")))?;
    Ok(tmpl)
}

/// gtmpl prints maps and lists with Rust's Debug; Go prints `map[k:v]` and `[a b]`. Every
/// action that prints gets `| gofmt` appended so values print as in Go. Control actions
/// (`if`, `range`, …), declarations (`:=`) and comments are left alone.
fn go_printing(text: &str) -> String {
    const CONTROL: &[&str] = &[
        "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue",
    ];
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(len) = action_len(after) else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = &after[..len];
        let (lead, body, trail) = trim_markers(inner);
        let first = body.split_whitespace().next().unwrap_or_default();
        let prints = !body.is_empty()
            && !body.starts_with("/*")
            && !body.contains(":=")
            && !body.contains(" = ")
            && !CONTROL.contains(&first);
        out.push_str("{{");
        if prints {
            out.push_str(lead);
            out.push_str(body);
            out.push_str(" | gofmt");
            out.push_str(trail);
        } else {
            out.push_str(inner);
        }
        out.push_str("}}");
        rest = &after[len + 2..];
    }
    out.push_str(rest);
    out
}

/// Length of an action's text up to its `}}`, skipping quoted strings.
fn action_len(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == b'\\' && q == b'"' => i += 1,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'`' => quote = Some(b),
            None if b == b'}' && bytes.get(i + 1) == Some(&b'}') => return Some(i),
            None => {}
        }
        i += 1;
    }
    None
}

/// Splits `- body -` trim markers off an action's text.
fn trim_markers(inner: &str) -> (&str, &str, &str) {
    let lead_len = if inner.starts_with("- ") { 2 } else { 0 };
    let trail_len = if inner.len() >= lead_len + 2 && inner.ends_with(" -") {
        2
    } else {
        0
    };
    let body = &inner[lead_len..inner.len() - trail_len];
    (
        &inner[..lead_len],
        body.trim(),
        &inner[inner.len() - trail_len..],
    )
}

/// A value as Go's `fmt` prints it with `%v`.
fn go_string(v: &Value) -> String {
    match v {
        Value::NoValue => "<no value>".into(),
        Value::Nil => "<nil>".into(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(go_string).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(o) | Value::Map(o) => {
            let sorted: BTreeMap<_, _> = o.iter().collect();
            let items: Vec<String> = sorted
                .into_iter()
                .map(|(k, v)| format!("{k}:{}", go_string(v)))
                .collect();
            format!("map[{}]", items.join(" "))
        }
        other => other.to_string(),
    }
}

fn gofmt(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(go_string(one_arg("gofmt", args)?)))
}

/// Renders an arbitrary JSON document (inspect output) with a template.
pub fn render_json(text: &str, doc: &Json) -> Result<String> {
    let tmpl = parse(&text.replace("\\t", "\t").replace("\\n", "\n"))?;
    render_value(&tmpl, to_value(doc))
}

/// JSON → template value. Objects become maps, so a missing key prints `<no value>` as in Go.
pub fn to_value(v: &Json) -> Value {
    match v {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::from(n.as_f64().unwrap_or(0.0))
            }
        }
        Json::String(s) => Value::String(s.clone()),
        Json::Array(a) => Value::Array(a.iter().map(to_value).collect()),
        Json::Object(o) => Value::Map(
            o.iter()
                .map(|(k, v)| (k.clone(), to_value(v)))
                .collect::<HashMap<_, _>>(),
        ),
    }
}

fn to_json(v: &Value) -> Json {
    match v {
        Value::NoValue | Value::Nil | Value::Function(_) => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::String(s) => Json::String(s.clone()),
        Value::Number(n) => n
            .as_i64()
            .map(Json::from)
            .or_else(|| n.as_u64().map(Json::from))
            .or_else(|| n.as_f64().map(Json::from))
            .unwrap_or(Json::Null),
        Value::Array(a) => Json::Array(a.iter().map(to_json).collect()),
        // Sorted keys, as Go marshals maps.
        Value::Object(o) | Value::Map(o) => {
            let sorted: BTreeMap<_, _> = o.iter().map(|(k, v)| (k.clone(), to_json(v))).collect();
            Json::Object(sorted.into_iter().collect())
        }
    }
}

fn one_arg<'a>(name: &str, args: &'a [Value]) -> Result<&'a Value, FuncError> {
    match args {
        [v] => Ok(v),
        _ => Err(FuncError::ExactlyXArgs(name.into(), 1)),
    }
}

fn string_arg(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn json(args: &[Value]) -> Result<Value, FuncError> {
    let v = one_arg("json", args)?;
    // Go's encoder escapes <, > and & (only ever inside strings in JSON text).
    serde_json::to_string(&to_json(v))
        .map(|s| {
            Value::String(
                s.replace('<', "\\u003c")
                    .replace('>', "\\u003e")
                    .replace('&', "\\u0026"),
            )
        })
        .map_err(|e| FuncError::Generic(e.to_string()))
}

fn join(args: &[Value]) -> Result<Value, FuncError> {
    match args {
        [Value::Array(items), sep] => Ok(Value::String(
            items
                .iter()
                .map(string_arg)
                .collect::<Vec<_>>()
                .join(&string_arg(sep)),
        )),
        [other, _] => Ok(Value::String(string_arg(other))),
        _ => Err(FuncError::ExactlyXArgs("join".into(), 2)),
    }
}

fn upper(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(
        string_arg(one_arg("upper", args)?).to_uppercase(),
    ))
}

fn lower(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(
        string_arg(one_arg("lower", args)?).to_lowercase(),
    ))
}

fn title(args: &[Value]) -> Result<Value, FuncError> {
    let s = string_arg(one_arg("title", args)?);
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !c.is_alphanumeric();
    }
    Ok(Value::String(out))
}

fn split(args: &[Value]) -> Result<Value, FuncError> {
    match args {
        [s, sep] => Ok(Value::Array(
            string_arg(s)
                .split(&string_arg(sep))
                .map(|p| Value::String(p.to_string()))
                .collect(),
        )),
        _ => Err(FuncError::ExactlyXArgs("split".into(), 2)),
    }
}

fn truncate(args: &[Value]) -> Result<Value, FuncError> {
    match args {
        [s, Value::Number(n)] => {
            let n = n.as_u64().unwrap_or(0) as usize;
            Ok(Value::String(string_arg(s).chars().take(n).collect()))
        }
        _ => Err(FuncError::ExactlyXArgs("truncate".into(), 2)),
    }
}

fn pad(args: &[Value]) -> Result<Value, FuncError> {
    match args {
        [s, Value::Number(l), Value::Number(r)] => {
            let l = l.as_u64().unwrap_or(0) as usize;
            let r = r.as_u64().unwrap_or(0) as usize;
            Ok(Value::String(format!(
                "{}{}{}",
                " ".repeat(l),
                string_arg(s),
                " ".repeat(r)
            )))
        }
        _ => Err(FuncError::ExactlyXArgs("pad".into(), 3)),
    }
}

/// Prints JSON as docker's inspect does: 4-space indentation.
pub fn print_json_indented(value: &Json) -> Result<()> {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(value, &mut ser).context("encode JSON")?;
    buf.push(b'\n');
    std::io::stdout().lock().write_all(&buf)?;
    Ok(())
}

/// Go-units `HumanDuration`: "Less than a second", "5 seconds", "About a minute", "3 hours"…
pub fn human_duration(secs: i64) -> String {
    let secs = secs.max(0);
    let minutes = secs / 60;
    let hours = ((secs as f64) / 3600.0 + 0.5) as i64;
    match () {
        _ if secs < 1 => "Less than a second".into(),
        _ if secs == 1 => "1 second".into(),
        _ if secs < 60 => format!("{secs} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", secs / 3600 / 24 / 365),
    }
}

/// "<duration> ago" from a unix timestamp.
pub fn ago(unix: i64) -> String {
    format!("{} ago", human_duration(now_unix() - unix))
}

pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Go's `%.4g`-style: `sig` significant digits, trailing zeros dropped.
fn sig_digits(v: f64, sig: usize) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let int_digits = (v.abs().log10().floor() as i64 + 1).max(1) as usize;
    let decimals = sig.saturating_sub(int_digits);
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Go-units `HumanSizeWithPrecision(size, 3)`: 3 significant digits, decimal units (`kB`,
/// `MB`…), as in tables.
pub fn human_size(bytes: i64) -> String {
    scaled(
        bytes as f64,
        1000.0,
        &["B", "kB", "MB", "GB", "TB", "PB"],
        3,
    )
}

/// Go-units `BytesSize`: binary units (`KiB`, `MiB`…), as in `stats`.
pub fn bytes_size(bytes: f64) -> String {
    scaled(bytes, 1024.0, &["B", "KiB", "MiB", "GiB", "TiB", "PiB"], 4)
}

fn scaled(mut v: f64, base: f64, units: &[&str], sig: usize) -> String {
    let mut i = 0;
    while v >= base && i + 1 < units.len() {
        v /= base;
        i += 1;
    }
    format!("{}{}", sig_digits(v, sig), units[i])
}

/// Docker's `stringid.TruncateID`: without `sha256:`, 12 characters.
pub fn short_id(id: &str) -> String {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    id.chars().take(12).collect()
}

/// Docker's `Ellipsis`: at most `max` characters, the last one `…` when cut.
pub fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Reads a yes/no answer for prune confirmations; anything but `y`/`yes` is no.
pub fn confirm(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line).is_err() {
        return false;
    }
    matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes" | "s" | "si" | "sí"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabwriter_pads_like_go() {
        let out = tabwrite("A\tBB\tC\nlonger cell here\tx\ty\n");
        assert_eq!(
            out,
            "A                  BB        C\nlonger cell here   x         y\n"
        );
    }

    #[test]
    fn sizes_and_durations_match_go_units() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1_234_567), "1.23MB");
        assert_eq!(human_size(1_984_000), "1.98MB");
        assert_eq!(human_size(4_400_000), "4.4MB");
        assert_eq!(bytes_size(1536.0), "1.5KiB");
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(45), "45 seconds");
        assert_eq!(human_duration(90), "About a minute");
        assert_eq!(human_duration(3 * 3600), "3 hours");
        assert_eq!(human_duration(3 * 86400), "3 days");
    }

    #[test]
    fn table_format_renders_header_and_rows() {
        let listing = Listing {
            headers: &[("ID", "CONTAINER ID"), ("Names", "NAMES")],
            default_table: "table {{.ID}}\t{{.Names}}",
        };
        let mut row = Row::new();
        row.insert("ID".into(), "abc".into());
        row.insert("Names".into(), "web".into());
        let table = listing.render(None, std::slice::from_ref(&row)).unwrap();
        assert_eq!(table, "CONTAINER ID   NAMES\nabc            web\n");
        let plain = listing.render(Some("{{.Names}}"), &[row.clone()]).unwrap();
        assert_eq!(plain, "web\n");
        let json = listing.render(Some("{{json .}}"), &[row]).unwrap();
        assert_eq!(json, "{\"ID\":\"abc\",\"Names\":\"web\"}\n");
    }

    #[test]
    fn values_print_as_go_prints_them() {
        let doc =
            serde_json::json!({"Labels": {"b": "2", "a": "1"}, "Cmd": ["sh", "-c"], "N": null});
        assert_eq!(render_json("{{.Labels}}", &doc).unwrap(), "map[a:1 b:2]");
        assert_eq!(
            render_json("{{.Cmd}} {{.Missing}}", &doc).unwrap(),
            "[sh -c] <no value>"
        );
        assert_eq!(render_json("{{- .N -}}", &doc).unwrap(), "<nil>");
        // (gtmpl ranges over maps in hash order, not Go's sorted order: one key here.)
        let one = serde_json::json!({"Labels": {"a": "1"}});
        assert_eq!(
            render_json("{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}", &one).unwrap(),
            "a=1;"
        );
        assert_eq!(
            render_json("{{if .Labels}}yes{{else}}no{{end}}", &doc).unwrap(),
            "yes"
        );
        assert_eq!(render_json("{{ \"}}\" }}", &doc).unwrap(), "}}");
    }

    #[test]
    fn unknown_field_is_an_error() {
        let listing = Listing {
            headers: &[("ID", "ID")],
            default_table: "table {{.ID}}",
        };
        let mut row = Row::new();
        row.insert("ID".into(), "x".into());
        assert!(listing.render(Some("{{.Nope}}"), &[row]).is_err());
    }

    #[test]
    fn inspect_templates_reach_nested_fields() {
        let doc =
            serde_json::json!({"State": {"Status": "running"}, "Config": {"Labels": {"a": "1"}}});
        assert_eq!(render_json("{{.State.Status}}", &doc).unwrap(), "running");
        assert_eq!(
            render_json("{{index .Config.Labels \"a\"}}", &doc).unwrap(),
            "1"
        );
        assert_eq!(
            render_json("{{json .State}}", &doc).unwrap(),
            "{\"Status\":\"running\"}"
        );
    }
}
