//! A request as the console's handlers see it (already read and decoded,
//! so handlers are plain synchronous functions) and the response they
//! give, with the headers every response carries.

use maud::Markup;

/// A decoded request.
#[derive(Debug, Clone, Default)]
pub struct Req {
    /// `GET` or `POST` (anything else is refused before routing).
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query's pairs, decoded.
    pub query: Vec<(String, String)>,
    /// The form's pairs (`application/x-www-form-urlencoded` bodies).
    pub form: Vec<(String, String)>,
    /// The `Cookie` header.
    pub cookies: String,
}

impl Req {
    /// The first query value of `name`.
    pub fn query(&self, name: &str) -> Option<&str> {
        pair(&self.query, name)
    }

    /// The first form value of `name`.
    pub fn form(&self, name: &str) -> Option<&str> {
        pair(&self.form, name)
    }

    /// The value of cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        super::access::cookie(&self.cookies, name)
    }
}

fn pair<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A response.
#[derive(Debug, Clone)]
pub struct Resp {
    /// The status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Further headers (`Location`, `Set-Cookie`, …).
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Resp {
    /// An HTML page or fragment.
    pub fn html(markup: Markup) -> Resp {
        Resp::with(
            200,
            "text/html; charset=utf-8",
            markup.into_string().into_bytes(),
        )
    }

    /// A response of `status` with `body` of `content_type`.
    pub fn with(status: u16, content_type: &'static str, body: Vec<u8>) -> Resp {
        Resp {
            status,
            content_type,
            headers: Vec::new(),
            body,
        }
    }

    /// A plain-text response (errors for scripts and tools).
    pub fn text(status: u16, text: &str) -> Resp {
        Resp::with(
            status,
            "text/plain; charset=utf-8",
            text.as_bytes().to_vec(),
        )
    }

    /// `303 See Other` to `location` (after a form: the browser fetches
    /// the page, so reloading it does not repeat the action).
    pub fn redirect(location: &str) -> Resp {
        let mut r = Resp::with(303, "text/plain; charset=utf-8", Vec::new());
        r.headers.push(("Location", location.to_string()));
        r
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: String) -> Resp {
        self.headers.push((name, value));
        self
    }

    /// The header `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The Content-Security-Policy of every response: scripts and styles only
/// from the console's own files (no inline script, no `eval`), images from
/// itself or `data:`, requests only to itself, forms only to itself, and
/// no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                       img-src 'self' data:; connect-src 'self'; form-action 'self'; \
                       frame-ancestors 'none'; base-uri 'none'";

/// The headers every response carries.
pub fn security_headers() -> [(&'static str, &'static str); 6] {
    [
        ("Content-Security-Policy", CSP),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
        ("Cache-Control", "no-store"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    ]
}

/// Decodes `application/x-www-form-urlencoded` text.
pub fn decode_pairs(text: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(text)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Encodes one value for a URL's query or path.
pub fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
