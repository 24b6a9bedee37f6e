//! The HTTP routes: the console's files, `/api/v1/...` and `/metrics`. Every handler first
//! says who may call it (`authorize`): nothing but the console's files, the OpenAPI document,
//! the claim and the sign-in answers without credentials.

use super::auth::{Principal, Role};
use super::{console, metrics, redact, store, Web};
use crate::api::{Answer, ApiError, Request};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;

pub const SESSION_COOKIE: &str = "__Host-salle-session";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Shortest password accepted (ANSSI recommends long passphrases over complexity rules).
pub const MIN_PASSWORD: usize = 12;

/// An error answer: the HTTP status, a stable code and a message, as the control socket's.
#[derive(Debug)]
pub struct WebError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl WebError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> WebError {
        WebError {
            status,
            code,
            message: message.into(),
        }
    }
    fn unauthorized() -> WebError {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "sign in first")
    }
    fn bad(message: impl Into<String>) -> WebError {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", message)
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let body = Json(json!({"ok": false, "error": self.message, "code": self.code}));
        let mut response = (self.status, body).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<ApiError> for WebError {
    fn from(error: ApiError) -> WebError {
        let status = match error {
            ApiError::BadRequest(_) | ApiError::RequestTooLong | ApiError::NotAMeeting(_) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::Refused(_) => StatusCode::CONFLICT,
            ApiError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        };
        let code = match serde_json::to_value(error.code()) {
            Ok(Value::String(s)) => static_code(&s),
            _ => "other",
        };
        WebError::new(status, code, error.to_string())
    }
}

/// Codes are a closed set: map the daemon's to our static strings.
fn static_code(code: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "bad-request",
        "request-too-long",
        "not-a-meeting",
        "in-another-meeting",
        "still-leaving",
        "not-in-a-meeting",
        "unmute-in-room-only",
        "camera-on-in-room-only",
        "shutting-down",
    ];
    KNOWN
        .iter()
        .find(|k| **k == code)
        .copied()
        .unwrap_or("other")
}

type Result<T> = std::result::Result<T, WebError>;

pub fn router(web: Arc<Web>) -> Router {
    Router::new()
        .route("/", get(console::index))
        .route("/console.js", get(console::script))
        .route("/console.css", get(console::style))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/setup", get(setup_state).post(claim))
        .route(
            "/api/v1/session",
            get(session).post(sign_in).delete(sign_out),
        )
        .route("/api/v1/status", get(status))
        .route("/api/v1/events", get(events))
        .route("/api/v1/commands/join", post(join))
        .route("/api/v1/commands/leave", post(leave))
        .route("/api/v1/commands/mute", post(mute))
        .route("/api/v1/commands/camera", post(camera))
        .route("/api/v1/config", get(config_get).put(config_put))
        .route("/api/v1/config/validate", post(config_validate))
        .route("/api/v1/users", get(users).post(add_user))
        .route("/api/v1/users/{name}", delete(remove_user))
        .route("/api/v1/tokens", get(tokens).post(add_token))
        .route("/api/v1/tokens/{id}", delete(remove_token))
        .route("/api/v1/audit", get(audit))
        .route("/metrics", get(prometheus))
        .fallback(|| async { WebError::new(StatusCode::NOT_FOUND, "not-found", "no such page") })
        .layer(axum::middleware::map_response(security_headers))
        .with_state(web)
}

