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

/// An error answer: the HTTP status, a stable code and a message, as the control socket's
/// (plus where the error is, for an invalid configuration).
#[derive(Debug)]
pub struct WebError {
    status: StatusCode,
    code: String,
    message: String,
    location: Option<Value>,
}

impl WebError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> WebError {
        WebError {
            status,
            code: code.into(),
            message: message.into(),
            location: None,
        }
    }
    fn unauthorized() -> WebError {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "sign in first")
    }
    fn bad(message: impl Into<String>) -> WebError {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", message)
    }
    /// The daemon's error answer, with the HTTP status its code calls for.
    fn from_daemon(code: &str, message: String, location: Option<Value>) -> WebError {
        WebError {
            status: http_status(code),
            code: code.into(),
            message,
            location,
        }
    }
}

/// The HTTP status of each of the model's error codes.
fn http_status(code: &str) -> StatusCode {
    match code {
        "bad-request" | "request-too-long" | "not-a-meeting" | "invalid-config"
        | "unknown-path" | "weak-password" => StatusCode::BAD_REQUEST,
        "unauthorized" | "wrong-password" => StatusCode::UNAUTHORIZED,
        "unmute-in-room-only"
        | "camera-on-in-room-only"
        | "local-only"
        | "forbidden"
        | "csrf"
        | "wrong-code" => StatusCode::FORBIDDEN,
        "not-found" => StatusCode::NOT_FOUND,
        "in-another-meeting"
        | "still-leaving"
        | "not-in-a-meeting"
        | "in-a-call"
        | "snapshots-not-in-calls"
        | "no-config-file"
        | "no-previous-config"
        | "exists"
        | "already-claimed"
        | "last-admin" => StatusCode::CONFLICT,
        "locked-out" => StatusCode::TOO_MANY_REQUESTS,
        "not-yet" => StatusCode::NOT_IMPLEMENTED,
        "shutting-down" | "unavailable" | "daemon-unreachable" => StatusCode::SERVICE_UNAVAILABLE,
        "config-write-failed" | "internal" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_GATEWAY,
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let mut body = json!({"ok": false, "error": self.message, "code": self.code});
        if let Some(location) = self.location {
            body["location"] = location;
        }
        let mut response = (self.status, Json(body)).into_response();
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
        let code = serde_json::to_value(error.code())
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_else(|| "other".into());
        let location = error
            .location()
            .map(|l| serde_json::to_value(l).expect("locations serialise"));
        WebError::from_daemon(&code, error.to_string(), location)
    }
}

type Result<T> = std::result::Result<T, WebError>;

pub fn router(web: Arc<Web>) -> Router {
    // Everything but these needs credentials, checked before anything else of the request
    // is read (`authenticated`); each handler then checks the role it needs.
    let public = Router::new()
        .route("/", get(console::index))
        .route("/console.js", get(console::script))
        .route("/console.css", get(console::style))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/setup", get(setup_state).post(claim))
        .route("/api/v1/session", post(sign_in));
    let viewer = Router::new()
        .route("/api/v1/session", get(session).delete(sign_out))
        .route("/api/v1/status", get(status))
        .route("/api/v1/events", get(events))
        .route("/metrics", get(prometheus));
    let operator = Router::new()
        .route("/api/v1/commands/join", post(join))
        .route("/api/v1/commands/leave", post(leave))
        .route("/api/v1/commands/mute", post(mute))
        .route("/api/v1/commands/camera", post(camera))
        .route("/api/v1/commands/identify", post(identify))
        .route("/api/v1/commands/test-tone", post(test_tone));
    let admin = Router::new()
        .route("/api/v1/commands/restart", post(restart))
        .route("/api/v1/commands/reboot", post(reboot))
        .route("/api/v1/commands/snapshot", post(snapshot))
        .route("/api/v1/config", get(config_get).put(config_put))
        .route("/api/v1/config/check", post(config_check))
        .route("/api/v1/config/rollback", post(config_rollback))
        .route("/api/v1/logs", get(logs))
        .route("/api/v1/diagnostics", get(diagnostics))
        .route("/api/v1/users", get(users).post(add_user))
        .route("/api/v1/users/{name}", delete(remove_user))
        .route("/api/v1/tokens", get(tokens).post(add_token))
        .route("/api/v1/tokens/{id}", delete(remove_token))
        .route("/api/v1/audit", get(audit));
    let guard = |router: Router<Arc<Web>>, role: Role| {
        router.route_layer(axum::middleware::from_fn_with_state(
            (web.clone(), role),
            authenticated,
        ))
    };
    Router::new()
        .merge(guard(viewer, Role::Viewer))
        .merge(guard(operator, Role::Operator))
        .merge(guard(admin, Role::Admin))
        .merge(public)
        .fallback(|| async { WebError::new(StatusCode::NOT_FOUND, "not-found", "no such page") })
        .layer(axum::middleware::map_response(security_headers))
        .with_state(web)
}

