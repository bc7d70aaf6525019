//! Server-rendered pages: escaping and the shared page shell. No CDN, no framework.
use std::fmt::Write;

/// Escapes text for HTML element content and double-quoted attribute values.
#[must_use]
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

/// A whole page. `title` is escaped; `body` must already be safe HTML.
/// `refresh_secs` reloads the page by itself (`<meta http-equiv=refresh>`).
#[must_use]
pub fn page(title: &str, refresh_secs: u32, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 2048);
    let _ = write!(
        out,
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{refresh_secs}">
<title>{title}</title>
<style>{STYLE}</style></head>
<body><nav><a href="/dashboard">Queues</a> · <a href="/dashboard/kpis">KPIs</a> ·
<a href="/api/queues">/api/queues</a> · <a href="/metrics">/metrics</a> ·
<a href="/_health">/_health</a></nav>
<h1>{title}</h1>
{body}
<footer>Refreshes every {refresh_secs} s.</footer>
</body></html>
"#,
        title = escape(title),
    );
    out
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\
nav a{color:#246}table{border-collapse:collapse;margin:.5em 0 1.5em}\
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right;vertical-align:top}\
th:first-child,td:first-child,td.text{text-align:left}\
.warn{background:#fde2e2}.ok{background:#e3f6e3}code{font-size:12px}\
td.payload{max-width:32em;overflow-wrap:anywhere;text-align:left}\
footer{color:#777;margin-top:2em}svg text{font-size:10px;fill:#444}";

#[cfg(test)]
mod tests {
    use super::{escape, page};

    #[test]
    fn markup_in_text_is_inert() {
        assert_eq!(
            escape(r#"<script>alert("x&y")</script>'"#),
            "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;&#39;"
        );
        assert!(page("<b>", 5, "").contains("<title>&lt;b&gt;</title>"));
    }
}