async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    );
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "no-referrer");
    set(h, "x-frame-options", "DENY");
    set(h, "strict-transport-security", "max-age=31536000");
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, "cache-control", "no-store");
    }
    response
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Who is calling, and whether they may do this: a bearer token, or a session cookie plus
/// its CSRF token on anything that changes something.
fn authorize(web: &Web, headers: &HeaderMap, method: &Method, need: Role) -> Result<Principal> {
    let principal = if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let presented = auth
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(WebError::unauthorized)?;
        let (who, role) = web
            .store
            .lock()
            .unwrap()
            .token_role(presented.trim())
            .ok_or_else(WebError::unauthorized)?;
        Principal {
            who,
            role,
            csrf: None,
        }
    } else {
        let id = cookie_value(headers, SESSION_COOKIE).ok_or_else(WebError::unauthorized)?;
        let principal = web
            .sessions
            .lock()
            .unwrap()
            .find(id)
            .ok_or_else(WebError::unauthorized)?;
        if method != Method::GET && method != Method::HEAD {
            let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            let expected = principal.csrf.as_deref().unwrap_or_default();
            #[allow(deprecated)]
            let same = sent.is_some_and(|s| {
                ring::constant_time::verify_slices_are_equal(s.as_bytes(), expected.as_bytes())
                    .is_ok()
            });
            if !same {
                return Err(WebError::new(
                    StatusCode::FORBIDDEN,
                    "csrf",
                    "missing or wrong X-CSRF-Token",
                ));
            }
        }
        principal
    };
    if principal.role < need {
        return Err(WebError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("needs the {need:?} role").to_lowercase(),
        ));
    }
    Ok(principal)
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], super::OPENAPI).into_response()
}

async fn setup_state(State(web): State<Arc<Web>>) -> Json<Value> {
    let claimed = web.store.lock().unwrap().claimed();
    Json(json!({"claimed": claimed, "language": web.language}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimBody {
    code: String,
    user: String,
    password: String,
}

fn session_answer(web: &Web, user: &str, role: Role) -> Response {
    let (id, csrf) = web.sessions.lock().unwrap().open(user, role);
    let cookie = format!(
        "{SESSION_COOKIE}={id}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={}",
        super::auth::SESSION_IDLE.as_secs()
    );
    (
        [(header::SET_COOKIE, cookie)],
        Json(json!({"ok": true, "user": user, "role": role, "csrf": csrf})),
    )
        .into_response()
}

fn valid_user_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "._-@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(WebError::bad(
            "user names are 1 to 64 letters, digits, '.', '_', '-' or '@'",
        ))
    }
}

fn valid_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(WebError::new(
            StatusCode::BAD_REQUEST,
            "weak-password",
            format!("passwords have at least {MIN_PASSWORD} characters"),
        ));
    }
    Ok(())
}

async fn hash(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || store::hash_password(&password))
        .await
        .map_err(|e| WebError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .map_err(|e| WebError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))
}

fn locked_out() -> WebError {
    WebError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "locked-out",
        "too many failed attempts: try again in 15 minutes",
    )
}

/// The first admin: whoever types the code shown on the room's screen.
async fn claim(
    State(web): State<Arc<Web>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    Json(body): Json<ClaimBody>,
) -> Result<Response> {
    let from_ip = from.ip();
    if web.lockout.lock().unwrap().locked("(setup)", from_ip) {
        return Err(locked_out());
    }
    let expected = web.store.lock().unwrap().setup_code.clone();
    let Some(expected) = expected else {
        return Err(WebError::new(
            StatusCode::CONFLICT,
            "already-claimed",
            "this room already has an administrator",
        ));
    };
    let normalise = |c: &str| c.trim().to_ascii_uppercase().replace([' ', '-'], "");
    #[allow(deprecated)]
    let right = ring::constant_time::verify_slices_are_equal(
        normalise(&body.code).as_bytes(),
        normalise(&expected).as_bytes(),
    )
    .is_ok();
    if !right {
        web.lockout.lock().unwrap().failed("(setup)", from_ip);
        web.audit.record(
            "(nobody)",
            &from_ip.to_string(),
            "claim the room",
            "wrong-code",
        );
        return Err(WebError::new(
            StatusCode::FORBIDDEN,
            "wrong-code",
            "this is not the code shown on the room's screen",
        ));
    }
    valid_user_name(&body.user)?;
    valid_password(&body.password)?;
    let password_hash = hash(body.password).await?;
    {
        let mut store = web.store.lock().unwrap();
        if store.setup_code.is_none() {
            return Err(WebError::new(
                StatusCode::CONFLICT,
                "already-claimed",
                "this room already has an administrator",
            ));
        }
        store.accounts.users.push(store::User {
            name: body.user.clone(),
            role: Role::Admin,
            password_hash,
        });
        store.setup_code = None;
        store.save().map_err(internal)?;
        store
            .write_setup_info(&web.fingerprint, &web.url)
            .map_err(internal)?;
    }
    web.audit
        .record(&body.user, &from_ip.to_string(), "claim the room", "done");
    Ok(session_answer(&web, &body.user, Role::Admin))
}

