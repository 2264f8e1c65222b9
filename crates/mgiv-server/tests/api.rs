//! Storage, API, accounts and audit, on SQLite and (when MGIV_TEST_PG_URL is set) PostgreSQL.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_levels_versions_and_conflicts_on_every_backend() {
    for b in backends().await {
        let t = T::new(&b).await;
        t.user("ann", "clinician", "ward-a").await;
        let ann = t.login("ann").await;
        let pid = t.admit(&ann).await;

        // an order gives pump settings, predicted levels and alerts
        let (s, o, _) = t
            .req(
                "POST",
                &format!("/api/patients/{pid}/orders"),
                Some(json!({"regimen": ZUSPAN, "protocol": "zuspan", "bag": "40 g in 1000 mL"})),
                Some(&ann),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{}: {o}", b.name);
        let phases = o["pump_settings"].as_array().unwrap();
        assert_eq!(phases.len(), 2, "{}", b.name);
        // 4 g over 20 min from a 40 g/1000 mL bag: 100 mL in 1/3 h = 300 mL/h; 1 g/h = 25 mL/h
        assert!(
            (phases[0]["pump_ml_per_h"].as_f64().unwrap() - 300.0).abs() < 1e-6,
            "{}",
            phases[0]
        );
        assert!(
            (phases[1]["pump_ml_per_h"].as_f64().unwrap() - 25.0).abs() < 1e-6,
            "{}",
            phases[1]
        );
        assert!(o["predicted"].as_array().unwrap().len() > 10);
        assert!(o["alerts"].is_array());
        let order_id = o["record"]["id"].as_str().unwrap().to_string();
        let v_after_order = o["patient_version"].as_i64().unwrap();
        assert_eq!(v_after_order, 2);

        // a level in mg/dL is stored converted (1 mmol/L = 2.4305 mg/dL)
        let (s, l, _) = t
            .req(
                "POST",
                &format!("/api/patients/{pid}/levels"),
                Some(json!({"value": 4.8, "unit": "mg/dL", "time": 4.0})),
                Some(&ann),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{l}");
        let lid = l["record"]["id"].as_str().unwrap().to_string();
        assert!((l["record"]["body"]["mmol_l"].as_f64().unwrap() - 4.8 / 2.4305).abs() < 1e-9);

        // a correction is a new version pointing to the old one; the old row is unchanged
        let (s, c, _) = t.req("POST", &format!("/api/patients/{pid}/levels"), Some(json!({"value": 1.9, "unit": "mmol/L", "time": 4.0, "supersedes": lid, "expected_version": 3})), Some(&ann)).await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        assert_eq!(c["record"]["supersedes"], json!(lid));
        let (_, p, etag) = t
            .req("GET", &format!("/api/patients/{pid}"), None, Some(&ann))
            .await;
        assert_eq!(etag.get("etag").unwrap(), "\"4\"");
        let recs = p["records"].as_array().unwrap();
        let old = recs.iter().find(|r| r["id"] == json!(lid)).unwrap();
        assert_eq!(old["body"]["value"], json!(4.8));
        assert_eq!(old["superseded_by"], c["record"]["id"]);

        // a second clinician correcting the same (already replaced) level gets 409, not a lost update
        let before = t.count("records").await;
        let (s, e, _) = t
            .req(
                "POST",
                &format!("/api/patients/{pid}/levels"),
                Some(json!({"value": 2.0, "unit": "mmol/L", "time": 4.0, "supersedes": lid})),
                Some(&ann),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{e}");
        // and one who read version 3 before the correction gets 409 too
        let (s, _, _) = t
            .req(
                "POST",
                &format!("/api/patients/{pid}/levels"),
                Some(json!({"value": 2.0, "unit": "mmol/L", "time": 5.0, "expected_version": 3})),
                Some(&ann),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT);
        // If-Match works as well as expected_version
        let (s, _, _) = t
            .req_if_match(
                "POST",
                &format!("/api/patients/{pid}/levels"),
                json!({"value": 2.0, "unit": "mmol/L", "time": 5.0}),
                &ann,
                2,
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert_eq!(
            t.count("records").await,
            before,
            "nothing stored on conflict"
        );

        // bad input: a 4xx naming the field; nothing stored
        for (body, field) in [
            (json!({"value": 2.0, "unit": "mg/L", "time": 5.0}), "unit"),
            (
                json!({"value": -1.0, "unit": "mmol/L", "time": 5.0}),
                "value",
            ),
            (
                json!({"value": 2.0, "unit": "mmol/L", "time": "yesterday"}),
                "time",
            ),
            (json!({"value": 2.0, "unit": "mmol/L"}), "time"),
            (
                json!({"value": "two", "unit": "mmol/L", "time": 1}),
                "value",
            ),
        ] {
            let (s, e, _) = t
                .req(
                    "POST",
                    &format!("/api/patients/{pid}/levels"),
                    Some(body.clone()),
                    Some(&ann),
                )
                .await;
            assert!(s.is_client_error(), "{body}: {s}");
            assert_eq!(e["error"]["field"], json!(field), "{body}: {e}");
        }
        let (s, e, _) = t
            .req(
                "POST",
                &format!("/api/patients/{pid}/orders"),
                Some(json!({"regimen": "4 kg over 20 min"})),
                Some(&ann),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert_eq!(e["error"]["field"], json!("regimen"));
        let (s, e, _) = t
            .req(
                "POST",
                "/api/patients",
                Some(json!({"name": "X", "weight_kg": -3})),
                Some(&ann),
            )
            .await;
        assert_eq!(
            (s, e["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("weight_kg"))
        );
        assert_eq!(
            t.count("records").await,
            before,
            "nothing stored on bad input"
        );

        // the order correction path: supersedes the order; a second correction of the same order conflicts
        // (and the forecast, cached by patient version, follows the new order)
        let (_, f0, _) = t
            .req(
                "GET",
                &format!("/api/patients/{pid}/forecast"),
                None,
                Some(&ann),
            )
            .await;
        assert_eq!(f0["order_id"], json!(order_id));
        let (s, o2, _) = t.req("POST", &format!("/api/patients/{pid}/orders"), Some(json!({"regimen": "4 g over 20 min, then 2 g/h for 24 h", "protocol": "zuspan", "supersedes": order_id})), Some(&ann)).await;
        assert_eq!(s, StatusCode::CREATED, "{o2}");
        let (s, _, _) = t
            .req(
                "POST",
                &format!("/api/patients/{pid}/orders"),
                Some(json!({"regimen": ZUSPAN, "supersedes": order_id})),
                Some(&ann),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT);
        let (_, f, _) = t
            .req(
                "GET",
                &format!("/api/patients/{pid}/forecast"),
                None,
                Some(&ann),
            )
            .await;
        assert_eq!(
            f["order_id"], o2["record"]["id"],
            "the forecast follows the current order"
        );
        assert!(t.db.verify_audit().await.unwrap().first_broken.is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forecast_and_tdm_are_the_libraries_answers() {
    use mgiv_clinical::adjust::{safe_adjust, AdjustRequest};
    use mgiv_clinical::context::ClinicalContext;
    use mgiv_pop::tdm::Level;
    for b in backends().await {
        let t = T::new(&b).await;
        t.user("pat", "pharmacist", "ward-a").await;
        let w = t.login("pat").await;
        let pid = t.admit(&w).await;
        let (s, _, _) = t
            .req(
                "POST",
                &format!("/api/patients/{pid}/orders"),
                Some(json!({"regimen": ZUSPAN, "protocol": "zuspan"})),
                Some(&w),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, f, _) = t
            .req(
                "GET",
                &format!("/api/patients/{pid}/forecast"),
                None,
                Some(&w),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{f}");
        // the same patient through mgiv-clinical directly gives the same curve
        let p = mgiv_server::service::PatientIn {
            name: "x".into(),
            weight_kg: Some(70.0),
            age_y: Some(30.0),
            sex: Some("f".into()),
            creatinine_mg_dl: Some(0.8),
            pregnant: true,
            pre_eclampsia: true,
            indication: Some("pre-eclampsia".into()),
            ..Default::default()
        };
        let ci =
            mgiv_server::service::context_input(&p, Some("pre-eclampsia"), Some("zuspan")).unwrap();
        let (ctx, plan) =
            mgiv_clinical::scenario::clinical_plan(&ci, Some(ZUSPAN.into()), vec![], vec![], None)
                .unwrap();
        let pts = f["points"].as_array().unwrap();
        assert_eq!(pts.len(), plan.simulation.times_h.len());
        for (p, (t_h, c)) in pts.iter().zip(
            plan.simulation
                .times_h
                .iter()
                .zip(&plan.simulation.serum_mmol_l),
        ) {
            // JSON text round trip: equal to the last bits serde_json keeps
            assert!((p["time_h"].as_f64().unwrap() - *t_h).abs() <= 1e-12 * t_h.abs().max(1.0));
            assert!((p["serum_mmol_l"].as_f64().unwrap() - *c).abs() <= 1e-12 * c.abs().max(1.0));
        }
        assert_eq!(
            f["target_mmol_l"],
            json!([ctx.target.lo_mmol_l, ctx.target.hi_mmol_l])
        );
        assert_eq!(f["toxic_mmol_l"], json!(ctx.thresholds.toxic_mmol_l));
        for (v, tm) in [(1.6, 4.0), (1.9, 10.0)] {
            let (s, _, _) = t
                .req(
                    "POST",
                    &format!("/api/patients/{pid}/levels"),
                    Some(json!({"value": v, "unit": "mmol/L", "time": tm})),
                    Some(&w),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED);
        }
        let (s, a, _) = t
            .req(
                "POST",
                &format!("/api/patients/{pid}/adjust"),
                Some(json!({})),
                Some(&w),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{a}");
        let rec = &a["record"];
        // the library, called directly with the same inputs
        let ctx = ClinicalContext::build(&ci).unwrap();
        let req = AdjustRequest {
            given: mgiv_core::regimen::Regimen::from_text(ZUSPAN, Some(70.0)).unwrap(),
            levels: vec![Level::mmol_l(4.0, 1.6), Level::mmol_l(10.0, 1.9)],
            now_h: Some(10.0),
            horizon_h: 24.0,
            max_p_toxic: 0.05,
            allow_maintenance: false,
            bag: ctx
                .protocol
                .and_then(|p| p.bag.as_deref())
                .map(|b| mgiv_safety::bag::parse_bag(b).unwrap()),
            conditions: vec![],
            medications: vec![],
        };
        let direct = safe_adjust(&ctx, &req).unwrap();
        assert_eq!(
            rec["body"]["adjustment"]["recommendation"],
            serde_json::to_value(&direct.recommendation).unwrap()
        );
        assert_eq!(rec["body"]["status"], json!("proposed"));
        // accept: a new version superseding the proposal; accepting it again conflicts
        let rid = rec["id"].as_str().unwrap();
        let (s, acc, _) = t
            .req(
                "POST",
                &format!("/api/patients/{pid}/recommendations/{rid}/accept"),
                Some(json!({})),
                Some(&w),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{acc}");
        assert_eq!(acc["record"]["body"]["status"], json!("accepted"));
        assert_eq!(acc["record"]["supersedes"], json!(rid));
        let (s, _, _) = t
            .req(
                "POST",
                &format!("/api/patients/{pid}/recommendations/{rid}/accept"),
                Some(json!({})),
                Some(&w),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_order_needs_an_audited_override() {
    for b in backends().await {
        let t = T::new(&b).await;
        t.user("ann", "clinician", "ward-a").await;
        let ann = t.login("ann").await;
        let pid = t.admit(&ann).await;
        // 40 g as a loading dose is the classic ten-fold error: a STOP
        let body = json!({"regimen": "40 g over 20 min", "indication": "pre-eclampsia"});
        let before = t.count("records").await;
        let (s, e, _) = t
            .req(
                "POST",
                &format!("/api/patients/{pid}/orders"),
                Some(body.clone()),
                Some(&ann),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert_eq!(e["error"]["field"], json!("override_stop_reason"));
        assert!(e["error"]["details"]["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["severity"] == json!("stop")));
        assert_eq!(t.count("records").await, before);
        let mut b2 = body.clone();
        b2["override_stop_reason"] = json!("test of the override path");
        let (s, o, _) = t
            .req(
                "POST",
                &format!("/api/patients/{pid}/orders"),
                Some(b2),
                Some(&ann),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{o}");
        assert_eq!(o["stop"], json!(true));
        use sqlx::Row;
        let row =
            sqlx::query("SELECT actor, detail FROM audit WHERE action = 'order.stop-override'")
                .fetch_one(&t.db.pool)
                .await
                .unwrap();
        assert_eq!(row.get::<String, _>(0), "ann");
        assert!(row
            .get::<String, _>(1)
            .contains("test of the override path"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_chain_names_the_first_edited_or_deleted_entry() {
    for tamper in ["update", "delete-middle", "delete-last"] {
        for b in backends().await {
            let t = T::new(&b).await;
            t.user("ann", "clinician", "ward-a").await; // audit 1
            let ann = t.login("ann").await; // 2: sign-in
            let pid = t.admit(&ann).await; // 3
            t.req(
                "POST",
                &format!("/api/patients/{pid}/orders"),
                Some(json!({"regimen": ZUSPAN, "protocol": "zuspan"})),
                Some(&ann),
            )
            .await; // 4
            t.req(
                "POST",
                &format!("/api/patients/{pid}/levels"),
                Some(json!({"value": 1.8, "unit": "mmol/L", "time": 4.0})),
                Some(&ann),
            )
            .await; // 5
            let c = t.db.verify_audit().await.unwrap();
            assert_eq!(
                (c.entries, c.first_broken.is_none()),
                (5, true),
                "{}: {c:?}",
                b.name
            );
            use sqlx::Row;
            let actions: Vec<String> = sqlx::query("SELECT action FROM audit ORDER BY seq")
                .fetch_all(&t.db.pool)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>(0))
                .collect();
            assert_eq!(
                actions,
                [
                    "user.add",
                    "sign-in",
                    "patient.admit",
                    "order.add",
                    "level.add"
                ]
            );
            let (sql, seq) = match tamper {
                "update" => (
                    "UPDATE audit SET detail = '{\"value\":9.9}' WHERE seq = 3",
                    3,
                ),
                "delete-middle" => ("DELETE FROM audit WHERE seq = 2", 2),
                _ => ("DELETE FROM audit WHERE seq = 5", 5),
            };
            sqlx::query(sql).execute(&t.db.pool).await.unwrap();
            let c = t.db.verify_audit().await.unwrap();
            let broken = c
                .first_broken
                .unwrap_or_else(|| panic!("{} {tamper}: not detected", b.name));
            assert_eq!(broken.seq, seq, "{} {tamper}: {}", b.name, broken.why);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_anonymous_and_wrong_roles() {
    use mgiv_server::auth::ALL_ROLES;
    use mgiv_server::routes::{Access, Kind, ROUTES};
    for b in backends().await {
        let t = T::new(&b).await;
        for (n, r) in [
            ("cli", "clinician"),
            ("pha", "pharmacist"),
            ("adm", "admin"),
        ] {
            t.user(n, r, "ward-a").await;
        }
        let who = [
            t.login("cli").await,
            t.login("pha").await,
            t.login("adm").await,
        ];
        let pid = t.admit(&who[0]).await;
        let mut checked = 0;
        for r in ROUTES {
            let path = r.path.replace("{id}", &pid).replace("{rid}", "r0");
            let body = (r.method == "POST").then(|| json!({}));
            match r.access {
                Access::Public => {
                    let (s, _, _) = t.req(r.method, &path, body.clone(), None).await;
                    assert_ne!(s, StatusCode::UNAUTHORIZED, "{} {}", r.method, r.path);
                }
                Access::Roles(roles) => {
                    let (s, _, h) = t.req(r.method, &path, body.clone(), None).await;
                    match r.kind {
                        Kind::Api => assert_eq!(
                            s,
                            StatusCode::UNAUTHORIZED,
                            "anonymous {} {}",
                            r.method,
                            r.path
                        ),
                        Kind::Page => {
                            assert_eq!(
                                s,
                                StatusCode::SEE_OTHER,
                                "anonymous {} {}",
                                r.method,
                                r.path
                            );
                            assert_eq!(h.get("location").unwrap(), "/login");
                        }
                    }
                    for (i, role) in ALL_ROLES.iter().enumerate() {
                        // signing out ends the session: use a throw-away one
                        let w = if r.path.ends_with("logout") {
                            t.login(["cli", "pha", "adm"][i]).await
                        } else {
                            who[i].clone()
                        };
                        let (s, _, _) = t.req(r.method, &path, body.clone(), Some(&w)).await;
                        if roles.contains(role) {
                            assert!(
                                s != StatusCode::UNAUTHORIZED && s != StatusCode::FORBIDDEN,
                                "{role:?} {} {}: {s}",
                                r.method,
                                r.path
                            );
                        } else {
                            assert_eq!(
                                s,
                                StatusCode::FORBIDDEN,
                                "{role:?} {} {}",
                                r.method,
                                r.path
                            );
                        }
                    }
                    // a state-changing request without the CSRF token is refused
                    if r.method == "POST" {
                        let allowed = ALL_ROLES.iter().position(|x| roles.contains(x)).unwrap();
                        let bad = Who {
                            token: who[allowed].token.clone(),
                            csrf: "0".repeat(64),
                            cookie: String::new(),
                        };
                        let (s, e, _) = t.req(r.method, &path, body.clone(), Some(&bad)).await;
                        assert_eq!(
                            s,
                            StatusCode::FORBIDDEN,
                            "no CSRF {} {}: {e}",
                            r.method,
                            r.path
                        );
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked >= 20, "only {checked} protected routes");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patients_are_scoped_to_a_team() {
    for b in backends().await {
        let t = T::new(&b).await;
        t.user("ann", "clinician", "ward-a").await;
        t.user("bob", "clinician", "ward-b").await;
        let (ann, bob) = (t.login("ann").await, t.login("bob").await);
        let pid = t.admit(&ann).await;
        let (_, l, _) = t.req("GET", "/api/patients", None, Some(&bob)).await;
        assert_eq!(l["patients"].as_array().unwrap().len(), 0);
        let (_, l, _) = t.req("GET", "/api/patients", None, Some(&ann)).await;
        assert_eq!(l["patients"].as_array().unwrap().len(), 1);
        for (m, p, body) in [
            ("GET", format!("/api/patients/{pid}"), None),
            ("GET", format!("/api/patients/{pid}/forecast"), None),
            (
                "POST",
                format!("/api/patients/{pid}/levels"),
                Some(json!({"value": 1.0, "unit": "mmol/L", "time": 1})),
            ),
            ("GET", format!("/patients/{pid}"), None),
            ("GET", format!("/api/fhir/Observation?patient={pid}"), None),
        ] {
            let (s, _, _) = t.req(m, &p, body, Some(&bob)).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{m} {p}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_is_rate_limited_and_cookies_are_locked_down() {
    let b = &backends().await[0];
    let t = T::new(b).await;
    t.user("ann", "clinician", "ward-a").await;
    let w = t.login("ann").await;
    assert!(
        w.cookie.contains("HttpOnly")
            && w.cookie.contains("SameSite=Strict")
            && !w.cookie.contains("Secure"),
        "{}",
        w.cookie
    );
    for _ in 0..mgiv_server::auth::MAX_FAILURES {
        let (s, _, _) = t
            .req(
                "POST",
                "/api/login",
                Some(json!({"username": "ann", "password": "wrong-password-x"})),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let (s, e, _) = t
        .req(
            "POST",
            "/api/login",
            Some(json!({"username": "ann", "password": "a-long-password-1"})),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{e}");
    // a non-loopback server marks the cookie Secure
    let st = mgiv_server::AppState::new(t.db.clone(), true);
    assert!(mgiv_server::api::session_cookie(&st, "x", 1).contains("; Secure"));
    // the password is stored only as an argon2id hash, and never in the audit log or an export
    use sqlx::Row;
    let h: String = sqlx::query("SELECT password_hash FROM users")
        .fetch_one(&t.db.pool)
        .await
        .unwrap()
        .get(0);
    assert!(h.starts_with("$argon2id$"));
    let all: Vec<String> = sqlx::query("SELECT detail FROM audit")
        .fetch_all(&t.db.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect();
    assert!(
        all.iter()
            .all(|d| !d.contains("a-long-password-1") && !d.contains("argon2")),
        "{all:?}"
    );
    let ex = t.db.export().await.unwrap().to_string();
    assert!(!ex.contains("argon2") && !ex.contains("a-long-password-1"));
    // sessions are stored as hashes: the cookie's token is not in the table
    let toks: Vec<String> = sqlx::query("SELECT token_sha256 FROM sessions")
        .fetch_all(&t.db.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect();
    assert!(!toks.contains(&w.token));
    assert!(toks.contains(&mgiv_server::auth::token_sha256(&w.token)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fhir_observations_in_and_out() {
    for b in backends().await {
        let t = T::new(&b).await;
        t.user("ann", "clinician", "ward-a").await;
        let w = t.login("ann").await;
        let pid = t.admit(&w).await;
        let obs = |code: &str, v: f64, unit: &str, when: &str| {
            json!({"resourceType": "Observation", "id": "lab-1", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]}, "subject": {"reference": format!("Patient/{pid}")},
            "effectiveDateTime": when, "valueQuantity": {"value": v, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}})
        };
        // no order yet: the time cannot be placed
        let (s, e, _) = t
            .req(
                "POST",
                "/api/fhir/Observation",
                Some(obs("19123-9", 4.8, "mg/dL", "2026-11-30T12:00:00Z")),
                Some(&w),
            )
            .await;
        assert_eq!(
            (s, e["resourceType"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("OperationOutcome"))
        );
        t.req(
            "POST",
            &format!("/api/patients/{pid}/orders"),
            Some(json!({"regimen": ZUSPAN, "protocol": "zuspan", "start": "2026-11-30T08:00:00Z"})),
            Some(&w),
        )
        .await;
        let (s, o, _) = t
            .req(
                "POST",
                "/api/fhir/Observation",
                Some(obs("19123-9", 4.8, "mg/dL", "2026-11-30T12:00:00Z")),
                Some(&w),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{o}");
        let (s, _, _) = t
            .req(
                "POST",
                "/api/fhir/Observation",
                Some(obs("2600-5", 0.9, "mmol/L", "2026-11-30T13:30:00+01:00")),
                Some(&w),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        let (_, p, _) = t
            .req("GET", &format!("/api/patients/{pid}"), None, Some(&w))
            .await;
        let lv: Vec<&serde_json::Value> = p["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["kind"] == json!("level"))
            .collect();
        assert_eq!(lv.len(), 2);
        assert!((lv[0]["body"]["mmol_l"].as_f64().unwrap() - 4.8 / 2.4305).abs() < 1e-9);
        assert_eq!(lv[0]["body"]["time_h"], json!(4.0));
        assert_eq!(lv[1]["body"]["analyte"], json!("ionised"));
        assert_eq!(
            lv[1]["body"]["time_h"],
            json!(4.5),
            "13:30+01:00 is 12:30Z, 4.5 h after 08:00Z"
        );
        // only the total level feeds the TDM
        let recs = t.db.records(&pid).await.unwrap();
        assert_eq!(mgiv_server::service::tdm_levels(&recs).len(), 1);
        // foreign and malformed observations: 4xx OperationOutcome, nothing stored
        let before = t.count("records").await;
        for (bad, expr) in [
            (
                obs("2951-2", 140.0, "mmol/L", "2026-11-30T12:00:00Z"),
                "Observation.code",
            ),
            (
                obs("2601-3", 2.0, "mg/dL", "2026-11-30T12:00:00Z"),
                "Observation.valueQuantity.code",
            ),
            (
                obs("2601-3", 2.0, "mmol/L", "2026-11-29T12:00:00Z"),
                "Observation.effectiveDateTime",
            ),
        ] {
            let (s, e, _) = t
                .req("POST", "/api/fhir/Observation", Some(bad), Some(&w))
                .await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
            assert_eq!(e["resourceType"], json!("OperationOutcome"));
            assert_eq!(e["issue"][0]["expression"][0], json!(expr));
        }
        assert_eq!(t.count("records").await, before);
        let (s, bundle, _) = t
            .req(
                "GET",
                &format!("/api/fhir/Observation?patient={pid}"),
                None,
                Some(&w),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            (
                bundle["resourceType"].as_str(),
                bundle["type"].as_str(),
                bundle["total"].as_u64()
            ),
            (Some("Bundle"), Some("searchset"), Some(2))
        );
        let first = &bundle["entry"][0]["resource"];
        assert_eq!(
            first["code"]["coding"][0]["code"],
            json!("2601-3"),
            "served in mmol/L under the moles/volume code"
        );
        assert_eq!(first["valueQuantity"]["code"], json!("mmol/L"));
        assert_eq!(
            first["effectiveDateTime"],
            json!("2026-11-30T12:00:00.000Z")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_lists_every_api_route() {
    let b = &backends().await[0];
    let t = T::new(b).await;
    let (s, doc, _) = t.req("GET", "/api/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for r in mgiv_server::routes::ROUTES
        .iter()
        .filter(|r| r.kind == mgiv_server::routes::Kind::Api)
    {
        let op = &doc["paths"][r.path][r.method.to_ascii_lowercase()];
        assert!(op.is_object(), "{} {} missing", r.method, r.path);
        if let Some(body) = r.body {
            assert!(
                doc["components"]["schemas"][body].is_object(),
                "schema {body}"
            );
        }
    }
    assert!(doc["components"]["schemas"]["LevelIn"]["required"]
        .as_array()
        .unwrap()
        .contains(&json!("unit")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_and_forms_need_the_csrf_field() {
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let b = &backends().await[0];
    let t = T::new(b).await;
    t.user("ann", "clinician", "ward-a").await;
    let w = t.login("ann").await;
    let pid = t.admit(&w).await;
    let form = |path: &str, body: String| {
        axum::http::Request::builder()
            .method("POST")
            .uri(path)
            .header("cookie", format!("mgiv_session={}", w.token))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap()
    };
    let regimen =
        "regimen=4+g+over+20+min%2C+then+1+g%2Fh+for+24+h&protocol=zuspan&bag=40+g+in+1000+mL";
    // without the form's csrf field: refused, nothing stored
    let r = t
        .app
        .clone()
        .oneshot(form(
            &format!("/patients/{pid}/orders"),
            regimen.to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(t.count("records").await, 0);
    let r = t
        .app
        .clone()
        .oneshot(form(
            &format!("/patients/{pid}/orders"),
            format!("{regimen}&csrf={}", w.csrf),
        ))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(t.count("records").await, 1);
    let (s, page, h) = t
        .req("GET", &format!("/patients/{pid}"), None, Some(&w))
        .await;
    assert_eq!(s, StatusCode::OK);
    let html = page["text"].as_str().unwrap();
    for needle in [
        "<table class=\"pump\">",
        "<td class=\"pump-rate\">300.0</td>",
        "<td class=\"pump-rate\">25.0</td>",
        "<svg class=\"forecast\"",
        "ul class=\"alerts\"",
        "Evidence grade",
        &format!("name=\"csrf\" value=\"{}\"", w.csrf),
    ] {
        assert!(html.contains(needle), "missing {needle}");
    }
    // every value is escaped: a name with markup shows as text
    let (_, p2, _) = t.req("POST", "/api/patients", Some(json!({"name": "<script>x</script>", "weight_kg": 70.0, "indication": "pre-eclampsia", "pre_eclampsia": true})), Some(&w)).await;
    let (_, ward, _) = t.req("GET", "/", None, Some(&w)).await;
    let ward = ward["text"].as_str().unwrap();
    assert!(
        ward.contains("&lt;script&gt;x&lt;/script&gt;") && !ward.contains("<script>x"),
        "{p2}"
    );
    assert!(h
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    let (s, rep, _) = t
        .req("GET", &format!("/patients/{pid}/report"), None, Some(&w))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(rep["text"]
        .as_str()
        .unwrap()
        .contains("<article class=\"report\">"));
    let css = t
        .app
        .clone()
        .oneshot(
            axum::http::Request::builder()
                .uri("/assets/style.css")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let css = css.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&css).contains("@media print"));
}
