//! Logging in with the operator token, and out.

use crate::console::Console;
use crate::console::access::{LoginError, random_hex};
use crate::console::http::Resp;
use crate::console::routes::Ctx;
use maud::{DOCTYPE, html};

/// The login form's own CSRF cookie (double submit).
fn login_cookie(console: &Console) -> String {
    format!("{}-login", console.cookie)
}

fn cookie_attrs(console: &Console) -> &'static str {
    if console.secure {
        "; Path=/; HttpOnly; SameSite=Strict; Secure"
    } else {
        "; Path=/; HttpOnly; SameSite=Strict"
    }
}

fn render(console: &Console, status: u16, message: Option<&str>) -> Resp {
    let csrf = random_hex();
    let name = &console.view().config().name;
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "Log in — " (name) " — indomain console" }
                link rel="stylesheet" href="/assets/console.css";
            }
            body {
                main.login {
                    h1 { "indomain console · " (name) }
                    @if let Some(m) = message {
                        p.error #login-error { (m) }
                    }
                    form method="post" action="/login" {
                        input type="hidden" name="csrf" value=(csrf);
                        label for="token" { "Operator token" }
                        input #token type="password" name="token" autocomplete="off" autofocus;
                        button #login type="submit" { "Log in" }
                    }
                    p.hint {
                        "The token is in " code { "console.token" } " beside the node's control socket; "
                        code { "indomain node --config node.toml --new-console-token" }
                        " replaces it and logs every session out."
                    }
                }
            }
        }
    };
    let mut r = Resp::html(markup);
    r.status = status;
    r.header(
        "Set-Cookie",
        format!("{}={csrf}{}", login_cookie(console), cookie_attrs(console)),
    )
}

/// `GET /login`.
pub fn form(console: &Console, _: &Ctx<'_>) -> Resp {
    render(console, 200, None)
}

/// `POST /login`: the token for a session cookie.
pub fn submit(console: &Console, ctx: &Ctx<'_>) -> Resp {
    let token = ctx.req.form("token").unwrap_or_default();
    let form = ctx.req.form("csrf").unwrap_or_default();
    let cookie = ctx.req.cookie(&login_cookie(console)).unwrap_or_default();
    match console.access.login(token, form, cookie) {
        Ok(id) => Resp::redirect("/").header(
            "Set-Cookie",
            format!("{}={id}{}", console.cookie, cookie_attrs(console)),
        ),
        Err(LoginError::WrongToken) => {
            render(console, 403, Some("That is not the operator token."))
        }
        Err(LoginError::Forged) => render(
            console,
            403,
            Some("The login form was not this console's (CSRF check failed); try again."),
        ),
    }
}

/// `POST /logout`.
pub fn logout(console: &Console, ctx: &Ctx<'_>) -> Resp {
    if let Some(id) = &ctx.session_id {
        console.access.logout(id);
    }
    Resp::redirect("/login").header(
        "Set-Cookie",
        format!("{}=; Max-Age=0{}", console.cookie, cookie_attrs(console)),
    )
}
