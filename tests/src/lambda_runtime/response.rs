//! What the invoke API answers: an invocation's outcome and the HTTP response inside it.

use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

/// One invocation's outcome, as the invoke API answered it.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The invoke API's own status: 200 when the function answered, 408 on its timeout.
    pub status: u16,
    /// What the function returned (for an HTTP event: lambda_http's response document).
    pub payload: String,
    /// From sending the event to the whole answer.
    pub elapsed: Duration,
}

impl Invocation {
    /// The HTTP response the function returned for an API Gateway or function-URL event.
    /// Panics, with the payload, on anything else.
    pub fn http(&self) -> HttpResponse {
        assert_eq!(
            self.status, 200,
            "the invoke API answered {}: {}",
            self.status, self.payload
        );
        HttpResponse::parse(&self.payload)
    }
}

/// An API Gateway (v1 or v2) or function-URL response document, decoded.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names in lower case; `headers` and `multiValueHeaders` merged.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn parse(payload: &str) -> HttpResponse {
        let doc: Value = serde_json::from_str(payload)
            .unwrap_or_else(|e| panic!("the function's answer is not JSON ({e}): {payload}"));
        let status = doc["statusCode"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or_else(|| panic!("no statusCode in {payload}"));
        let mut headers = Vec::new();
        if let Some(single) = doc["headers"].as_object() {
            for (name, value) in single {
                if let Some(value) = value.as_str() {
                    headers.push((name.to_ascii_lowercase(), value.to_owned()));
                }
            }
        }
        if let Some(multi) = doc["multiValueHeaders"].as_object() {
            for (name, values) in multi {
                let name = name.to_ascii_lowercase();
                for value in values.as_array().into_iter().flatten() {
                    if let Some(value) = value.as_str()
                        && !headers.iter().any(|(n, v)| *n == name && v == value)
                    {
                        headers.push((name.clone(), value.to_owned()));
                    }
                }
            }
        }
        let body = doc["body"].as_str().unwrap_or("");
        let body = if doc["isBase64Encoded"] == true {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(body)
                .unwrap_or_else(|e| panic!("a base64 body that is not base64 ({e}): {payload}"));
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            body.to_owned()
        };
        HttpResponse {
            status,
            headers,
            body,
        }
    }

    /// The first value of header `name` (any case), or "".
    pub fn header(&self, name: &str) -> &str {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("the body is not JSON ({e}): {}", self.body))
    }
}
