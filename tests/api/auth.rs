//! Authentication failures are HTTP 401 with code UNAUTHENTICATED, for the
//! whole request, whatever is wrong with the token.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use entity::enums::Role;
use handoff::auth::jwt::{JwtAlgorithm, JwtSettings};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use test_macros::db_test;

use crate::common::{Backend, TEST_SECRET, TestApp};

const QUERY: &str = "{ viewer { role } }";

async fn assert_401(app: &TestApp, token: Option<&str>, why: &str) {
    let (status, body) = app.post_with_token(token, QUERY, json!({})).await;
    assert_eq!(status, 401, "{why}: {body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{why}"
    );
    assert!(
        body.get("data").is_none_or(Value::is_null),
        "{why}: data leaked"
    );
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn claims(app: &TestApp, role: Role) -> Value {
    json!({
        "sub": app.user_id(role).to_string(),
        "role": role.as_str(),
        "iss": "handoff",
        "aud": "handoff-api",
        "iat": now(),
        "exp": now() + 600,
    })
}

fn sign(claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

#[db_test]
async fn a_valid_token_is_accepted(app: TestApp) {
    let token = sign(&claims(&app, Role::Marketing), TEST_SECRET);
    let (status, body) = app.post_with_token(Some(&token), QUERY, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["viewer"]["role"], "MARKETING");
}

#[db_test]
async fn a_missing_token_is_401_with_a_bearer_challenge(app: TestApp) {
    let resp = app
        .client
        .post(format!("{}/graphql", app.base))
        .json(&json!({ "query": QUERY }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert_401(&app, None, "no token").await;
}

#[db_test]
async fn malformed_and_forged_tokens_are_401(app: TestApp) {
    assert_401(&app, Some("not-a-jwt"), "malformed").await;
    assert_401(&app, Some("a.b.c"), "garbage segments").await;
    let forged = sign(
        &claims(&app, Role::Admin),
        b"another-secret-that-is-also-32-bytes-long!",
    );
    assert_401(&app, Some(&forged), "bad signature").await;
}

#[db_test]
async fn an_unsigned_alg_none_token_is_401(app: TestApp) {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims(&app, Role::Admin).to_string());
    assert_401(&app, Some(&format!("{header}.{payload}.")), "alg none").await;
}

#[db_test]
async fn expired_tokens_and_wrong_audience_or_issuer_are_401(app: TestApp) {
    let mut expired = claims(&app, Role::Admin);
    expired["exp"] = json!(now() - 3600);
    assert_401(&app, Some(&sign(&expired, TEST_SECRET)), "expired").await;

    let mut aud = claims(&app, Role::Admin);
    aud["aud"] = json!("someone-else");
    assert_401(&app, Some(&sign(&aud, TEST_SECRET)), "wrong aud").await;

    let mut iss = claims(&app, Role::Admin);
    iss["iss"] = json!("evil");
    assert_401(&app, Some(&sign(&iss, TEST_SECRET)), "wrong iss").await;

    for missing in ["exp", "iss", "aud", "sub"] {
        let mut c = claims(&app, Role::Admin);
        c.as_object_mut().unwrap().remove(missing);
        assert_401(&app, Some(&sign(&c, TEST_SECRET)), &format!("no {missing}")).await;
    }

    // CVE-2026-25537: an `exp` sent as a string must not skip the check.
    let mut string_exp = claims(&app, Role::Admin);
    string_exp["exp"] = json!("1");
    assert_401(&app, Some(&sign(&string_exp, TEST_SECRET)), "string exp").await;
}

#[db_test]
async fn a_token_that_lives_longer_than_the_cap_is_401_and_one_within_it_is_accepted(app: TestApp) {
    // The default cap is 24 h of `exp - iat`.
    let mut within = claims(&app, Role::Sales);
    within["exp"] = json!(now() + 24 * 3600);
    let (status, body) = app
        .post_with_token(Some(&sign(&within, TEST_SECRET)), QUERY, json!({}))
        .await;
    assert_eq!(status, 200, "{body}");

    let mut long = claims(&app, Role::Sales);
    long["exp"] = json!(now() + 24 * 3600 + 60);
    assert_401(
        &app,
        Some(&sign(&long, TEST_SECRET)),
        "a 24 h 1 min lifetime",
    )
    .await;
    let (_, body) = app
        .post_with_token(Some(&sign(&long, TEST_SECRET)), QUERY, json!({}))
        .await;
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("over the 24 h maximum"), "{body}");
}

#[db_test]
async fn iat_is_required_and_may_not_lie_in_the_future(app: TestApp) {
    let mut no_iat = claims(&app, Role::Admin);
    no_iat.as_object_mut().unwrap().remove("iat");
    assert_401(&app, Some(&sign(&no_iat, TEST_SECRET)), "no iat").await;

    let mut future = claims(&app, Role::Admin);
    future["iat"] = json!(now() + 300);
    assert_401(&app, Some(&sign(&future, TEST_SECRET)), "iat 5 min ahead").await;
}

#[db_test]
async fn an_audience_array_with_ours_is_accepted_and_a_crit_header_is_401(app: TestApp) {
    let mut many = claims(&app, Role::Leadership);
    many["aud"] = json!(["hubspot-sync", "handoff-api"]);
    let (status, body) = app
        .post_with_token(Some(&sign(&many, TEST_SECRET)), QUERY, json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["viewer"]["role"], "LEADERSHIP");

    let mut header = Header::new(Algorithm::HS256);
    header.crit = Some(vec!["exp".into()]);
    let crit = jsonwebtoken::encode(
        &header,
        &claims(&app, Role::Admin),
        &EncodingKey::from_secret(TEST_SECRET),
    )
    .unwrap();
    assert_401(&app, Some(&crit), "crit header").await;
}

#[db_test]
async fn a_token_for_an_unknown_user_or_another_role_is_401(app: TestApp) {
    let mut unknown = claims(&app, Role::Admin);
    unknown["sub"] = json!(uuid::Uuid::now_v7().to_string());
    assert_401(&app, Some(&sign(&unknown, TEST_SECRET)), "unknown sub").await;

    // The sales user cannot promote themself by editing the role claim.
    let mut promoted = claims(&app, Role::Sales);
    promoted["role"] = json!("ADMIN");
    assert_401(&app, Some(&sign(&promoted, TEST_SECRET)), "role mismatch").await;
}

#[db_test]
async fn a_deactivated_user_is_locked_out_at_once(app: TestApp) {
    let token = app.token(Role::Marketing);
    let id = app.user_gid(Role::Marketing);
    let data = app
        .gql(
            Role::Admin,
            "mutation($i: UpdateUserInput!) { updateUser(input: $i) { user { active } userErrors { message } } }",
            json!({ "i": { "id": id, "active": false } }),
        )
        .await;
    assert_eq!(data["updateUser"]["user"]["active"], false, "{data}");
    assert_401(&app, Some(&token), "deactivated").await;
}

fn openssl(args: &[&str]) {
    let status = std::process::Command::new("openssl")
        .args(args)
        .status()
        .expect("openssl is installed");
    assert!(status.success(), "openssl {args:?}");
}

#[tokio::test]
async fn rs256_tokens_work_and_hs256_tokens_signed_with_the_public_key_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("private.pem");
    let public = dir.path().join("public.pem");
    let (private_s, public_s) = (private.to_str().unwrap(), public.to_str().unwrap());
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        private_s,
    ]);
    openssl(&["pkey", "-in", private_s, "-pubout", "-out", public_s]);
    let public_pem = std::fs::read(&public).unwrap();
    let private_pem = std::fs::read(&private).unwrap();

    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.jwt = JwtSettings::asymmetric(
            JwtAlgorithm::Rs256,
            &public_pem,
            Some(&private_pem),
            "handoff".into(),
            "handoff-api".into(),
            30,
        )
        .unwrap();
    })
    .await;

    let (status, body) = app.post(Role::Leadership, QUERY, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["viewer"]["role"], "LEADERSHIP");

    // The classic confusion attack: HS256 with the public key as the secret.
    let confused = sign(&claims(&app, Role::Admin), &public_pem);
    assert_401(
        &app,
        Some(&confused),
        "HS256 signed with the RSA public key",
    )
    .await;
    // And a token from an HS256 deployment is refused by an RS256 one.
    assert_401(
        &app,
        Some(&sign(&claims(&app, Role::Admin), TEST_SECRET)),
        "HS256 token",
    )
    .await;
}

#[test]
fn a_short_hs256_secret_stops_start_up() {
    assert!(JwtSettings::hs256(b"too-short", "i".into(), "a".into(), 30).is_err());
}
