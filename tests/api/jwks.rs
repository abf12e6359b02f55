//! Tokens from an identity provider, side by side with Handoff's own: keys
//! from a JWKS served by the test itself (which counts its fetches),
//! claims mapped to a Handoff user and role, key rotation while requests
//! run, a JWKS that cannot be fetched, and every path that authenticates
//! (`POST` and `GET /graphql`, `/reports/kpis.csv`, the WebSocket's
//! `connection_init` and its rechecks). The server runs on a manual clock,
//! so the 5 s between fetches and the 10 min a set stays fresh pass when
//! the test says so.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use entity::enums::Role;
use futures_util::{SinkExt, StreamExt, future::join_all};
use handoff::auth::{
    idp::{IdpSettings, RoleMap},
    jwks::{DEFAULT_MAX_AGE, MIN_FETCH_INTERVAL},
    jwt::{JwtAlgorithm, JwtSettings},
};
use jsonwebtoken::{Algorithm, EncodingKey, Header, jwk::Jwk};
use serde_json::{Value, json};
use tokio_tungstenite::{
    connect_async,
    tungstenite::{Message, client::IntoClientRequest},
};

use crate::common::{Backend, TEST_SECRET, TestApp, backends, eventually, manual_clock, on};

const ISSUER: &str = "https://idp.example.test/oauth2/default";
const AUDIENCE: &str = "api://handoff";
const ROLE_MAP: &str = "okta-admins=ADMIN,sales-team=SALES,sales-emea=SALES,reporting=REPORTING";
const QUERY: &str = "{ viewer { role } }";
const UNKNOWN_KID: &str = "its key id (`kid`) is not in the identity provider's current key set";

/// A key pair of the test's identity provider (tests/fixtures/keys).
struct TestKey {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    /// The public key as the JWKS publishes it.
    jwk: Value,
}

fn key(kid: &str, file: &str, alg: Algorithm) -> TestKey {
    let pem = std::fs::read(format!(
        "{}/tests/fixtures/keys/{file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let encoding = match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(&pem),
        _ => EncodingKey::from_rsa_pem(&pem),
    }
    .unwrap();
    let mut jwk = Jwk::from_encoding_key(&encoding, alg).unwrap();
    jwk.common.key_id = Some(kid.to_owned());
    TestKey {
        kid: kid.to_owned(),
        alg,
        encoding,
        jwk: serde_json::to_value(&jwk).unwrap(),
    }
}

fn rsa_a() -> TestKey {
    key("rsa-a", "rsa-a.pem", Algorithm::RS256)
}

fn rsa_b() -> TestKey {
    key("rsa-b", "rsa-b.pem", Algorithm::RS256)
}

fn ec_a() -> TestKey {
    key("ec-a", "ec-a.pem", Algorithm::ES256)
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// An Okta-style access token's claims for a user (`<role>@example.com`
/// for the seeded users) in these groups.
fn claims(email: &str, groups: &[&str]) -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "00u1a2b3c4d5e6f7g8h9",
        "email": email,
        "groups": groups,
        "iat": now(),
        "exp": now() + 600,
    })
}

fn admin() -> Value {
    claims("admin@example.com", &["everyone", "okta-admins"])
}

/// Signs `claims` with `key`, its `kid` in the header.
fn sign(key: &TestKey, claims: &Value) -> String {
    sign_as(key, &key.kid, claims)
}

