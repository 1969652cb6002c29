//! Every page and action of the console, with the access each needs, in
//! one table ([`ROUTES`]): the router checks the access before any
//! handler runs, so no handler can forget it.

use super::Console;
use super::access::{self, Session};
use super::http::{Req, Resp};
use super::pages;

/// What a route requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Nothing: the login page and the static files.
    Public,
    /// A live session (pages and the fragments they poll).
    Session,
    /// A live session and its CSRF token in the form (every action).
    Action,
}

/// What a handler is given.
pub struct Ctx<'a> {
    /// The request.
    pub req: &'a Req,
    /// The pattern's `{…}` segments, in order.
    pub params: Vec<String>,
    /// The session (none on public routes).
    pub session: Option<Session>,
    /// The session's id (none on public routes).
    pub session_id: Option<String>,
}

impl Ctx<'_> {
    /// The session's CSRF token (empty on public routes).
    pub fn csrf(&self) -> &str {
        self.session.as_ref().map_or("", |s| s.csrf.as_str())
    }
}

type Handler = fn(&Console, &Ctx<'_>) -> Resp;

/// One route.
pub struct Route {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The path; `{name}` matches one segment.
    pub pattern: &'static str,
    /// What it requires.
    pub guard: Guard,
    handler: Handler,
}

const fn route(
    method: &'static str,
    pattern: &'static str,
    guard: Guard,
    handler: Handler,
) -> Route {
    Route {
        method,
        pattern,
        guard,
        handler,
    }
}

/// Every route of the console.
pub const ROUTES: &[Route] = &[
    route("GET", "/login", Guard::Public, pages::login::form),
    route("POST", "/login", Guard::Public, pages::login::submit),
    route(
        "GET",
        "/assets/console.js",
        Guard::Public,
        pages::assets::script,
    ),
    route(
        "GET",
        "/assets/console.css",
        Guard::Public,
        pages::assets::style,
    ),
    route("POST", "/logout", Guard::Action, pages::login::logout),
    route("GET", "/", Guard::Session, pages::overview::page),
    route(
        "GET",
        "/peers/live",
        Guard::Session,
        pages::overview::peers_live,
    ),
    route("GET", "/jobs", Guard::Session, pages::jobs::page),
    route("GET", "/jobs/rows", Guard::Session, pages::jobs::rows),
    route(
        "GET",
        "/jobs/{proposer}/{id}",
        Guard::Session,
        pages::job::page,
    ),
    route(
        "GET",
        "/jobs/{proposer}/{id}/live",
        Guard::Session,
        pages::job::live,
    ),
    route(
        "POST",
        "/jobs/{proposer}/{id}/cancel",
        Guard::Action,
        pages::job::cancel,
    ),
    route("GET", "/submit", Guard::Session, pages::submit::form),
    route("POST", "/submit", Guard::Action, pages::submit::submit),
    route("GET", "/audit", Guard::Session, pages::audit::page),
    route("GET", "/models", Guard::Session, pages::models::list),
    route(
        "GET",
        "/models/{proposer}/{id}",
        Guard::Session,
        pages::models::page,
    ),
    route(
        "GET",
        "/models/{proposer}/{id}/{file}",
        Guard::Session,
        pages::cards::page,
    ),
    route("GET", "/verify", Guard::Session, pages::verify::page),
    route("GET", "/budgets", Guard::Session, pages::budgets::page),
];

/// The `{…}` segments of `path` if it matches `pattern`.
fn matches(pattern: &str, path: &str) -> Option<Vec<String>> {
    let mut params = Vec::new();
    let mut pat = pattern.split('/');
    let mut seg = path.split('/');
    loop {
        match (pat.next(), seg.next()) {
            (None, None) => return Some(params),
            (Some(p), Some(s)) if p.starts_with('{') => {
                let decoded: String = form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())?;
                if decoded.is_empty() || decoded.contains('/') {
                    return None;
                }
                params.push(decoded);
            }
            (Some(p), Some(s)) if p == s => {}
            _ => return None,
        }
    }
}

/// Whether a path is a fragment polled by the page's script (answered 401
/// rather than redirected when the session is gone).
fn is_fragment(path: &str) -> bool {
    path.ends_with("/rows") || path.ends_with("/live")
}

/// Routes `req`: finds its route, checks its guard, runs its handler.
pub fn dispatch(console: &Console, req: &Req) -> Resp {
    let mut path_matched = false;
    for r in ROUTES {
        let Some(params) = matches(r.pattern, &req.path) else {
            continue;
        };
        path_matched = true;
        if r.method != req.method {
            continue;
        }
        let mut ctx = Ctx {
            req,
            params,
            session: None,
            session_id: None,
        };
        if r.guard != Guard::Public {
            let id = req.cookie(&console.cookie).unwrap_or_default();
            let Some(session) = console.access.session(id) else {
                return not_logged_in(req, r.guard);
            };
            if r.guard == Guard::Action && !access::csrf_ok(&session, req.form("csrf")) {
                return pages::layout::refused(
                    403,
                    "Refused: this form did not carry the session's CSRF token",
                    "Every form that acts carries a token only this session's pages know. \
                     Reload the page and try again.",
                );
            }
            ctx.session = Some(session);
            ctx.session_id = Some(id.to_string());
        }
        return (r.handler)(console, &ctx);
    }
    if path_matched {
        Resp::text(405, "method not allowed")
    } else {
        pages::layout::refused(404, "Not found", "There is no such page on this console.")
    }
}

fn not_logged_in(req: &Req, guard: Guard) -> Resp {
    if guard == Guard::Session && req.method == "GET" && !is_fragment(&req.path) {
        Resp::redirect("/login")
    } else {
        Resp::text(401, "not logged in: open /login")
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn patterns_match_whole_segments() {
        assert_eq!(matches("/jobs", "/jobs"), Some(vec![]));
        assert_eq!(matches("/jobs", "/jobs/"), None);
        assert_eq!(
            matches("/jobs/{proposer}/{id}", "/jobs/bank/j%2D1"),
            Some(vec!["bank".to_string(), "j-1".to_string()])
        );
        assert_eq!(matches("/jobs/{proposer}/{id}", "/jobs/bank/a%2Fb"), None);
        assert_eq!(matches("/jobs/{proposer}/{id}", "/jobs/bank"), None);
        assert_eq!(
            matches("/jobs/{proposer}/{id}/live", "/jobs/bank/x/live"),
            Some(vec!["bank".into(), "x".into()])
        );
    }
}
