//! Customer data (e-mail, name, address) for callers without the `ops` scope:
//! enough left to tell two customers apart, not enough to contact one.
use serde_json::Value;

use crate::workers::dead::{DeadJob, DeadJobs};

/// Keys whose string values are customer data wherever they appear.
const CUSTOMER_KEYS: [&str; 7] = [
    "email",
    "customer_email",
    "customer_name",
    "address",
    "shipping_address",
    "billing_address",
    "phone",
];

/// `jane@shop.example` → `j***@shop.example`; `Jane Doe` → `J***`.
#[must_use]
pub fn value(text: &str) -> String {
    let first: String = text.chars().take(1).collect();
    match text.split_once('@') {
        Some((_, domain)) if !domain.is_empty() => format!("{first}***@{domain}"),
        _ if text.is_empty() => String::new(),
        _ => format!("{first}***"),
    }
}

/// Free text (an SMTP error, say) with every e-mail address in it masked.
#[must_use]
pub fn text(text: &str) -> String {
    if !text.contains('@') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.contains('@') {
            out.push_str(&value(word));
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_whitespace() || "<>,;:\"'()[]{}".contains(c) {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// A job payload (or any JSON) with its customer data masked: the values of
/// [`CUSTOMER_KEYS`], a `customer` object's `name`, and e-mail addresses in
/// any other string.
pub fn json(payload: &mut Value) {
    match payload {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                let customer_key = CUSTOMER_KEYS.contains(&key.as_str());
                match child {
                    Value::String(s) if customer_key => *s = value(s),
                    Value::Object(customer) if key == "customer" => {
                        if let Some(Value::String(name)) = customer.get_mut("name") {
                            *name = value(name);
                        }
                        json(child);
                    }
                    _ => json(child),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(json),
        Value::String(s) => *s = text(s),
        _ => {}
    }
}

/// A page of dead jobs with its payloads' and errors' customer data masked.
pub fn dead_jobs(page: &mut DeadJobs) {
    for job in &mut page.jobs {
        dead_job(job);
    }
}

/// One job's payload and error with customer data masked.
pub fn dead_job(job: &mut DeadJob) {
    json(&mut job.payload);
    if let Some(error) = &mut job.last_error {
        *error = text(error);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn customers_are_masked_and_products_are_not() {
        let mut payload = json!({"orders": [{
            "external_id": "A-1",
            "customer": {"external_id": "C-1", "email": "jane@shop.example", "name": "Jane Doe"},
            "items": [{"name": "Blue mug", "sku": "MUG"}],
            "note": "mail to <bob@x.example> failed",
        }]});
        super::json(&mut payload);
        assert_eq!(
            payload,
            json!({"orders": [{
                "external_id": "A-1",
                "customer": {"external_id": "C-1", "email": "j***@shop.example", "name": "J***"},
                "items": [{"name": "Blue mug", "sku": "MUG"}],
                "note": "mail to <b***@x.example> failed",
            }]})
        );
    }

    #[test]
    fn free_text_keeps_everything_but_addresses() {
        assert_eq!(
            super::text("554 rejected: jane@shop.example, try later"),
            "554 rejected: j***@shop.example, try later"
        );
        assert_eq!(super::text("no address"), "no address");
    }
}