fn internal(e: impl std::fmt::Display) -> WebError {
    tracing::error!("{e}");
    WebError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error (see the web surface's log)",
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    user: String,
    password: String,
}

async fn sign_in(
    State(web): State<Arc<Web>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    Json(body): Json<SignIn>,
) -> Result<Response> {
    let from_ip = from.ip();
    if web.lockout.lock().unwrap().locked(&body.user, from_ip) {
        web.audit
            .record(&body.user, &from_ip.to_string(), "sign in", "locked-out");
        return Err(locked_out());
    }
    let user = web.store.lock().unwrap().user(&body.user).cloned();
    let hash = user.as_ref().map_or_else(
        || store::decoy_hash().to_string(),
        |u| u.password_hash.clone(),
    );
    let password = body.password;
    let right = tokio::task::spawn_blocking(move || store::verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    match user.filter(|_| right) {
        Some(user) => {
            web.lockout.lock().unwrap().succeeded(&user.name);
            web.audit
                .record(&user.name, &from_ip.to_string(), "sign in", "done");
            Ok(session_answer(&web, &user.name, user.role))
        }
        None => {
            web.lockout.lock().unwrap().failed(&body.user, from_ip);
            web.audit.record(
                &body.user,
                &from_ip.to_string(),
                "sign in",
                "wrong-password",
            );
            Err(WebError::new(
                StatusCode::UNAUTHORIZED,
                "wrong-password",
                "wrong user name or password",
            ))
        }
    }
}

async fn session(State(web): State<Arc<Web>>, headers: HeaderMap) -> Result<Json<Value>> {
    let p = authorize(&web, &headers, &Method::GET, Role::Viewer)?;
    Ok(Json(
        json!({"ok": true, "user": p.who, "role": p.role, "csrf": p.csrf}),
    ))
}

async fn sign_out(
    State(web): State<Arc<Web>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response> {
    let p = authorize(&web, &headers, &Method::DELETE, Role::Viewer)?;
    if let Some(id) = cookie_value(&headers, SESSION_COOKIE) {
        web.sessions.lock().unwrap().close(id);
    }
    web.audit
        .record(&p.who, &from.ip().to_string(), "sign out", "done");
    let expire = format!("{SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0");
    Ok(([(header::SET_COOKIE, expire)], Json(json!({"ok": true}))).into_response())
}

async fn status(State(web): State<Arc<Web>>, headers: HeaderMap) -> Result<Json<Value>> {
    authorize(&web, &headers, &Method::GET, Role::Viewer)?;
    let status = web.daemon.status().await.map_err(unreachable)?;
    Ok(Json(public_status(&status)))
}

fn unreachable(e: super::daemon_link::LinkError) -> WebError {
    WebError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "daemon-unreachable",
        e.to_string(),
    )
}

/// The status as the web shows it: secrets hidden.
fn public_status(status: &Value) -> Value {
    let mut status = status.clone();
    redact::json(&mut status);
    status
}

#[derive(Deserialize)]
struct EventsQuery {
    /// Comma-separated dotted paths of the status tree (`call.state,mic_muted`).
    #[serde(default)]
    paths: Option<String>,
}

fn at_path<'a>(status: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .filter(|p| !p.is_empty())
        .try_fold(status, |v, part| match v {
            Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => v.get(part),
        })
}

/// Server-sent events: the status tree's changes, only at the subscribed paths (all of it
/// when none are given). The first event has the current values.
async fn events(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Query(query): Query<EventsQuery>,
) -> Result<Response> {
    authorize(&web, &headers, &Method::GET, Role::Viewer)?;
    let paths: Vec<String> = query
        .paths
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let receiver = web.status_feed.subscribe();
    web.feed_wanted.notify_one();
    let first = web.daemon.status().await.ok();
    let state = (receiver, paths, None::<Value>, first);
    let stream =
        futures_util::stream::unfold(state, |(mut rx, paths, last, mut pending)| async move {
            loop {
                let status = match pending.take() {
                    Some(s) => s,
                    None => match rx.recv().await {
                        Ok(s) => s,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(_) => return None,
                    },
                };
                let status = public_status(&status);
                let view = if paths.is_empty() {
                    status
                } else {
                    Value::Object(
                        paths
                            .iter()
                            .map(|p| {
                                (
                                    p.clone(),
                                    at_path(&status, p).cloned().unwrap_or(Value::Null),
                                )
                            })
                            .collect(),
                    )
                };
                if last.as_ref() == Some(&view) {
                    continue;
                }
                let event = Event::default().event("status").data(view.to_string());
                return Some((
                    Ok::<_, std::convert::Infallible>(event),
                    (rx, paths, Some(view), None),
                ));
            }
        });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// Sends a command to the daemon and answers with the status, recording it in the audit log.
async fn command(
    web: &Web,
    who: &Principal,
    from: SocketAddr,
    what: String,
    request: Request,
) -> Result<Json<Value>> {
    let outcome = match web.daemon.request(request).await {
        Err(e) => Err(unreachable(e)),
        Ok(Answer::Status { status, .. }) => {
            Ok(serde_json::to_value(status).expect("status serialises"))
        }
        Ok(Answer::Error { error, code, .. }) => {
            let code = code
                .and_then(|c| serde_json::to_value(c).ok())
                .and_then(|v| v.as_str().map(static_code))
                .unwrap_or("other");
            Err(WebError::new(StatusCode::CONFLICT, code, error))
        }
    };
    let done = match &outcome {
        Ok(_) => "done",
        Err(e) => e.code,
    };
    web.audit
        .record(&who.who, &from.ip().to_string(), &what, done);
    outcome.map(|s| Json(json!({"ok": true, "status": public_status(&s)})))
}

/// A remote refusal decided here as well as in the room (defence in depth): a request through
/// the web is remote, and a remote user may mute or turn the camera off, never the reverse.
fn refuse_remote(
    web: &Web,
    who: &Principal,
    from: SocketAddr,
    what: &str,
    e: ApiError,
) -> WebError {
    let e = WebError::from(e);
    web.audit
        .record(&who.who, &from.ip().to_string(), what, e.code);
    WebError::new(StatusCode::FORBIDDEN, e.code, e.message)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct JoinBody {
    #[serde(default)]
    url: Option<String>,
}

async fn join(
    State(web): State<Arc<Web>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Option<Json<JoinBody>>,
) -> Result<Json<Value>> {
    let p = authorize(&web, &headers, &Method::POST, Role::Operator)?;
    let url = body.and_then(|Json(b)| b.url);
    let what = match &url {
        Some(u) => format!("join {}", redact::address(u)),
        None => "join the room's meeting".into(),
    };
    command(&web, &p, from, what, Request::Join { url }).await
}

async fn leave(
    State(web): State<Arc<Web>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<Value>> {
    let p = authorize(&web, &headers, &Method::POST, Role::Operator)?;
    command(&web, &p, from, "leave".into(), Request::Leave).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MuteBody {
    muted: bool,
}

async fn mute(
    State(web): State<Arc<Web>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(body): Json<MuteBody>,
) -> Result<Json<Value>> {
    let p = authorize(&web, &headers, &Method::POST, Role::Operator)?;
    if !body.muted {
        return Err(refuse_remote(
            &web,
            &p,
            from,
            "unmute",
            ApiError::Refused(crate::room::Refusal::UnmuteInRoomOnly),
        ));
    }
    command(&web, &p, from, "mute".into(), Request::Mute { muted: true }).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CameraBody {
    off: bool,
}

async fn camera(
    State(web): State<Arc<Web>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(body): Json<CameraBody>,
) -> Result<Json<Value>> {
    let p = authorize(&web, &headers, &Method::POST, Role::Operator)?;
    if !body.off {
        return Err(refuse_remote(
            &web,
            &p,
            from,
            "camera on",
            ApiError::Refused(crate::room::Refusal::CameraOnInRoomOnly),
        ));
    }
    command(
        &web,
        &p,
        from,
        "camera off".into(),
        Request::Camera { off: true },
    )
    .await
}

/// The configuration in use, secrets hidden: as JSON and as TOML for the raw editor.
async fn config_get(State(web): State<Arc<Web>>, headers: HeaderMap) -> Result<Json<Value>> {
    authorize(&web, &headers, &Method::GET, Role::Admin)?;
    let config = match &web.config_path {
        Some(path) if path.exists() => {
            crate::config::load_file(path).map_err(|e| WebError::bad(e.to_string()))?
        }
        _ => crate::config::Config::default(),
    };
    let mut value = serde_json::to_value(&config).expect("config serialises");
    redact::json(&mut value);
    let toml = toml_text(&value);
    Ok(Json(json!({
        "ok": true,
        "file": web.config_path.as_ref().map(|p| p.display().to_string()),
        "settings": value,
        "toml": toml,
    })))
}

/// JSON to TOML: nulls (unset options) are left out, as in a hand-written file.
fn toml_text(value: &Value) -> String {
    fn strip(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k.clone(), strip(v)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
            other => other.clone(),
        }
    }
    toml::to_string(&strip(value)).unwrap_or_default()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigBody {
    toml: String,
}

fn validate(web: &Web, text: &str) -> std::result::Result<(), Value> {
    let file = web
        .config_path
        .clone()
        .unwrap_or_else(|| crate::config::DEFAULT_PATH.into());
    crate::config::parse(text, &file).map(|_| ()).map_err(|e| {
        json!({"line": e.line, "column": e.column, "field": e.field,
               "message": e.message, "text": e.to_string()})
    })
}

/// Checks a configuration with the same located errors as `salle config check`.
async fn config_validate(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Json(body): Json<ConfigBody>,
) -> Result<Json<Value>> {
    authorize(&web, &headers, &Method::POST, Role::Admin)?;
    Ok(Json(match validate(&web, &body.toml) {
        Ok(()) => json!({"ok": true}),
        Err(located) => json!({"ok": false, "code": "invalid-config", "error": located}),
    }))
}

/// Applying goes through the daemon (it owns the file and knows what needs a restart); until
/// the daemon takes configuration requests this validates and answers `not-implemented`.
async fn config_put(
    State(web): State<Arc<Web>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(body): Json<ConfigBody>,
) -> Result<Json<Value>> {
    let p = authorize(&web, &headers, &Method::PUT, Role::Admin)?;
    if let Err(located) = validate(&web, &body.toml) {
        web.audit.record(
            &p.who,
            &from.ip().to_string(),
            "apply settings",
            "invalid-config",
        );
        let text = located["text"].as_str().unwrap_or_default().to_string();
        return Err(WebError::new(
            StatusCode::BAD_REQUEST,
            "invalid-config",
            text,
        ));
    }
    web.audit.record(
        &p.who,
        &from.ip().to_string(),
        "apply settings",
        "not-implemented",
    );
    Err(WebError::new(
        StatusCode::NOT_IMPLEMENTED,
        "not-implemented",
        "this daemon cannot apply settings at run time yet",
    ))
}

async fn users(State(web): State<Arc<Web>>, headers: HeaderMap) -> Result<Json<Value>> {
    authorize(&web, &headers, &Method::GET, Role::Admin)?;
    let store = web.store.lock().unwrap();
    let users: Vec<Value> = store
        .accounts
        .users
        .iter()
        .map(|u| json!({"name": u.name, "role": u.role}))
        .collect();
    Ok(Json(json!({"ok": true, "users": users})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
    password: String,
    role: Role,
}

async fn add_user(
    State(web): State<Arc<Web>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(body): Json<NewUser>,
) -> Result<Json<Value>> {
    let p = authorize(&web, &headers, &Method::POST, Role::Admin)?;
    valid_user_name(&body.name)?;
    valid_password(&body.password)?;
    let password_hash = hash(body.password).await?;
    {
        let mut store = web.store.lock().unwrap();
        if store.user(&body.name).is_some() {
            return Err(WebError::new(
                StatusCode::CONFLICT,
                "exists",
                "a user has this name",
            ));
        }
        store.accounts.users.push(store::User {
            name: body.name.clone(),
            role: body.role,
            password_hash,
        });
        store.save().map_err(internal)?;
    }
    let what = format!("add user {} ({:?})", body.name, body.role).to_lowercase();
    web.audit
        .record(&p.who, &from.ip().to_string(), &what, "done");
    Ok(Json(json!({"ok": true})))
}

async fn remove_user(
    State(web): State<Arc<Web>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Json<Value>> {
    let p = authorize(&web, &headers, &Method::DELETE, Role::Admin)?;
    {
        let mut store = web.store.lock().unwrap();
        let admins = store
            .accounts
            .users
            .iter()
            .filter(|u| u.role == Role::Admin && u.name != name)
            .count();
        if store.user(&name).is_none() {
            return Err(WebError::new(
                StatusCode::NOT_FOUND,
                "not-found",
                "no such user",
            ));
        }
        if admins == 0 {
            return Err(WebError::new(
                StatusCode::CONFLICT,
                "last-admin",
                "the last administrator cannot be removed",
            ));
        }
        store.accounts.users.retain(|u| u.name != name);
        store.save().map_err(internal)?;
    }
    web.sessions.lock().unwrap().close_user(&name);
    web.audit.record(
        &p.who,
        &from.ip().to_string(),
        &format!("remove user {name}"),
        "done",
    );
    Ok(Json(json!({"ok": true})))
}

async fn tokens(State(web): State<Arc<Web>>, headers: HeaderMap) -> Result<Json<Value>> {
    authorize(&web, &headers, &Method::GET, Role::Admin)?;
    let store = web.store.lock().unwrap();
    let tokens: Vec<Value> = store
        .accounts
        .tokens
        .iter()
        .map(|t| json!({"id": t.id, "name": t.name, "role": t.role, "created": t.created}))
        .collect();
    Ok(Json(json!({"ok": true, "tokens": tokens})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
    role: Role,
}

async fn add_token(
    State(web): State<Arc<Web>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(body): Json<NewToken>,
) -> Result<Json<Value>> {
    let p = authorize(&web, &headers, &Method::POST, Role::Admin)?;
    valid_user_name(&body.name)?;
    let (token, full) = {
        let mut store = web.store.lock().unwrap();
        let made = store.add_token(&body.name, body.role, &super::audit::now());
        store.save().map_err(internal)?;
        made
    };
    let what = format!("add token {} ({:?})", token.name, token.role).to_lowercase();
    web.audit
        .record(&p.who, &from.ip().to_string(), &what, "done");
    // The only time the secret is shown.
    Ok(Json(
        json!({"ok": true, "id": token.id, "name": token.name, "role": token.role, "token": full}),
    ))
}

async fn remove_token(
    State(web): State<Arc<Web>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let p = authorize(&web, &headers, &Method::DELETE, Role::Admin)?;
    {
        let mut store = web.store.lock().unwrap();
        let before = store.accounts.tokens.len();
        store.accounts.tokens.retain(|t| t.id != id);
        if store.accounts.tokens.len() == before {
            return Err(WebError::new(
                StatusCode::NOT_FOUND,
                "not-found",
                "no such token",
            ));
        }
        store.save().map_err(internal)?;
    }
    web.audit.record(
        &p.who,
        &from.ip().to_string(),
        &format!("revoke token {id}"),
        "done",
    );
    Ok(Json(json!({"ok": true})))
}

#[derive(Deserialize)]
struct AuditQuery {
    #[serde(default)]
    limit: Option<usize>,
}

async fn audit(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Value>> {
    authorize(&web, &headers, &Method::GET, Role::Admin)?;
    let entries = web.audit.recent(query.limit.unwrap_or(200).min(5000));
    Ok(Json(json!({"ok": true, "entries": entries})))
}

async fn prometheus(State(web): State<Arc<Web>>, headers: HeaderMap) -> Result<Response> {
    authorize(&web, &headers, &Method::GET, Role::Viewer)?;
    let status = web.daemon.status().await.map_err(unreachable)?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics::render(&status),
    )
        .into_response())
}
