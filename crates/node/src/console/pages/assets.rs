//! The console's only script and style sheet, served as files (the
//! Content-Security-Policy allows no inline script or style).

use crate::console::Console;
use crate::console::http::Resp;
use crate::console::routes::Ctx;

/// The script: live updates of the jobs list and a job's page, by
/// polling an HTML fragment the server renders.
pub const SCRIPT: &str = include_str!("../assets/console.js");
/// The style sheet.
pub const STYLE: &str = include_str!("../assets/console.css");

/// `GET /assets/console.js`.
pub fn script(_: &Console, _: &Ctx<'_>) -> Resp {
    Resp::with(
        200,
        "text/javascript; charset=utf-8",
        SCRIPT.as_bytes().to_vec(),
    )
}

/// `GET /assets/console.css`.
pub fn style(_: &Console, _: &Ctx<'_>) -> Resp {
    Resp::with(200, "text/css; charset=utf-8", STYLE.as_bytes().to_vec())
}