/// Refuses a request without valid credentials (or a session's change without its CSRF
/// token) before its body is even read.
async fn authenticated(
    State((web, role)): State<(Arc<Web>, Role)>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match authorize(&web, request.headers(), request.method(), role) {
        Ok(_) => next.run(request).await,
        Err(e) => e.into_response(),
    }
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
    // The room's screen stops showing the code.
    web.daemon
        .setup(None, web.fingerprint.clone(), web.url.clone())
        .await;
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
    if let Some(map) = status.as_object_mut() {
        map.remove("setup");
    }
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

/// Sends a request to the daemon (as a remote one) and answers with its answer, secrets
/// hidden, recording it in the audit log.
async fn forward(
    web: &Web,
    who: &Principal,
    from: SocketAddr,
    what: String,
    request: Request,
) -> Result<Json<Value>> {
    let outcome = match web.daemon.request(request).await {
        Err(e) => Err(unreachable(e)),
        Ok(Answer::Error {
            error,
            code,
            location,
            ..
        }) => {
            let code = code
                .and_then(|c| serde_json::to_value(c).ok())
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_else(|| "other".into());
            let location = location.map(|l| serde_json::to_value(l).expect("serialises"));
            Err(WebError::from_daemon(&code, error, location))
        }
        Ok(answer) => Ok(public_answer(answer)),
    };
    let done = match &outcome {
        Ok(_) => "done".to_string(),
        Err(e) => e.code.clone(),
    };
    web.audit
        .record(&who.who, &from.ip().to_string(), &what, &done);
    outcome.map(Json)
}

/// A daemon's answer as the web gives it: secrets hidden, and never the setup code (it is
/// the device's alone, shown on its screen).
fn public_answer(answer: Answer) -> Value {
    let mut value = serde_json::to_value(answer).expect("answers serialise");
    if let Some(status) = value.get_mut("status") {
        *status = public_status(status);
    }
    redact::json(&mut value);
    value
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
        .record(&who.who, &from.ip().to_string(), what, &e.code);
    e
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
    forward(&web, &p, from, what, Request::Join { url }).await
}

async fn leave(
    State(web): State<Arc<Web>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<Value>> {
    let p = authorize(&web, &headers, &Method::POST, Role::Operator)?;
    forward(&web, &p, from, "leave".into(), Request::Leave).await
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
    forward(&web, &p, from, "mute".into(), Request::Mute { muted: true }).await
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
    forward(
        &web,
        &p,
        from,
        "camera off".into(),
        Request::Camera { off: true },
    )
    .await
}

/// The configuration file's text, secrets hidden (the daemon's `config-get`; read here when
/// the daemon cannot answer it yet).
async fn config_get(
    State(web): State<Arc<Web>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<Value>> {
    let p = authorize(&web, &headers, &Method::GET, Role::Admin)?;
    match web.daemon.request(Request::ConfigGet).await {
        Ok(Answer::Error {
            code: Some(crate::api::ErrorCode::NotYet),
            ..
        }) => {}
        Ok(Answer::Error { .. }) | Err(_) => {
            return forward(&web, &p, from, "read settings".into(), Request::ConfigGet).await
        }
        Ok(answer) => return Ok(Json(public_answer(answer))),
    }
    let text = match &web.config_path {
        Some(path) => std::fs::read_to_string(path).unwrap_or_default(),
        None => String::new(),
    };
    Ok(Json(json!({"ok": true, "config": {
        "file": web.config_path.as_ref().map(|p| p.display().to_string()),
        "text": redact::toml_text(&text),
        "has_previous": false,
        "restart_pending": [],
    }})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigBody {
    text: String,
}

/// The same located errors as `salle config check`, checked here.
fn validate(web: &Web, text: &str) -> Result<()> {
    let file = web
        .config_path
        .clone()
        .unwrap_or_else(|| crate::config::DEFAULT_PATH.into());
    crate::config::parse(text, &file).map(|_| ()).map_err(|e| {
        let location = json!({"line": e.line, "column": e.column, "field": e.field});
        WebError::from_daemon("invalid-config", e.to_string(), Some(location))
    })
}

/// Checks a configuration and lists what would change (the daemon's `config-check`; only
/// the check, here, while the daemon cannot answer it yet).
async fn config_check(
    State(web): State<Arc<Web>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(body): Json<ConfigBody>,
) -> Result<Json<Value>> {
    let p = authorize(&web, &headers, &Method::POST, Role::Admin)?;
    validate(&web, &body.text)?;
    let request = Request::ConfigCheck { text: body.text };
    match forward(&web, &p, from, "check settings".into(), request).await {
        Err(e) if e.code == "not-yet" => Ok(Json(
            json!({"ok": true, "report": {"changes": [], "written": false, "restart": null}}),
        )),
        other => other,
    }
}

/// Applies a configuration (the daemon writes it atomically, applies it, rolls back by itself
/// if it breaks what worked).
async fn config_put(
    State(web): State<Arc<Web>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(body): Json<ConfigBody>,
) -> Result<Json<Value>> {
    let p = authorize(&web, &headers, &Method::PUT, Role::Admin)?;
    if let Err(e) = validate(&web, &body.text) {
        web.audit
            .record(&p.who, &from.ip().to_string(), "apply settings", &e.code);
        return Err(e);
    }
    let request = Request::ConfigApply { text: body.text };
    forward(&web, &p, from, "apply settings".into(), request).await
}

async fn config_rollback(
    State(web): State<Arc<Web>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<Value>> {
    let p = authorize(&web, &headers, &Method::POST, Role::Admin)?;
    forward(
        &web,
        &p,
        from,
        "roll settings back".into(),
        Request::ConfigRollback,
    )
    .await
}

/// The commands that take no argument beyond the role they need.
async fn simple_command(
    web: Arc<Web>,
    from: SocketAddr,
    headers: HeaderMap,
    need: Role,
    what: &str,
    request: Request,
) -> Result<Json<Value>> {
    let p = authorize(&web, &headers, &Method::POST, need)?;
    forward(&web, &p, from, what.into(), request).await
}

async fn identify(
    State(web): State<Arc<Web>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<Value>> {
    simple_command(
        web,
        from,
        headers,
        Role::Operator,
        "identify",
        Request::Identify,
    )
    .await
}

async fn test_tone(
    State(web): State<Arc<Web>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<Value>> {
    simple_command(
        web,
        from,
        headers,
        Role::Operator,
        "test tone",
        Request::TestTone,
    )
    .await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ForceBody {
    #[serde(default)]
    force: bool,
}

async fn restart(
    State(web): State<Arc<Web>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Option<Json<ForceBody>>,
) -> Result<Json<Value>> {
    let force = body.is_some_and(|Json(b)| b.force);
    let what = if force { "restart (forced)" } else { "restart" };
    simple_command(
        web,
        from,
        headers,
        Role::Admin,
        what,
        Request::Restart { force },
    )
    .await
}

async fn reboot(
    State(web): State<Arc<Web>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Option<Json<ForceBody>>,
) -> Result<Json<Value>> {
    let force = body.is_some_and(|Json(b)| b.force);
    let what = if force { "reboot (forced)" } else { "reboot" };
    simple_command(
        web,
        from,
        headers,
        Role::Admin,
        what,
        Request::Reboot { force },
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotBody {
    source: crate::api::SnapshotSource,
}

/// A picture of the camera or the screen: never silent (the room's screen says so).
async fn snapshot(
    State(web): State<Arc<Web>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(body): Json<SnapshotBody>,
) -> Result<Json<Value>> {
    let what = format!("snapshot of the {:?}", body.source).to_lowercase();
    let request = Request::Snapshot {
        source: body.source,
    };
    simple_command(web, from, headers, Role::Admin, &what, request).await
}

#[derive(Deserialize)]
struct LogsQuery {
    #[serde(default)]
    lines: Option<usize>,
}

async fn logs(
    State(web): State<Arc<Web>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<LogsQuery>,
) -> Result<Json<Value>> {
    let p = authorize(&web, &headers, &Method::GET, Role::Admin)?;
    let request = Request::Logs {
        lines: query.lines.map(|n| n.min(5000)),
    };
    forward(&web, &p, from, "read logs".into(), request).await
}

async fn diagnostics(
    State(web): State<Arc<Web>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response> {
    let p = authorize(&web, &headers, &Method::GET, Role::Admin)?;
    let Json(bundle) = forward(
        &web,
        &p,
        from,
        "diagnostics bundle".into(),
        Request::Diagnostics,
    )
    .await?;
    Ok((
        [(
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"salle-diagnostics.json\"",
        )],
        Json(bundle),
    )
        .into_response())
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
    // The daemon's own figures when it gives them; else made here from its status.
    let text = match web.daemon.metrics().await {
        Some(text) => text,
        None => metrics::render(&*web.daemon.status().await.map_err(unreachable)?),
    };
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}