fn sign_as(key: &TestKey, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(key.alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
}

/// What the key server answers.
#[derive(Clone)]
enum Answer {
    /// `{"keys": [...]}`.
    Keys(Vec<Value>),
    /// An error status.
    Status(u16),
    /// Any body, with 200.
    Body(String),
}

/// The identity provider's JWKS endpoint: serves what the test says and
/// counts the requests.
#[derive(Clone)]
struct KeyServer {
    url: String,
    answer: Arc<Mutex<Answer>>,
    fetches: Arc<AtomicUsize>,
    _stop: Arc<tokio::sync::oneshot::Sender<()>>,
}

impl KeyServer {
    async fn start(answer: Answer) -> Self {
        async fn serve(State(server): State<KeyServer>) -> axum::response::Response {
            server.fetches.fetch_add(1, Ordering::SeqCst);
            let answer = server.answer.lock().unwrap().clone();
            match answer {
                Answer::Keys(keys) => axum::Json(json!({ "keys": keys })).into_response(),
                Answer::Status(code) => {
                    (StatusCode::from_u16(code).unwrap(), "unavailable").into_response()
                }
                Answer::Body(body) => body.into_response(),
            }
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = Self {
            url: format!("http://{}/jwks.json", listener.local_addr().unwrap()),
            answer: Arc::new(Mutex::new(answer)),
            fetches: Arc::new(AtomicUsize::new(0)),
            _stop: Arc::new(stop),
        };
        let router = Router::new()
            .route("/jwks.json", get(serve))
            .with_state(server.clone());
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    stopped.await.ok();
                })
                .await
        });
        server
    }

    fn answer(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// The identity provider of these tests, its keys at `jwks_url`.
fn idp(jwks_url: &str) -> IdpSettings {
    IdpSettings {
        jwks_url: jwks_url.to_owned(),
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        user_claim: "email".into(),
        roles: Some(RoleMap::parse("groups", ROLE_MAP).unwrap()),
    }
}

/// Runs `body` once per backend with a fresh key server answering
/// `answer` and a server on a manual clock that accepts the tokens of the
/// identity provider [`idp`] (changed by `adjust`).
async fn each_backend_with_idp(
    answer: Answer,
    adjust: impl Fn(&mut IdpSettings),
    body: impl AsyncFn(TestApp, KeyServer),
) {
    for backend in backends() {
        on(&backend, async {
            let keys = KeyServer::start(answer.clone()).await;
            let mut settings = idp(&keys.url);
            adjust(&mut settings);
            let app = TestApp::spawn_with(backend.clone(), |c| {
                manual_clock(c);
                c.idp = Some(settings);
            })
            .await;
            body(app, keys).await;
        })
        .await;
    }
}

fn no_change(_: &mut IdpSettings) {}

/// Asserts the token is accepted as `role`.
async fn assert_role(app: &TestApp, token: &str, role: &str) {
    let (status, body) = app.post_with_token(Some(token), QUERY, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["viewer"]["role"], role, "{body}");
}

/// Asserts the token is refused with 401 UNAUTHENTICATED and a message
/// that says `why`.
async fn assert_401(app: &TestApp, token: &str, why: &str) {
    let (status, body) = app.post_with_token(Some(token), QUERY, json!({})).await;
    assert_eq!(status, 401, "{why}: {body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains(why), "expected {why:?} in {message:?}");
}

/// Opens `/graphql/ws` and sends `connection_init` with `token`.
async fn ws_init(
    app: &TestApp,
    token: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let url = format!("{}/graphql/ws", app.base.replacen("http", "ws", 1));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = connect_async(request).await.unwrap();
    socket
        .send(Message::Text(
            json!({ "type": "connection_init", "payload": { "token": token } })
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
    socket
}

/// The next frame: a text message's `type`, or a close frame's code.
async fn ws_next(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Result<String, u16> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a frame in time")
            .expect("the socket open")
            .expect("a frame");
        match frame {
            Message::Text(text) => {
                let message: Value = serde_json::from_str(text.as_str()).unwrap();
                return Ok(message["type"].as_str().unwrap_or_default().to_owned());
            }
            Message::Close(Some(close)) => return Err(u16::from(close.code)),
            _ => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_tokens_work_on_every_path_beside_handoffs_own() {
    let keys = vec![rsa_a().jwk, ec_a().jwk];
    each_backend_with_idp(Answer::Keys(keys), no_change, async |app, server| {
        let rs256 = sign(&rsa_a(), &admin());
        let es256 = sign(&ec_a(), &claims("sales@example.com", &["sales-team"]));

        // POST /graphql, RS256 and ES256.
        assert_role(&app, &rs256, "ADMIN").await;
        assert_role(&app, &es256, "SALES").await;
        // Handoff's own tokens, at the same time.
        assert_role(&app, &app.token(Role::Marketing), "MARKETING").await;

        // GET /graphql.
        let get = |token: &str| {
            app.client
                .get(format!("{}/graphql", app.base))
                .query(&[("query", QUERY)])
                .bearer_auth(token)
                .send()
        };
        let response = get(&rs256).await.unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["data"]["viewer"]["role"], "ADMIN", "{body}");
        assert_eq!(get("not-a-jwt").await.unwrap().status(), 401);

        // The CSV report.
        let csv = |token: &str| {
            app.client
                .get(format!(
                    "{}/reports/kpis.csv?kpis=LEADS_CREATED&from=2026-01-01&to=2026-03-31",
                    app.base
                ))
                .bearer_auth(token)
                .send()
        };
        let response = csv(&rs256).await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.text().await.unwrap().starts_with("kpi,unit"));
        let stranger = sign(&rsa_a(), &claims("nobody@example.com", &["okta-admins"]));
        assert_eq!(csv(&stranger).await.unwrap().status(), 401);

        // The WebSocket's connection_init.
        let mut socket = ws_init(&app, &es256).await;
        assert_eq!(ws_next(&mut socket).await, Ok("connection_ack".into()));
        let mut socket = ws_init(&app, &stranger).await;
        assert_eq!(ws_next(&mut socket).await, Err(4403));

        // One fetch served all of it.
        assert_eq!(server.fetches(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_that_name_no_active_user_or_not_exactly_one_matching_role_are_401_with_a_reason() {
    each_backend_with_idp(
        Answer::Keys(vec![rsa_a().jwk]),
        no_change,
        async |app, _| {
            let key = rsa_a();
            let token = |email: &str, groups: &[&str]| sign(&key, &claims(email, groups));
            // The address is compared in lower case.
            assert_role(&app, &token("Sales@Example.com", &["sales-emea"]), "SALES").await;
            assert_401(
                &app,
                &token("nobody@example.com", &["okta-admins"]),
                "the token's `email` claim names no active Handoff user",
            )
            .await;
            assert_401(
                &app,
                &token("admin@example.com", &["everyone"]),
                "holds no group that HANDOFF_JWT_ROLE_MAP gives a Handoff role",
            )
            .await;
            assert_401(
                &app,
                &token("admin@example.com", &["okta-admins", "sales-team"]),
                "maps to several Handoff roles (ADMIN, SALES)",
            )
            .await;
            // The provider's groups must agree with the user's role in
            // Handoff, as a Handoff token's role claim must.
            assert_401(
                &app,
                &token("sales@example.com", &["okta-admins"]),
                "maps to role ADMIN, which is not the user's role in Handoff",
            )
            .await;
            let mut unverified = claims("admin@example.com", &["okta-admins"]);
            unverified["email_verified"] = json!(false);
            assert_401(&app, &sign(&key, &unverified), "not verified").await;
            let mut no_email = admin();
            no_email.as_object_mut().unwrap().remove("email");
            assert_401(&app, &sign(&key, &no_email), "no `email` claim").await;

            // A deactivated user is locked out at once.
            let id = app.user_gid(Role::Reporting);
            app.gql(
                Role::Admin,
                "mutation($i: UpdateUserInput!) { updateUser(input: $i) { user { active } } }",
                json!({ "i": { "id": id, "active": false } }),
            )
            .await;
            assert_401(
                &app,
                &token("reporting@example.com", &["reporting"]),
                "names no active Handoff user",
            )
            .await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_role_map_the_subject_names_the_user_by_id_and_the_users_role_applies() {
    let by_sub = |idp: &mut IdpSettings| {
        idp.user_claim = "sub".into();
        idp.roles = None;
    };
    each_backend_with_idp(Answer::Keys(vec![rsa_a().jwk]), by_sub, async |app, _| {
        let mut c = claims("ignored@example.com", &[]);
        c["sub"] = json!(app.user_id(Role::Leadership).to_string());
        assert_role(&app, &sign(&rsa_a(), &c), "LEADERSHIP").await;
        c["sub"] = json!("00u1a2b3c4d5e6f7g8h9");
        assert_401(
            &app,
            &sign(&rsa_a(), &c),
            "neither a Handoff user id nor an email address",
        )
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_rs256_and_es256_with_the_key_the_kid_names_pass_and_no_token_passes_as_the_other_kind()
 {
    let hmac = json!({ "kty": "oct", "kid": "hmac", "k": URL_SAFE_NO_PAD.encode(TEST_SECRET) });
    let keys = vec![rsa_a().jwk, ec_a().jwk, hmac];
    each_backend_with_idp(Answer::Keys(keys), no_change, async |app, server| {
        let (rsa, ec) = (rsa_a(), ec_a());
        let hs256 = |kid: &str, secret: &[u8]| {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some(kid.to_owned());
            jsonwebtoken::encode(&header, &admin(), &EncodingKey::from_secret(secret)).unwrap()
        };
        // HS256 with the RSA key's published modulus, or with an `oct` key
        // the JWKS holds, or with Handoff's own secret: never for the
        // provider's tokens.
        let modulus = rsa.jwk["n"].as_str().unwrap().as_bytes().to_vec();
        for token in [
            hs256("rsa-a", &modulus),
            hs256("hmac", TEST_SECRET),
            hs256("rsa-a", TEST_SECRET),
        ] {
            assert_401(
                &app,
                &token,
                "must be signed with RS256 or ES256, not HS256",
            )
            .await;
        }
        // Unsigned.
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"rsa-a"}"#);
        let payload = URL_SAFE_NO_PAD.encode(admin().to_string());
        assert_401(&app, &format!("{header}.{payload}."), "malformed").await;
        // ES256 naming the RSA key; RS256 with another key under kid rsa-a.
        assert_401(
            &app,
            &sign_as(&ec, "rsa-a", &admin()),
            "signed with ES256, and the key its `kid` names is for RS256",
        )
        .await;
        assert_401(&app, &sign_as(&rsa_b(), "rsa-a", &admin()), "bad signature").await;
        // The claims are checked as strictly as Handoff's own.
        let mut aud = admin();
        aud["aud"] = json!("api://someone-else");
        assert_401(&app, &sign(&rsa, &aud), "wrong audience").await;
        let mut both = admin();
        both["aud"] = json!(["api://someone-else", AUDIENCE]);
        assert_role(&app, &sign(&rsa, &both), "ADMIN").await;
        let mut expired = admin();
        expired["exp"] = json!(now() - 600);
        expired["iat"] = json!(now() - 1200);
        assert_401(&app, &sign(&rsa, &expired), "expired").await;
        let mut no_iat = admin();
        no_iat.as_object_mut().unwrap().remove("iat");
        assert_401(&app, &sign(&rsa, &no_iat), "`iat` is missing").await;
        let mut long = admin();
        long["exp"] = json!(now() + 2 * 24 * 3600);
        assert_401(&app, &sign(&rsa, &long), "over the 24 h maximum").await;
        let mut crit = Header::new(Algorithm::RS256);
        crit.kid = Some("rsa-a".into());
        crit.crit = Some(vec!["exp".into()]);
        let crit = jsonwebtoken::encode(&crit, &admin(), &rsa.encoding).unwrap();
        assert_401(&app, &crit, "crit").await;

        // The provider's key cannot sign a Handoff token: Handoff's issuer
        // means Handoff's pinned HS256 secret.
        let own = json!({
            "sub": app.user_id(Role::Admin).to_string(), "role": "ADMIN",
            "iss": "handoff", "aud": "handoff-api", "iat": now(), "exp": now() + 600,
        });
        assert_401(&app, &sign(&rsa, &own), "wrong algorithm").await;
        // A third issuer is neither kind, and the message says so.
        let mut stranger = admin();
        stranger["iss"] = json!("https://idp.example.test/");
        assert_401(
            &app,
            &sign(&rsa, &stranger),
            "wrong issuer: neither Handoff's nor the identity provider's",
        )
        .await;

        // None of these fetched the keys again: their kids were known.
        assert_eq!(server.fetches(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_providers_keys_under_load_fails_only_tokens_of_the_retired_key() {
    each_backend_with_idp(
        Answer::Keys(vec![rsa_a().jwk]),
        no_change,
        async |app, server| {
            let (a, b) = (Arc::new(rsa_a()), Arc::new(rsa_b()));
            // The keys the provider's clients hold tokens of, and whether A
            // has been retired from the JWKS.
            let signers = Arc::new(Mutex::new((vec![a.clone()], false)));
            // (kid, sent after A was retired, status, message)
            type Outcome = (String, bool, u16, String);
            let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
            let stop = Arc::new(AtomicBool::new(false));
            let workers: Vec<_> = (0..2)
                .map(|_| {
                    let (client, url) = (app.client.clone(), format!("{}/graphql", app.base));
                    let (signers, outcomes, stop) =
                        (signers.clone(), outcomes.clone(), stop.clone());
                    tokio::spawn(async move {
                        while !stop.load(Ordering::SeqCst) {
                            let (keys, retired) = signers.lock().unwrap().clone();
                            for key in keys {
                                let response = client
                                    .post(&url)
                                    .bearer_auth(sign(&key, &admin()))
                                    .json(&json!({ "query": QUERY }))
                                    .send()
                                    .await
                                    .unwrap();
                                let status = response.status().as_u16();
                                let body: Value = response.json().await.unwrap_or_default();
                                let message = body["errors"][0]["message"]
                                    .as_str()
                                    .unwrap_or_default()
                                    .to_owned();
                                outcomes.lock().unwrap().push((
                                    key.kid.clone(),
                                    retired && key.kid == "rsa-a",
                                    status,
                                    message,
                                ));
                            }
                        }
                    })
                })
                .collect();
            let count = |what: &dyn Fn(&Outcome) -> bool| {
                outcomes.lock().unwrap().iter().filter(|o| what(o)).count()
            };
            let at_least = async |n: usize, what: &dyn Fn(&Outcome) -> bool| {
                let start = count(what);
                eventually("requests of the loop", async || {
                    (count(what) >= start + n).then_some(())
                })
                .await;
            };

            // A alone.
            at_least(10, &|o| o.0 == "rsa-a").await;
            // The provider publishes B beside A, then signs with B too.
            server.answer(Answer::Keys(vec![a.jwk.clone(), b.jwk.clone()]));
            app.clock().advance(MIN_FETCH_INTERVAL);
            signers.lock().unwrap().0.push(b.clone());
            at_least(10, &|o| o.0 == "rsa-b").await;
            // The provider retires A: tokens of A fail once the cached set
            // has expired and been fetched again.
            server.answer(Answer::Keys(vec![b.jwk.clone()]));
            signers.lock().unwrap().1 = true;
            app.clock().advance(DEFAULT_MAX_AGE);
            at_least(1, &|o| o.1 && o.2 == 401).await;
            at_least(10, &|o| o.0 == "rsa-b").await;
            stop.store(true, Ordering::SeqCst);
            for worker in workers {
                worker.await.unwrap();
            }

            let outcomes = outcomes.lock().unwrap().clone();
            for (kid, retired, status, message) in &outcomes {
                if *retired && *status == 401 {
                    assert!(message.contains(UNKNOWN_KID), "{message}");
                } else {
                    assert_eq!(*status, 200, "{kid} (retired: {retired}): {message}");
                }
            }
            // At start-up, for B's unknown kid, and when the set expired.
            assert_eq!(server.fetches(), 3);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_with_unknown_kids_make_at_most_one_fetch_per_five_seconds() {
    each_backend_with_idp(
        Answer::Keys(vec![rsa_a().jwk]),
        no_change,
        async |app, server| {
            let key = rsa_a();
            assert_role(&app, &sign(&key, &admin()), "ADMIN").await;
            assert_eq!(server.fetches(), 1);
            let burst = async || {
                let tokens: Vec<String> = (0..50)
                    .map(|_| sign_as(&key, &uuid::Uuid::new_v4().to_string(), &admin()))
                    .collect();
                join_all(tokens.iter().map(|t| assert_401(&app, t, UNKNOWN_KID))).await;
            };
            app.clock().advance(MIN_FETCH_INTERVAL);
            burst().await;
            assert_eq!(server.fetches(), 2, "50 unknown kids at once");
            burst().await;
            assert_eq!(server.fetches(), 2, "50 more within 5 s");
            app.clock().advance(MIN_FETCH_INTERVAL);
            burst().await;
            assert_eq!(server.fetches(), 3, "50 more 5 s later");
            // The keys at hand kept serving.
            assert_role(&app, &sign(&key, &admin()), "ADMIN").await;
            assert_eq!(server.fetches(), 3);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_that_cannot_be_fetched_is_a_401_that_says_why_and_the_server_serves_on() {
    each_backend_with_idp(Answer::Status(503), no_change, async |app, server| {
        let token = sign(&rsa_a(), &admin());
        // The server started without the keys, and says why it has none.
        assert_401(
            &app,
            &token,
            "the identity provider's keys (HANDOFF_JWT_JWKS_URL) are unavailable: \
             the JWKS answered HTTP 503; try again shortly",
        )
        .await;
        // Handoff's own tokens are not held up.
        assert_role(&app, &app.token(Role::Sales), "SALES").await;
        let too_large = format!(r#"{{"keys": [], "padding": "{}"}}"#, "x".repeat(300 * 1024));
        let hmac_only = json!({ "kty": "oct", "kid": "hmac", "k": "c2VjcmV0" });
        for (answer, why) in [
            (
                Answer::Body("<html>sign in</html>".into()),
                "the JWKS is not a JSON Web Key Set",
            ),
            (
                Answer::Keys(vec![]),
                "the JWKS holds no RS256 or ES256 signing key",
            ),
            (
                Answer::Keys(vec![hmac_only]),
                "the JWKS holds no RS256 or ES256 signing key",
            ),
            (Answer::Body(too_large), "the JWKS is larger than 256 KiB"),
        ] {
            let before = server.fetches();
            server.answer(answer);
            app.clock().advance(MIN_FETCH_INTERVAL);
            assert_401(&app, &token, why).await;
            assert_401(&app, &token, why).await;
            assert_eq!(server.fetches(), before + 1, "{why}");
        }
        // Recovered: within 5 s of the last fetch the last answer stands,
        // after them the keys are fetched again.
        server.answer(Answer::Keys(vec![rsa_a().jwk]));
        assert_401(&app, &token, "larger than 256 KiB").await;
        app.clock().advance(MIN_FETCH_INTERVAL);
        assert_role(&app, &token, "ADMIN").await;
        assert_eq!(server.fetches(), 6);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_provider_out_of_reach_does_not_stop_the_server() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", closed.local_addr().unwrap());
    drop(closed);
    for backend in backends() {
        on(&backend, async {
            let app = TestApp::spawn_with(backend.clone(), |c| {
                manual_clock(c);
                c.idp = Some(idp(&url));
            })
            .await;
            assert_401(
                &app,
                &sign(&rsa_a(), &admin()),
                "the JWKS could not be reached; try again shortly",
            )
            .await;
            assert_role(&app, &app.token(Role::Admin), "ADMIN").await;
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_opened_with_a_provider_token_closes_when_its_key_is_retired() {
    let keys = vec![rsa_a().jwk, rsa_b().jwk];
    each_backend_with_idp(Answer::Keys(keys), no_change, async |app, server| {
        let token = sign(&rsa_a(), &admin());
        let mut socket = ws_init(&app, &token).await;
        assert_eq!(ws_next(&mut socket).await, Ok("connection_ack".into()));
        server.answer(Answer::Keys(vec![rsa_b().jwk]));
        // The cached set expires; the next token fetches it again in the
        // background; once it has, A's tokens are refused.
        app.clock().advance(DEFAULT_MAX_AGE);
        eventually("A's tokens refused", async || {
            let (status, _) = app.post_with_token(Some(&token), QUERY, json!({})).await;
            (status == 401).then_some(())
        })
        .await;
        // The socket's next recheck refuses it too.
        app.clock().advance(app.config.ws_recheck_interval);
        assert_eq!(ws_next(&mut socket).await, Err(4403));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handoff_tokens_signed_with_the_previous_key_still_pass_and_new_ones_use_the_current_key() {
    const CURRENT: &[u8] = b"the-new-secret-that-is-at-least-32-bytes";
    for backend in backends() {
        on(&backend, async {
            let app = TestApp::spawn_with(backend.clone(), |c| {
                c.jwt = JwtSettings::hs256(CURRENT, "handoff".into(), "handoff-api".into(), 30)
                    .unwrap()
                    .with_previous_secret(TEST_SECRET)
                    .unwrap();
            })
            .await;
            let own = |role: Role, secret: &[u8]| {
                let claims = json!({
                    "sub": app.user_id(role).to_string(), "role": role.as_str(),
                    "iss": "handoff", "aud": "handoff-api", "iat": now(), "exp": now() + 600,
                });
                jsonwebtoken::encode(
                    &Header::new(Algorithm::HS256),
                    &claims,
                    &EncodingKey::from_secret(secret),
                )
                .unwrap()
            };
            assert_role(&app, &own(Role::Sales, TEST_SECRET), "SALES").await;
            assert_role(&app, &own(Role::Sales, CURRENT), "SALES").await;
            assert_401(
                &app,
                &own(Role::Sales, b"a-third-secret-that-is-also-32-bytes-long"),
                "bad signature",
            )
            .await;
            // Minted with the current secret only.
            let minted = app.token(Role::Marketing);
            let current_only =
                JwtSettings::hs256(CURRENT, "handoff".into(), "handoff-api".into(), 30).unwrap();
            assert!(current_only.decode(&minted).is_ok());
            let previous_only =
                JwtSettings::hs256(TEST_SECRET, "handoff".into(), "handoff-api".into(), 30)
                    .unwrap();
            assert!(previous_only.decode(&minted).is_err());
        })
        .await;
    }
}

#[tokio::test]
async fn handoff_rs256_tokens_of_the_previous_key_pair_still_pass() {
    let public = |file: &str| {
        let dir = format!("{}/tests/fixtures/keys", env!("CARGO_MANIFEST_DIR"));
        let out = std::process::Command::new("openssl")
            .args(["pkey", "-pubout", "-in", &format!("{dir}/{file}")])
            .output()
            .expect("openssl is installed");
        assert!(out.status.success());
        out.stdout
    };
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.jwt = JwtSettings::asymmetric(
            JwtAlgorithm::Rs256,
            &public("rsa-b.pem"),
            None,
            "handoff".into(),
            "handoff-api".into(),
            30,
        )
        .unwrap()
        .with_previous_public_key(&public("rsa-a.pem"))
        .unwrap();
    })
    .await;
    let own = |key: &TestKey| {
        let claims = json!({
            "sub": app.user_id(Role::Admin).to_string(), "role": "ADMIN",
            "iss": "handoff", "aud": "handoff-api", "iat": now(), "exp": now() + 600,
        });
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key.encoding).unwrap()
    };
    assert_role(&app, &own(&rsa_a()), "ADMIN").await;
    assert_role(&app, &own(&rsa_b()), "ADMIN").await;
    // A previous secret is for HS256 only, and the other way round.
    assert!(
        app.config
            .jwt
            .clone()
            .with_previous_secret(TEST_SECRET)
            .is_err()
    );
    let hs = JwtSettings::hs256(TEST_SECRET, "i".into(), "a".into(), 30).unwrap();
    assert!(hs.with_previous_public_key(&public("rsa-a.pem")).is_err());
}
